import pytest
from django.core.exceptions import ValidationError

from tests.webapp.serving_standin import NO_ADAPTER, QUALITY_PROBLEMS
from webapp.compose import services
from webapp.compose.models import Generation
from webapp.compose.serving_client import ServingUnavailable


def test_prompt_create_validates_text_links_and_options(user):
    prompt = services.prompt_create(
        user=user,
        text="  Postgres for RAG ",
        links_text="https://a.example/x\n\nhttps://a.example/x\n",
        options={"length": "short", "tone": "bold", "hashtags": False},
    )
    assert prompt.text == "Postgres for RAG" and prompt.links == ["https://a.example/x"]
    assert prompt.options == {"length": "short", "tone": "bold", "hashtags": False}
    for kwargs, field in [
        ({"text": " "}, "text"),
        ({"text": "x" * 5000}, "text"),
        ({"text": "ok", "links_text": "javascript:alert(1)"}, "links"),
        ({"text": "ok", "links_text": "\n".join(f"https://e.com/{i}" for i in range(6))}, "links"),
        ({"text": "ok", "options": {"length": "epic"}}, "length"),
    ]:
        with pytest.raises(ValidationError) as excinfo:
            services.prompt_create(user=user, **kwargs)
        assert field in excinfo.value.message_dict


def test_links_in_a_prompt_become_web_sources_the_pipeline_collects(user):
    """Serving reads a pasted link only for the request; the web app keeps it (material the user
    shared, collected by the next twin_collect like any web source)."""
    services.prompt_create(
        user=user, text="On retrieval", links_text="https://a.example/x\nhttps://b.example/paper.pdf"
    )
    services.prompt_create(user=user, text="Again", links_text="https://a.example/x")
    assert sorted(user.sources.values_list("platform", "url")) == [
        ("web", "https://a.example/x"),
        ("web", "https://b.example/paper.pdf"),
    ]


def test_payload_maps_options(user):
    prompt = services.prompt_create(user=user, text="Boring tech", options={"length": "long", "tone": "reflective"})
    payload = services.serving_payload(prompt)
    assert payload["user"] == user.pk and payload["max_new_tokens"] == services.LENGTHS["long"]
    assert payload["prompt"].startswith("Boring tech\n\n(Tone: reflective.") and "hashtags" in payload["prompt"]
    assert payload["links"] == [] and payload["k"] == 5


def test_generate_saves_everything_serving_returned(user, serving):
    prompt = services.prompt_create(user=user, text="Postgres for RAG", links_text="https://bad.example/x")
    generation = services.generate(prompt=prompt)
    assert generation.user == user and generation.post.startswith("Three things")
    assert generation.sources[0]["title"] == "Postgres is enough for RAG"
    assert generation.links == [{"url": "https://bad.example/x", "status": "failed", "error": "HTTP 404"}]
    assert generation.model["base"] == "tiny-local" and generation.model["test_model"] is True
    assert generation.timings["generate_ms"] == 140.2 and generation.trace["generated_tokens"] == 42
    assert generation.status == Generation.WRITTEN and generation.quality["passed"] is True and not generation.error
    assert not generation.used_adapter and generation.fallback_reason == NO_ADAPTER


def test_generate_stream_ends_with_the_saved_generation(user, serving):
    prompt = services.prompt_create(user=user, text="Postgres for RAG")
    items = list(services.generate_stream(prompt=prompt))
    assert isinstance(items[-1], Generation) and items[-1].pk
    assert "".join(item.text for item in items[:-1]) == items[-1].post


def test_serving_down_keeps_the_prompt_and_saves_no_generation(user, serving_down):
    prompt = services.prompt_create(user=user, text="Postgres for RAG")
    with pytest.raises(ServingUnavailable):
        services.generate(prompt=prompt)
    assert prompt.pk and not prompt.generations.exists()


def test_edit_and_rate(user, serving):
    generation = services.generate(prompt=services.prompt_create(user=user, text="x"))
    services.generation_update(generation=generation, edited_post="My better version\r\nof it", rating=4)
    generation.refresh_from_db()
    assert generation.edited_post == "My better version\nof it" and generation.rating == 4 and generation.edited_at
    assert generation.final_post == generation.edited_post and generation.post.startswith("Three things")
    services.generation_update(generation=generation, edited_post=generation.post)  # back to the original
    generation.refresh_from_db()
    assert generation.edited_post == "" and generation.edited_at is None and generation.rating == 4
    with pytest.raises(ValidationError):
        services.generation_update(generation=generation, rating=9)


def test_a_generation_that_failed_the_quality_check_is_stored_as_failed_without_a_post(user, serving):
    serving.set_mode("quality_failed")
    prompt = services.prompt_create(user=user, text="Postgres for RAG")
    generation = services.generate(prompt=prompt)
    assert generation.failed and generation.status == Generation.FAILED and generation.post == ""
    assert generation.error.startswith("The twin could not write a post that passes the quality check: ")
    assert all(problem in generation.error for problem in QUALITY_PROBLEMS)
    assert generation.quality_problems == QUALITY_PROBLEMS and generation.quality["attempts"] == 3
    assert generation.model["base"] == "tiny-local" and generation.trace  # kept for the record
    with pytest.raises(ValidationError):
        services.generation_update(generation=generation, edited_post="my own", rating=5)
    streamed = list(services.generate_stream(prompt=prompt))[-1]
    assert isinstance(streamed, Generation) and streamed.failed and streamed.post == ""


def test_model_and_source_properties_follow_the_response(user, serving):
    prompt = services.prompt_create(user=user, text="Postgres for RAG", links_text="https://example.com/a")
    serving.set_mode("adapter")
    with_adapter = services.generate(prompt=prompt)
    assert with_adapter.used_adapter and with_adapter.fallback_reason == "" and not with_adapter.is_test_model
    assert [s["url"] for s in with_adapter.link_sources] == ["https://example.com/a"]
    assert len(with_adapter.retrieval_sources) == 2
    serving.set_mode("legacy")  # an older serving: no quality, adapter_used, notice or origin
    legacy = services.generate(prompt=prompt)
    assert legacy.status == Generation.WRITTEN and legacy.quality == {}
    assert not legacy.used_adapter and legacy.fallback_reason == "no personal adapter yet" and legacy.model_notice == ""
    assert legacy.link_sources == [] and len(legacy.retrieval_sources) == 3
