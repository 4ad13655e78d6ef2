import json

from django.urls import reverse

from webapp.compose.models import Generation, Prompt
from webapp.compose.services import generate, prompt_create

FORM = {"text": "Postgres for RAG", "links": "https://example.com/paper", "length": "medium", "tone": "", "hashtags": "on"}


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
    response = user_client.post(reverse("compose:generation_update", args=[generation.pk]),
                                {"edited_post": "Shorter, in my words.", "rating": "5"})
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
    assert user_client.post(reverse("compose:generation_update", args=[generation.pk]), {"rating": "1"}).status_code == 404
    assert "secret draft" not in user_client.get(reverse("compose:index")).content.decode()
    generation.refresh_from_db()
    assert generation.rating is None and len(serving.requests) == 1
