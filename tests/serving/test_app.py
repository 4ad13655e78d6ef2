"""The real Serve application on a local Ray: API, adapters (multiplexing), links, auth, errors."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.slow

ARTICLE_URL = "https://fieldnotes.example.org/2024/02/retrieval-is-a-search-problem/"


def post(app, body: dict, secret: str | None = None, timeout: float = 120) -> httpx.Response:
    return httpx.post(f"{app.url}/v1/posts", json=body, headers=app.headers(body["user"], secret), timeout=timeout)


def user_urls(engine, user_id: int) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(sa.text("select source_url from marts.documents where user_id = :u"), {"u": user_id}).scalars()
        )


def test_post_is_written_with_the_users_adapter_from_their_own_sources(serve_app, serving_users, engine):
    response = post(
        serve_app,
        {
            "user": serving_users.ada_email.upper(),
            "prompt": "Why hybrid search beats pure vector search",
            "k": 4,
            "max_new_tokens": 40,
            "temperature": 0.8,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body["post"], str) and 0 < len(body["post"]) <= 3000
    assert "###" not in body["post"] and "</s>" not in body["post"]
    own = user_urls(engine, serving_users.ada_id)
    assert body["sources"] and all(source["url"] in own for source in body["sources"])
    assert all(source["origin"] == "retrieval" and source["snippet"] for source in body["sources"])
    model_id, adapter_dir = serving_users.adapters[serving_users.ada_id]
    assert body["model"]["adapter"] == adapter_dir and body["model"]["model_id"] == model_id
    assert body["model"]["fallback"] is False and body["model"]["adapter_used"] is True
    assert body["model"]["base"] == "tiny-local" and body["model"]["test_model"] is True
    assert "random-weight test model" in body["model"]["notice"], "a served test model says so"
    assert set(body["timings"]) >= {"retrieve_ms", "links_ms", "generate_ms", "total_ms"}
    trace = body["trace"]
    assert trace["user_id"] == serving_users.ada_id and trace["retrieved"] and trace["prompt_tokens"] > 0
    assert 0 < trace["generated_tokens"] <= 40
    assert {hit["chunk_id"] for hit in trace["retrieved"] if hit["used"]}


def test_each_user_gets_their_own_adapter_or_the_base_model(serve_app, serving_users):
    seen = {}
    for user in (
        serving_users.grace_id,
        str(serving_users.newcomer_id),
        serving_users.ada_email,
        serving_users.grace_id,
    ):
        response = post(serve_app, {"user": user, "prompt": "What shipping early taught me", "max_new_tokens": 16})
        assert response.status_code == 200, response.text
        seen[str(user)] = response.json()
    grace = seen[str(serving_users.grace_id)]["model"]
    assert (grace["model_id"], grace["adapter"]) == serving_users.adapters[serving_users.grace_id]
    ada = seen[serving_users.ada_email]["model"]
    assert (ada["model_id"], ada["adapter"]) == serving_users.adapters[serving_users.ada_id]
    newcomer = seen[str(serving_users.newcomer_id)]
    assert newcomer["model"]["fallback"] is True and newcomer["model"]["adapter"] is None
    assert newcomer["model"]["base"] == "tiny-local" and newcomer["model"]["model_id"] is None
    assert newcomer["model"]["fallback_reason"].startswith("no adapter yet")
    assert all(source["url"].startswith("https://www.linkedin.com/posts/newcomer_") for source in newcomer["sources"])
    health = httpx.get(f"{serve_app.url}/healthz", timeout=30).json()
    assert health["status"] == "ok" and health["database"] == "ok"
    loaded = set(health["model"]["loaded_models"])
    assert {
        serving_users.adapters[serving_users.ada_id][0],
        serving_users.adapters[serving_users.grace_id][0],
        "base",
    } <= loaded


def test_new_links_are_read_and_used_but_serving_stores_nothing(serve_app, serving_users, link_server, engine):
    """Serving is stateless: a pasted link serves this request; keeping it is the web app's job
    (a web source the pipeline collects), so raw.* gets no row from serving."""
    links = [link_server.url("/web/moved"), link_server.url("/web/paper.pdf"), link_server.url("/web/missing")]
    response = post(
        serve_app,
        {
            "user": serving_users.grace_id,
            "prompt": "What this article says about retrieval",
            "links": links,
            "max_new_tokens": 24,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    article, paper, missing = body["links"]
    assert article["status"] == "ok" and article["source_url"] == ARTICLE_URL and "stored" not in article
    assert paper["status"] == "ok" and paper["kind"] == "paper"
    assert missing["status"] == "error" and "404" in missing["error"]
    by_url = {source["url"]: source for source in body["sources"]}
    assert by_url[ARTICLE_URL]["origin"] == "link" and "Teams spend weeks" in by_url[ARTICLE_URL]["snippet"]
    assert body["sources"][0]["origin"] == "link"  # new links come first
    own = user_urls(engine, serving_users.grace_id)
    assert all(s["url"] in own for s in body["sources"] if s["origin"] == "retrieval")
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("select count(*) from raw.documents where user_id = :u and source_url = :url"),
            {"u": serving_users.grace_id, "url": ARTICLE_URL},
        ).scalar()
    assert stored == 0


def test_streaming_sends_tokens_then_the_full_response(serve_app, serving_users):
    events = []
    with httpx.stream(
        "POST",
        f"{serve_app.url}/v1/posts",
        headers=serve_app.headers(serving_users.ada_email),
        timeout=120,
        json={"user": serving_users.ada_email, "prompt": "A post about chunking", "stream": True, "max_new_tokens": 32},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((event, json.loads(line[5:])))
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "done" and "token" in kinds and "error" not in kinds
    streamed = "".join(data["text"] for kind, data in events if kind == "token")
    final = events[-1][1]
    assert streamed.strip() and 0 < len(final["post"]) <= 3000
    assert final["model"]["adapter"] == serving_users.adapters[serving_users.ada_id][1]
    assert final["sources"] and final["trace"]["generated_tokens"] > 0


def test_auth_is_enforced(serve_app, serving_users):
    body = {"user": serving_users.ada_email, "prompt": "hello"}
    assert httpx.post(f"{serve_app.url}/v1/posts", json=body, timeout=30).status_code == 401
    wrong = post(serve_app, body, secret="not-the-token")
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    from twin.core.user_tokens import sign_user_token

    expired = sign_user_token(serve_app.token, serving_users.ada_email, issuer="tests", now=time.time() - 600)
    response = httpx.post(
        f"{serve_app.url}/v1/posts", json=body, headers={"Authorization": f"Bearer {expired}"}, timeout=30
    )
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_the_service_secret_alone_names_no_user(serve_app, serving_users):
    """The shared secret sent as a bearer (the old contract) is refused: only a signed user token names a user."""
    bare = {"Authorization": f"Bearer {serve_app.token}"}
    for user in (serving_users.ada_email, serving_users.grace_id):
        response = httpx.post(
            f"{serve_app.url}/v1/posts", json={"user": user, "prompt": "hello"}, headers=bare, timeout=30
        )
        assert response.status_code == 401, response.text
        assert "signed user token is required" in response.json()["detail"]


def test_a_token_for_one_user_never_reads_another_users_chunks(serve_app, serving_users, engine):
    ada_token = serve_app.headers(serving_users.ada_email)
    for grace in (serving_users.grace_id, str(serving_users.grace_id)):
        response = httpx.post(
            f"{serve_app.url}/v1/posts",
            headers=ada_token,
            timeout=60,
            json={"user": grace, "prompt": "What shipping early taught me", "max_new_tokens": 8},
        )
        assert response.status_code == 403, response.text
        assert "another user" in response.json()["detail"]
    # without a user in the body the token's user is served: Ada's chunks, never Grace's
    response = httpx.post(
        f"{serve_app.url}/v1/posts",
        headers=ada_token,
        timeout=120,
        json={"prompt": "What shipping early taught me", "max_new_tokens": 8, "k": 8},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    ada_urls, grace_urls = user_urls(engine, serving_users.ada_id), user_urls(engine, serving_users.grace_id)
    assert body["trace"]["user_id"] == serving_users.ada_id
    assert body["sources"] and {source["url"] for source in body["sources"]} <= ada_urls
    assert not {source["url"] for source in body["sources"]} & grace_urls
    assert httpx.get(f"{serve_app.url}/docs", timeout=30).status_code == 200
    schema = httpx.get(f"{serve_app.url}/openapi.json", timeout=30).json()
    assert "/v1/posts" in schema["paths"] and "/healthz" in schema["paths"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "x" * 2001}, "prompt"),
        ({"links": [f"https://example.com/{n}" for n in range(6)]}, "links"),
        ({"k": 0}, "k"),
        ({"k": 21}, "k"),
        ({"temperature": 3}, "temperature"),
        ({"prompt": None}, "prompt"),
    ],
)
def test_invalid_requests_are_422_naming_the_field(serve_app, serving_users, changes, field):
    body = {"user": serving_users.ada_email, "prompt": "hello", **changes}
    response = post(serve_app, {key: value for key, value in body.items() if value is not None})
    assert response.status_code == 422, response.text
    assert any(error["loc"][-1] == field for error in response.json()["detail"])


@pytest.mark.parametrize("user", ["nobody-at-all@example.com", "999999999999", "not a user"])
def test_unknown_user_is_404(serve_app, user):
    response = post(serve_app, {"user": user, "prompt": "hello"})
    assert response.status_code == 404 and "unknown user" in response.json()["detail"]


def test_private_addresses_are_refused_and_generation_proceeds(serve_app, serving_users, link_server):
    serve_app.set_links_policy(allow_private_urls=False)
    try:
        links = [
            link_server.url("/web/article.html"),
            "http://10.0.0.1/admin",
            "http://169.254.169.254/latest/meta-data/",
            link_server.url("/web/to-metadata"),
        ]
        response = post(
            serve_app,
            {"user": serving_users.ada_email, "prompt": "Summarise these", "links": links, "max_new_tokens": 16},
        )
    finally:
        serve_app.set_links_policy(allow_private_urls=True)
    assert response.status_code == 200, response.text
    body = response.json()
    results = body["links"]
    assert [link["status"] for link in results] == ["refused"] * 4
    assert "127.0.0.1 resolves to a loopback address" in results[0]["error"]
    assert "10.0.0.1 resolves to a private" in results[1]["error"]
    assert "169.254.169.254 resolves to a cloud metadata address" in results[2]["error"]
    assert (
        "127.0.0.1 resolves to a loopback" in results[3]["error"]
    )  # refused at the first hop (redirect hops: test_pipeline)
    assert body["post"] and all(source["origin"] == "retrieval" for source in body["sources"])


def test_database_down_is_503_with_the_reason(serve_app, serving_users, db_proxy):
    db_proxy.stop()
    try:
        response = post(serve_app, {"user": serving_users.ada_email, "prompt": "hello"})
        health = httpx.get(f"{serve_app.url}/healthz", timeout=30)
    finally:
        db_proxy.start()
    assert response.status_code == 503, response.text
    assert response.json()["detail"].startswith("database unavailable:")
    assert health.status_code == 503 and health.json()["database"].startswith("database unavailable")
    again = post(serve_app, {"user": serving_users.ada_email, "prompt": "hello again", "max_new_tokens": 8})
    assert again.status_code == 200, again.text


def test_the_web_apps_client_against_the_real_app(serve_app, serving_users):
    from webapp.compose.serving_client import ServingClient, ServingRejected

    client = ServingClient(serve_app.url, serve_app.token, timeout=120)
    payload = {"user": serving_users.ada_email, "prompt": "What I learned about hybrid search", "max_new_tokens": 16}
    answer = client.create_post(payload)
    assert answer["post"].strip() and answer["model"]["adapter"]
    assert answer["sources"] and all(source["url"] for source in answer["sources"])

    events = list(client.stream_post(payload))
    assert events[-1].kind == "final" and events[-1].response["post"].strip()
    assert any(event.kind == "token" for event in events[:-1])

    with pytest.raises(ServingRejected) as excinfo:
        ServingClient(serve_app.url, "wrong-token").create_post(payload)
    assert excinfo.value.status_code == 401
