"""The serving client over real HTTP against the stand-in (same contract as the Ray Serve app)."""

import pytest

from tests.webapp.serving_standin import TOKEN, StandInServing
from twin.core.ports import free_port
from webapp.compose.serving_client import ServingClient, ServingError, ServingRejected, ServingUnavailable, _parse_sse

PAYLOAD = {
    "user": 7,
    "prompt": "Postgres for RAG",
    "links": ["https://example.com/a"],
    "k": 5,
    "max_new_tokens": 200,
    "temperature": 0.7,
}


@pytest.fixture
def standin():
    with StandInServing() as server:
        yield server


def test_create_post_sends_the_contract_with_a_user_token(standin):
    response = ServingClient(standin.url, TOKEN).create_post(PAYLOAD)
    assert response["post"].startswith("Three things")
    assert [source["origin"] for source in response["sources"]] == ["link", "retrieval", "retrieval"]
    assert response["quality"]["passed"] is True and response["model"]["test_model"] is True
    assert response["links"] == [{"url": "https://example.com/a", "status": "ok", "error": None}]
    sent = standin.requests[-1]
    assert sent["token_user"] == "7" and TOKEN not in sent["headers"]["Authorization"]
    assert sent["body"] == {**PAYLOAD, "stream": False}


def test_each_request_carries_a_fresh_token_for_its_own_user(standin):
    client = ServingClient(standin.url, TOKEN)
    client.create_post(PAYLOAD)
    client.create_post({**PAYLOAD, "user": 8})
    first, second = standin.requests[-2:]
    assert (first["token_user"], second["token_user"]) == ("7", "8")
    assert first["headers"]["Authorization"] != second["headers"]["Authorization"]


def test_stream_yields_tokens_then_the_final_response(standin):
    events = list(ServingClient(standin.url, TOKEN).stream_post(PAYLOAD))
    tokens = [event.text for event in events if event.kind == "token"]
    final = events[-1]
    assert final.kind == "final" and "".join(tokens) == final.response["post"]
    assert standin.requests[-1]["body"]["stream"] is True


def test_wrong_token_unknown_user_and_invalid_field_are_rejected(standin):
    with pytest.raises(ServingRejected, match="TWIN_SERVING_TOKEN") as excinfo:
        ServingClient(standin.url, "wrong").create_post(PAYLOAD)
    assert excinfo.value.status_code == 401
    with pytest.raises(ServingRejected, match="does not know this user"):
        ServingClient(standin.url, TOKEN).create_post({**PAYLOAD, "user": 404})
    with pytest.raises(ServingRejected, match="prompt: String should") as excinfo:
        ServingClient(standin.url, TOKEN).create_post({**PAYLOAD, "prompt": " "})
    assert excinfo.value.field == "prompt" and excinfo.value.status_code == 422


def test_serving_not_ready_or_not_running_is_unavailable(standin):
    standin.set_mode("down")
    with pytest.raises(ServingUnavailable, match="not ready .*503.*database unavailable"):
        ServingClient(standin.url, TOKEN).create_post(PAYLOAD)
    with pytest.raises(ServingUnavailable, match="not ready"):
        list(ServingClient(standin.url, TOKEN).stream_post(PAYLOAD))
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServingUnavailable, match="not reachable .*twin serve"):
        ServingClient(closed, TOKEN).create_post(PAYLOAD)
    with pytest.raises(ServingUnavailable, match="not reachable"):
        list(ServingClient(closed, TOKEN).stream_post(PAYLOAD))


def test_a_stream_that_ends_early_is_an_error(standin):
    standin.set_mode("break")
    with pytest.raises(ServingError, match="stream ended early"):
        list(ServingClient(standin.url, TOKEN).stream_post(PAYLOAD))


def test_sse_parser_accepts_common_shapes():
    lines = [
        ": keep-alive",
        "",
        'data: {"text": "Hel"}',
        "",
        "event: token",
        'data: {"delta": "lo"}',
        "",
        "data: plain",
        "",
        "event: done",
        'data: {"post": "Hello", "sources": []}',
        "",
        "data: [DONE]",
        "",
    ]
    events = list(_parse_sse(iter(lines)))
    assert [e.text for e in events if e.kind == "token"] == ["Hel", "lo", "plain"]
    assert events[-1].kind == "final" and events[-1].response["post"] == "Hello"
    with pytest.raises(ServingError, match="out of memory"):
        list(_parse_sse(iter(["event: error", 'data: {"error": "out of memory"}', ""])))


def test_a_reset_event_says_the_draft_so_far_failed_the_quality_check():
    lines = [
        "event: token",
        'data: {"text": "word salad"}',
        "",
        "event: reset",
        'data: {"problems": ["not fluent (perplexity 900 > 250)"], "attempt": 2}',
        "",
        "event: token",
        'data: {"text": "A real post."}',
        "",
        "event: done",
        'data: {"post": "A real post.", "sources": [], "links": [], "model": {}}',
        "",
    ]
    events = list(_parse_sse(iter(lines)))
    assert [event.kind for event in events] == ["token", "reset", "token", "final"]
    assert events[1].problems == ("not fluent (perplexity 900 > 250)",)
    assert events[3].response["post"] == "A real post."
