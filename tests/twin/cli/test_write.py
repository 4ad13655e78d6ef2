"""``twin write``: through the serving app (the web tests' stand-in, same contract) and in this
process (the real pipeline against the test database, with the retriever and generator faked so
no model is loaded; the real models are covered by tests/serving)."""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from tests.webapp.serving_standin import NO_ADAPTER, QUALITY_PROBLEMS, TEST_MODEL_NOTICE, TOKEN, StandInServing
from twin.cli.main import app
from twin.core.ports import free_port

QUALITY_MESSAGE = "The twin could not write a post that passes the quality check"


@pytest.fixture
def twin_env(monkeypatch):
    """Set environment variables for the CLI's settings (read once per process: the cache is cleared)."""
    from twin.core.settings import get_settings

    def setenv(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield setenv
    monkeypatch.undo()
    get_settings.cache_clear()


def invoke(*args: str):
    return CliRunner().invoke(app, ["write", *args])


# --- through the serving app -------------------------------------------------------------------------


@pytest.fixture
def standin(twin_env):
    with StandInServing() as server:
        twin_env(TWIN_SERVING_URL=server.url, TWIN_SERVING_TOKEN=TOKEN)
        yield server


def test_writes_through_the_serving_app_with_sources_and_the_model(standin):
    result = invoke("--user", "ada@example.com", "--link", "https://example.com/a", "Postgres for RAG")
    assert result.exit_code == 0, result.stderr
    sent = standin.requests[-1]
    assert sent["token_user"] == "ada@example.com" and TOKEN not in sent["headers"]["Authorization"]
    assert sent["body"] == {
        "user": "ada@example.com",
        "prompt": "Postgres for RAG",
        "links": ["https://example.com/a"],
        "k": 5,
        "max_new_tokens": None,
    }
    out = result.stdout
    assert out.startswith("Three things I learned about postgres for rag.\n")
    assert (
        "Sources from your earlier writing:\n"
        "  Postgres is enough for RAG <https://www.linkedin.com/pulse/postgres-is-enough> (linkedin)\n"
        "  Why boring technology wins <https://ada.substack.com/p/boring> (substack)\n"
    ) in out
    assert "Sources from new links you shared:\n  Read from https://example.com/a <https://example.com/a> (web)" in out
    assert f"Model: tiny-local, without your adapter ({NO_ADAPTER})" in out
    assert f"Warning: {TEST_MODEL_NOTICE}" in out and "No earlier writing" not in out


def test_options_travel_and_the_adapter_line(standin):
    standin.set_mode("adapter")
    result = invoke(
        "-u",
        "ada@example.com",
        "--k",
        "3",
        "--max-new-tokens",
        "120",
        "--temperature",
        "0",
        "-l",
        "https://example.com/a",
        "-l",
        "https://bad.example/b",
        "Postgres for RAG",
    )
    assert result.exit_code == 0, result.stderr
    body = standin.requests[-1]["body"]
    assert body["k"] == 3 and body["max_new_tokens"] == 120 and body["temperature"] == 0
    assert body["links"] == ["https://example.com/a", "https://bad.example/b"]
    assert "Model: HuggingFaceTB/SmolLM2-135M-Instruct with your adapter (3f0c)" in result.stdout
    assert "Warning:" not in result.stdout
    assert "Links that could not be used:\n  https://bad.example/b: failed: HTTP 404" in result.stdout


def test_json_prints_exactly_the_response(standin):
    result = invoke("--user", "ada@example.com", "--json", "Postgres for RAG")
    assert result.exit_code == 0, result.stderr
    response = json.loads(result.stdout)  # nothing else on stdout
    assert set(response) == {"post", "sources", "links", "model", "quality", "timings", "trace"}
    assert response["model"]["test_model"] is True and response["quality"]["passed"] is True
    assert response["sources"][0]["origin"] == "retrieval"


def test_a_quality_failure_exits_3_with_the_problems(standin):
    standin.set_mode("quality_failed")
    result = invoke("--user", "ada@example.com", "Postgres for RAG")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert f"{QUALITY_MESSAGE} (after 3 attempts)." in result.stderr
    assert all(f"  - {problem}" in result.stderr for problem in QUALITY_PROBLEMS)
    as_json = invoke("--user", "ada@example.com", "--json", "Postgres for RAG")
    assert as_json.exit_code == 3 and json.loads(as_json.stdout)["quality"]["passed"] is False
    assert QUALITY_MESSAGE in as_json.stderr


def test_an_older_response_without_the_new_fields_still_prints(standin):
    standin.set_mode("legacy")
    result = invoke("--user", "ada@example.com", "Postgres for RAG")
    assert result.exit_code == 0, result.stderr
    assert "Model: tiny-local, without your adapter (no trained adapter yet)" in result.stdout
    assert "Sources from your earlier writing:" in result.stdout and "Warning" not in result.stdout


@pytest.mark.parametrize(
    "mode, args, message",
    [
        ("ok", ["--user", "unknown@example.com"], "unknown user unknown@example.com (create it with `twin user create"),
        (
            "down",
            ["--user", "ada@example.com"],
            "the serving app is unavailable: database unavailable: connection refused",
        ),
    ],
)
def test_serving_errors_are_one_line_and_exit_1(standin, mode, args, message):
    standin.set_mode(mode)
    result = invoke(*args, "Postgres for RAG")
    assert result.exit_code == 1 and result.stdout == ""
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_a_wrong_token_is_named(standin, twin_env):
    twin_env(TWIN_SERVING_TOKEN="wrong")
    result = invoke("--user", "ada@example.com", "Postgres for RAG")
    assert result.exit_code == 1 and "refused the user token" in result.stderr and "TWIN_SERVING_TOKEN" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--user", "ada@example.com", "  "], "PROMPT: the prompt is empty"),
        (
            ["--user", "ada@example.com", *[f"--link=https://e.com/{i}" for i in range(6)], "x"],
            "--link: 6 links; at most 5",
        ),
        (["--user", "ada@example.com", "--k", "21", "x"], "--k: at most 20"),
        (["--user", "ada@example.com", "--k", "0", "x"], "greater than or equal to 1"),  # typer's own range check
        (["x"], "--user"),
    ],
)
def test_bad_arguments_exit_2_before_asking_anyone(standin, args, message):
    result = invoke(*args)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert not standin.requests


# --- in this process ---------------------------------------------------------------------------------

HIT = {
    "chunk_id": "c1",
    "document_id": "d1",
    "text": "Hybrid search: vectors and keywords together.",
    "url": "https://medium.com/@ada/hybrid",
    "title": "Hybrid search",
    "platform": "medium",
    "kind": "article",
    "score": 0.0331,
    "vector_rank": 1,
    "keyword_rank": 2,
}
BASE_MODEL = {
    "backend": "transformers",
    "base": "tiny-local",
    "adapter": None,
    "model_id": None,
    "fallback": True,
    "fallback_reason": NO_ADAPTER,
}


@pytest.fixture(scope="module")
def cli_user(database_url) -> tuple[int, str]:
    from twin.core.users import create_user

    email = f"writer-{uuid.uuid4().hex[:8]}@example.com"
    user_id, _ = create_user(email, "correct horse battery staple", database_url)
    return user_id, email


@pytest.fixture
def no_models(monkeypatch, twin_env):
    """The in-process pipeline with the embedding model, retriever and generator faked; serving
    itself does not answer (a closed port)."""
    from serving.generation import GenerationResult
    from serving.pipeline import InProcessTwin

    calls = {"embedding": 0, "retrieve": [], "generate": []}

    def load_embedding_model(name):
        calls["embedding"] += 1
        return object()

    async def retrieve(self, user_id, query, k):
        calls["retrieve"].append((user_id, query, k))
        return [HIT]

    async def generate(self, request):
        calls["generate"].append(request)
        used = [{**item.to_dict(), "tokens": 12, "truncated": False} for item in [*request.links, *request.hits]]
        return GenerationResult(
            post=f"A post about {request.prompt}.",
            model=BASE_MODEL,
            used=used,
            prompt_tokens=100,
            context_tokens=12,
            generated_tokens=8,
            raw_chars=30,
        ).to_dict()

    monkeypatch.setattr("twin.core.embedding.load_embedding_model", load_embedding_model)
    monkeypatch.setattr(InProcessTwin, "retrieve", retrieve)
    monkeypatch.setattr(InProcessTwin, "generate", generate)
    twin_env(TWIN_SERVING_URL=f"http://127.0.0.1:{free_port()}")
    return calls


def test_writes_in_process_when_serving_does_not_answer(no_models, cli_user):
    user_id, email = cli_user
    result = invoke("--user", email, "--k", "4", "Hybrid search")
    assert result.exit_code == 0, result.stderr
    assert "does not answer" in result.stderr and "writing in this process" in result.stderr
    assert no_models["retrieve"] == [(user_id, "Hybrid search", 4)]
    assert result.stdout.startswith("A post about Hybrid search.\n")
    assert (
        "Sources from your earlier writing:\n  Hybrid search <https://medium.com/@ada/hybrid> (medium)" in result.stdout
    )
    assert f"Model: tiny-local, without your adapter ({NO_ADAPTER})" in result.stdout


def test_local_json_has_the_response_shape(no_models, cli_user):
    result = invoke("--user", cli_user[1], "--local", "--json", "Hybrid search")
    assert result.exit_code == 0, result.stderr
    response = json.loads(result.stdout)
    assert {"post", "sources", "links", "model", "timings", "trace"} <= set(response)
    assert response["post"] == "A post about Hybrid search."
    assert response["sources"] == [
        {
            "title": "Hybrid search",
            "url": "https://medium.com/@ada/hybrid",
            "platform": "medium",
            "kind": "article",
            "snippet": HIT["text"],
            "score": 0.0331,
            "origin": "retrieval",
        }
    ]
    assert response["model"]["base"] == "tiny-local" and response["trace"]["user_id"] == cli_user[0]
    assert "does not answer" not in result.stderr  # --local: serving was not asked


def test_local_forces_in_process_even_when_serving_answers(no_models, cli_user, twin_env):
    with StandInServing() as server:
        twin_env(TWIN_SERVING_URL=server.url, TWIN_SERVING_TOKEN=TOKEN)
        result = invoke("--user", cli_user[1], "--local", "Hybrid search")
        assert result.exit_code == 0, result.stderr
        assert not server.requests and len(no_models["generate"]) == 1


def test_in_process_unknown_user_fails_before_loading_models(no_models):
    result = invoke("--user", "nobody-here@example.com", "Hybrid search")
    assert result.exit_code == 1 and result.stdout == ""
    assert (
        "unknown user nobody-here@example.com (create it with `twin user create nobody-here@example.com`)"
        in result.stderr
    )
    assert no_models["embedding"] == 0 and not no_models["generate"]


def test_in_process_database_down_is_one_line(no_models, twin_env):
    twin_env(DATABASE_URL=f"postgresql://twin:twin@127.0.0.1:{free_port()}/twin")
    result = invoke("--user", "ada@example.com", "Hybrid search")
    assert result.exit_code == 1 and "database unavailable" in result.stderr
    assert "Traceback" not in result.stderr and no_models["embedding"] == 0
