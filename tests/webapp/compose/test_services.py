import pytest
from django.core.exceptions import ValidationError

from webapp.compose import services
from webapp.compose.serving_client import ServingUnavailable
from webapp.compose.models import Generation


def test_prompt_create_validates_text_links_and_options(user):
    prompt = services.prompt_create(user=user, text="  Postgres for RAG ", links_text="https://a.example/x\n\nhttps://a.example/x\n",
                                    options={"length": "short", "tone": "bold", "hashtags": False})
    assert prompt.text == "Postgres for RAG" and prompt.links == ["https://a.example/x"]
    assert prompt.options == {"length": "short", "tone": "bold", "hashtags": False}
    for kwargs, field in [({"text": " "}, "text"), ({"text": "x" * 5000}, "text"),
                          ({"text": "ok", "links_text": "javascript:alert(1)"}, "links"),
                          ({"text": "ok", "links_text": "\n".join(f"https://e.com/{i}" for i in range(6))}, "links"),
                          ({"text": "ok", "options": {"length": "epic"}}, "length")]:
        with pytest.raises(ValidationError) as excinfo:
            services.prompt_create(user=user, **kwargs)
        assert field in excinfo.value.message_dict


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
    assert generation.model == {"base": "tiny-local", "adapter": None} and generation.timings["generate_ms"] == 140.2
    assert generation.trace["generated_tokens"] == 42


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
