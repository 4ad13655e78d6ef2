import json

from django.urls import reverse

from tests.webapp.serving_standin import QUALITY_PROBLEMS, TEST_MODEL_NOTICE
from webapp.compose.models import Generation, Prompt
from webapp.compose.services import generate, prompt_create

FORM = {
    "text": "Postgres for RAG",
    "links": "https://example.com/paper",
    "length": "medium",
    "tone": "",
    "hashtags": "on",
}


def _events(response) -> list[tuple[str, dict]]:
    body = b"".join(response.streaming_content).decode()
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_compose_without_js_generates_and_shows_the_post(user_client, user, serving):
    response = user_client.post(reverse("compose:index"), FORM)
    prompt = Prompt.objects.get(user=user)
    assert response.status_code == 302 and response.url == reverse("compose:prompt", args=[prompt.pk])
    page = user_client.get(response.url).content.decode()
    assert "Three things I learned" in page and "Postgres is enough for RAG" in page
    assert "https://example.com/paper" in page and "Copy" in page and "Regenerate" in page
    assert serving.requests[-1]["body"]["links"] == ["https://example.com/paper"]


def test_compose_with_js_redirects_to_a_streaming_page(user_client, user, serving):
    response = user_client.post(reverse("compose:index"), {**FORM, "js": "1"})
    prompt = Prompt.objects.get(user=user)
    assert response.url == reverse("compose:prompt", args=[prompt.pk]) + "?generate=1"
    assert not serving.requests  # the page starts the stream
    assert 'data-autostart="1"' in user_client.get(response.url).content.decode()


def test_generate_streams_tokens_then_the_rendered_result(user_client, user, serving):
    prompt = prompt_create(user=user, text="Postgres for RAG")
    response = user_client.post(reverse("compose:generate", args=[prompt.pk]), HTTP_ACCEPT="text/event-stream")
    assert response["Content-Type"] == "text/event-stream" and response.streaming
    events = _events(response)
    tokens = "".join(data["text"] for name, data in events if name == "token")
    name, done = events[-1]
    generation = Generation.objects.get(prompt=prompt)
    assert name == "done" and done["generation_id"] == generation.pk and tokens == generation.post
    assert "Postgres is enough for RAG" in done["html"] and f'id="g{generation.pk}"' in done["html"]


def test_a_draft_that_failed_the_quality_check_is_reset_in_the_stream(user_client, user, serving):
    serving.set_mode("retry")
    prompt = prompt_create(user=user, text="Postgres for RAG")
    response = user_client.post(reverse("compose:generate", args=[prompt.pk]), HTTP_ACCEPT="text/event-stream")
    events = _events(response)
    names = [name for name, _ in events]
    reset = names.index("reset")
    assert events[reset][1]["problems"] == ["perplexity 912.4 is above the threshold 250.0"]
    generation = Generation.objects.get(prompt=prompt)
    assert "".join(data["text"] for name, data in events[:reset] if name == "token") == "word salad word"
    assert "".join(data["text"] for name, data in events[reset:] if name == "token") == generation.post
    assert "salad" not in generation.post and names[-1] == "done"


def test_regenerate_adds_a_generation(user_client, user, serving):
    prompt = prompt_create(user=user, text="Postgres for RAG")
    generate(prompt=prompt)
    response = user_client.post(reverse("compose:generate", args=[prompt.pk]))
    assert response.status_code == 302 and prompt.generations.count() == 2
    assert "Earlier post" in user_client.get(response.url).content.decode()


def test_serving_down_is_a_clear_message_and_the_prompt_is_kept(user_client, user, serving_down):
    response = user_client.post(reverse("compose:index"), FORM, follow=True)
    page = response.content.decode()
    assert "not reachable" in page and "Your prompt is saved" in page and "Postgres for RAG" in page
    prompt = Prompt.objects.get(user=user)
    assert not prompt.generations.exists()
    events = _events(user_client.post(reverse("compose:generate", args=[prompt.pk]), HTTP_ACCEPT="text/event-stream"))
    assert events[0][0] == "error" and "not reachable" in events[0][1]["message"]


def test_invalid_prompt_shows_errors(user_client, user, serving):
    response = user_client.post(reverse("compose:index"), {**FORM, "links": "not a link"})
    assert response.status_code == 400 and "Line 1 is not an http(s) link" in response.content.decode()
    assert not Prompt.objects.filter(user=user).exists()


def test_edit_and_rate_from_the_page(user_client, user, serving):
    generation = generate(prompt=prompt_create(user=user, text="x"))
    response = user_client.post(
        reverse("compose:generation_update", args=[generation.pk]),
        {"edited_post": "Shorter, in my words.", "rating": "5"},
    )
    generation.refresh_from_db()
    assert response.status_code == 302 and generation.edited_post == "Shorter, in my words." and generation.rating == 5
    page = user_client.get(reverse("compose:prompt", args=[generation.prompt_id])).content.decode()
    assert "Shorter, in my words." in page and "rated 5/5" in page
    history = user_client.get(reverse("compose:index")).content.decode()
    assert "rated 5/5" in history and "edited" in history


def test_another_users_prompts_and_generations_are_404(user_client, other_user, serving):
    prompt = prompt_create(user=other_user, text="Grace's secret draft")
    generation = generate(prompt=prompt)
    assert user_client.get(reverse("compose:prompt", args=[prompt.pk])).status_code == 404
    assert user_client.post(reverse("compose:generate", args=[prompt.pk])).status_code == 404
    assert user_client.post(reverse("compose:delete", args=[prompt.pk])).status_code == 404
    assert (
        user_client.post(reverse("compose:generation_update", args=[generation.pk]), {"rating": "1"}).status_code == 404
    )
    assert "secret draft" not in user_client.get(reverse("compose:index")).content.decode()
    generation.refresh_from_db()
    assert generation.rating is None and len(serving.requests) == 1


def test_the_post_says_which_model_wrote_it_and_warns_about_the_test_model(user_client, user, serving):
    prompt = prompt_create(user=user, text="Postgres for RAG")
    generate(prompt=prompt)
    page = user_client.get(reverse("compose:prompt", args=[prompt.pk])).content.decode()
    assert "Model: <b>tiny-local</b>, without your adapter (no adapter yet: this user has no trained adapter)" in page
    assert 'class="notice warning test-model"' in page and TEST_MODEL_NOTICE in page
    assert page.index("test-model") < page.index('class="post"')  # the warning comes before the text

    serving.set_mode("adapter")
    generate(prompt=prompt)
    page = user_client.get(reverse("compose:prompt", args=[prompt.pk])).content.decode()
    latest = page[page.index('class="card generation"') : page.index("Earlier post")]
    assert "Model: <b>HuggingFaceTB/SmolLM2-135M-Instruct</b> with your adapter" in latest and "3f0c" in latest
    assert "test-model" not in latest and "without your adapter" not in latest


def test_sources_are_labelled_by_origin_and_no_earlier_writing_only_when_none_was_used(user_client, user, serving):
    prompt = prompt_create(user=user, text="Postgres for RAG", links_text="https://example.com/paper")
    generate(prompt=prompt)
    page = user_client.get(reverse("compose:prompt", args=[prompt.pk])).content.decode()
    assert page.count("new link you shared") == 1 and page.count("your earlier writing") == 2
    assert "No earlier writing was used." not in page

    serving.set_mode("links_only")
    generate(prompt=prompt)
    page = user_client.get(reverse("compose:prompt", args=[prompt.pk])).content.decode()
    latest = page[page.index('class="card generation"') : page.index("Earlier post")]
    assert "No earlier writing was used. The post draws only on the new link you shared." in latest
    assert "Read from https://example.com/paper" in latest and "new link you shared" in latest
    assert "your earlier writing" not in latest


def test_a_quality_failure_is_shown_without_a_post_and_not_saved_as_one(user_client, user, serving):
    serving.set_mode("quality_failed")
    response = user_client.post(reverse("compose:index"), FORM, follow=True)
    page = response.content.decode()
    generation = Generation.objects.get(user=user)
    assert generation.failed and generation.post == ""
    assert "The twin could not write a post that passes the quality check" in page
    assert all(problem in page for problem in QUALITY_PROBLEMS) and "after 3 attempts" in page
    assert 'class="post"' not in page and "Edit and rate" not in page and "Copy" not in page
    assert TEST_MODEL_NOTICE in page and "Model: <b>tiny-local</b>" in page
    history = user_client.get(reverse("compose:index")).content.decode()
    assert "0 posts" in history

    events = _events(
        user_client.post(reverse("compose:generate", args=[generation.prompt_id]), HTTP_ACCEPT="text/event-stream")
    )
    name, done = events[-1]
    failed = Generation.objects.filter(user=user).order_by("-created_at").first()
    assert name == "done" and done["failed"] is True and done["generation_id"] == failed.pk and failed.failed
    assert "The twin could not write a post that passes the quality check" in done["html"]
    assert 'class="post"' not in done["html"]


def test_a_failed_attempt_after_a_post_keeps_the_post_in_full(user_client, user, serving):
    prompt = prompt_create(user=user, text="Postgres for RAG")
    written = generate(prompt=prompt)
    serving.set_mode("quality_failed")
    response = user_client.post(reverse("compose:generate", args=[prompt.pk]), follow=True)
    page = response.content.decode()
    assert page.index("could not write a post that passes") < page.index(f'id="post-{written.pk}"')
    assert "Edit and rate" in page and "Earlier post" not in page  # the last real post stays the full card
    response = user_client.post(
        reverse("compose:generation_update", args=[prompt.generations.first().pk]),
        {"edited_post": "mine", "rating": "5"},
        follow=True,
    )
    assert "did not produce a post" in response.content.decode()
