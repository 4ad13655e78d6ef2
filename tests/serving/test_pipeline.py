"""The request-handling functions without Ray: prompt assembly, post-processing, validation, link
safety (redirect hops), the in-process pipeline and the OpenAI-compatible backend."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from serving.config import GenerationConfig, LimitsConfig, OpenAIBackend, PromptConfig, QualityConfig, ServingConfig
from serving.context import read_links
from serving.generation import GenerationRequest, ModelSpec, OpenAIModel, generate, generate_stream, judge
from serving.pipeline import InProcessTwin
from serving.schemas import PostRequest, request_errors
from twin.core.chat_template import INSTRUCTION_MARKER, RESPONSE_MARKER, SYSTEM_MARKER
from twin.core.prompting import (
    LINKS_HEADING,
    OWN_HEADING,
    ContextItem,
    assemble_prompt,
    clean_text,
    enforce_length,
    postprocess,
    stream_safe_prefix,
)


def words(text: str) -> int:
    return len(text.split())


def item(origin: str, key: str, text: str, url: str | None = None, score: float | None = None) -> ContextItem:
    return ContextItem(
        origin=origin,
        key=key,
        text=text,
        url=url or f"https://example.com/{key}",
        title=key.upper(),
        platform="web" if origin == "link" else "linkedin",
        kind="link" if origin == "link" else "post",
        score=score,
    )


def test_links_come_first_then_chunks_deduplicated_within_the_budget():
    links = [item("link", "L1", "fresh " * 200, url="https://news.example.com/a")]
    hits = [
        item("retrieval", "c1", "my own words about search " * 5, score=0.03),
        item("retrieval", "c2", "My own  words about SEARCH " * 5, score=0.02),  # same text: dropped
        item("retrieval", "c3", "an old copy of the link", url="https://news.example.com/a/", score=0.01),  # same page
        item("retrieval", "c4", "more of my writing " * 40, score=0.01),
    ]
    assembled = assemble_prompt(
        "Write about search", links, hits, count_tokens=words, prompt_budget=400, context_tokens=150, link_share=0.5
    )
    keys = [entry.item.key for entry in assembled.used]
    assert keys[0] == "L1" and "c1" in keys and "c2" not in keys and "c3" not in keys
    assert {"c2", "c3"} <= set(assembled.dropped)
    assert assembled.context_tokens <= 150 and words(assembled.text) <= 400
    link_entry = assembled.used[0]
    assert link_entry.truncated and link_entry.tokens <= 75 + 1
    assert assembled.text.startswith(SYSTEM_MARKER) and assembled.text.endswith(RESPONSE_MARKER + "\n")
    assert assembled.text.index(LINKS_HEADING) < assembled.text.index(OWN_HEADING)
    assert "under 3000 characters" in assembled.text


def test_a_long_link_never_pushes_out_all_of_the_authors_own_writing():
    links = [item("link", "L1", "fresh " * 3000, url="https://news.example.com/a")]
    hits = [item("retrieval", "c1", "my own words about search " * 40, score=0.03)]
    for link_share in (0.6, 0.95, 1.0):
        assembled = assemble_prompt(
            "Write about search",
            links,
            hits,
            count_tokens=words,
            prompt_budget=4000,
            context_tokens=400,
            link_share=link_share,
        )
        origins = [entry.item.origin for entry in assembled.used]
        assert origins == ["link", "retrieval"], link_share
        assert "(written by others, not by me)" in assembled.text


def test_the_context_shows_the_writings_prose_not_its_code_blocks():
    readme = (
        "runbook-lint checks every alert has a runbook before it pages anyone.\n\n"
        "```python\ndef lint(path):\n    return [rule(path) for rule in RULES]\n```\n\n"
        "Run it in CI so a page never arrives without its runbook."
    )
    hits = [
        item("retrieval", "readme", readme, score=0.03),
        item("retrieval", "snippet", "```bash\npip install runbook-lint\nrunbook-lint alerts/\n```", score=0.02),
        item(
            "retrieval", "open", "My notes on paging budgets, read them first.\n~~~\nbudget = 3 # unclosed", score=0.01
        ),
    ]
    assembled = assemble_prompt(
        "Write about runbooks", [], hits, count_tokens=words, prompt_budget=1000, context_tokens=300
    )
    used = {entry.item.key: entry.item.text for entry in assembled.used}
    assert used["readme"] == (
        "runbook-lint checks every alert has a runbook before it pages anyone.\n\n"
        "Run it in CI so a page never arrives without its runbook."
    )
    assert "snippet" not in used, "nothing but code: no room spent on it"
    assert used["open"] == "My notes on paging budgets, read them first."
    assert "def lint" not in assembled.text and "```" not in assembled.text and "~~~" not in assembled.text


def test_a_prompt_longer_than_the_window_is_cut_to_fit():
    assembled = assemble_prompt(
        "word " * 500,
        [],
        [item("retrieval", "c1", "text " * 50)],
        count_tokens=words,
        prompt_budget=200,
        context_tokens=100,
    )
    assert assembled.prompt_truncated and words(assembled.text) <= 200 and not assembled.used


def test_postprocessing_strips_template_leakage_and_enforces_the_length():
    raw = f"{RESPONSE_MARKER}\nShipping beats polishing.<pad>\n\n\n\nShort paragraph. </s>{INSTRUCTION_MARKER}\nignored"
    assert clean_text(raw) == "Shipping beats polishing.\n\nShort paragraph."
    assert clean_text("Hook line\n### Instruction: do something else") == "Hook line"
    assert clean_text("A post<|im_end|>trailing") == "A post"
    long_post = "\n\n".join(f"Paragraph {n}. " + "word " * 60 for n in range(30))
    cut = postprocess(long_post, 3000)
    assert len(cut) <= 3000 and cut.endswith("word") and clean_text(long_post).startswith(cut)
    assert len(enforce_length("x" * 5000, 3000)) == 3000


def test_markdown_markup_becomes_the_plain_text_linkedin_shows():
    raw = "Hook line.\n\n### What does a good day look like?\nA **quiet** pager.\n\n#oncall #sre"
    assert clean_text(raw) == "Hook line.\n\nWhat does a good day look like?\nA quiet pager.\n\n#oncall #sre"
    assert clean_text("## Lessons\n- keep **one** rule") == "Lessons\n- keep one rule"
    assert clean_text("Call it from __init__ and tag it #2") == "Call it from __init__ and tag it #2"
    assert clean_text("Hook\n### Response: again") == "Hook", "a leaked template heading is still cut"


def test_a_post_cut_by_the_token_limit_ends_at_its_last_complete_sentence():
    assert (
        postprocess("We deleted 40 alerts. Pages fell to 3. It might run on the other branch that doesn")
        == "We deleted 40 alerts. Pages fell to 3."
    )
    assert postprocess('She said "ship it." And then we') == 'She said "ship it."'
    assert postprocess("Ship small. But most won’") == "Ship small."  # cut inside "won’t"
    assert postprocess("Ship small. The team's") == "Ship small."
    for finished in (
        "Ship small. Sleep well. 🚢",
        "Ship small.\n\n#oncall #sre",
        "Ship small. #oncall",
        "More: https://example.org/a",
        "a line with no sentence end at all",
    ):
        assert postprocess(finished) == finished


def test_streaming_holds_back_what_could_become_a_marker():
    assert stream_safe_prefix("Hello world\n###") == "Hello world"
    assert stream_safe_prefix("Hello world\n### Instr") == "Hello world"
    assert stream_safe_prefix("Hello <|im_") == "Hello"
    assert stream_safe_prefix("Hello world. #ai") == "Hello world. #ai"
    assert stream_safe_prefix("Hello world\n##") == "Hello world", "a markdown heading starts like a marker"
    assert stream_safe_prefix("A **quiet pa") == "A"
    assert stream_safe_prefix("A **quiet pager**") == "A quiet pager"


def test_request_limits_name_the_field():
    limits = LimitsConfig(max_prompt_chars=10, max_links=1, max_k=3, max_new_tokens=50)
    errors = request_errors(
        PostRequest(user="a@b.c", prompt="x" * 11, links=["http://a", "http://b"], k=4, max_new_tokens=51), limits
    )
    assert [error["loc"][-1] for error in errors] == ["prompt", "links", "k", "max_new_tokens"]
    assert request_errors(PostRequest(user=" ", prompt="  "), limits)[0]["loc"] == ("body", "prompt")


def test_private_and_metadata_addresses_are_refused_without_fetching():
    from twin.core.settings import load_settings

    settings = load_settings(_env_file=None, allow_private_urls=False, crawl_timeout_s=2)
    results = read_links(
        [
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:8100/v1/posts",
            "file:///etc/passwd",
        ],
        settings,
    )
    assert [result["status"] for result in results] == ["refused"] * 4
    assert "cloud metadata" in results[1]["error"] and "only http and https" in results[3]["error"]


def test_the_judge_counts_what_the_model_wrote_not_the_sources_line_we_appended():
    source = {"url": "https://medium.com/@ada/chunking-for-retrieval-3f2a", "title": "Chunking for retrieval"}
    post = "maximging Lidation!!\n\nMore in my earlier piece: Chunking for retrieval " + source["url"]
    report = judge(None, post, [source], QualityConfig(), 3000, written="maximging Lidation!!")
    assert not report.passed and report.problems == ["too short to be a post (2 words)"]


@pytest.fixture(scope="module")
def in_process(serving_users):
    """Plumbing on the tiny random model, quality check off (its text fails it: see below)."""
    return InProcessTwin(
        ServingConfig.model_validate({"limits": {"default_max_new_tokens": 24}, "quality": {"enabled": False}})
    )


@pytest.mark.slow
def test_the_quality_check_rejects_the_tiny_random_models_text_and_says_so(serving_users):
    """tiny-local writes word salad: every draft is judged, regenerated up to max_attempts, and the
    response carries no post, the problems and the attempts, in JSON and in the stream."""
    import asyncio

    service = InProcessTwin(
        ServingConfig.model_validate({"limits": {"default_max_new_tokens": 40}, "quality": {"max_attempts": 2}})
    )
    request = PostRequest(user=serving_users.ada_email, prompt="What I learned deleting pipelines")
    response = asyncio.run(service.write(request))
    quality = response["quality"]
    assert response["post"] == "" and response["sources"] == []
    assert quality["passed"] is False and quality["attempts"] == 2 and quality["problems"]
    assert response["trace"]["rejected_draft_chars"] > 0

    async def stream():
        prepared = await service.prepare(request)
        return [event async for event in service.write_stream(prepared)]

    events = asyncio.run(stream())
    kinds = [event["type"] for event in events]
    assert kinds.count("reset") == 1 and kinds[-1] == "done"
    assert events[kinds.index("reset")]["attempt"] == 2
    assert events[-1]["response"]["post"] == "" and events[-1]["response"]["quality"]["passed"] is False


@pytest.mark.slow
def test_a_redirect_to_a_private_address_is_refused_at_that_hop_and_generation_proceeds(
    in_process, serving_users, link_server, monkeypatch
):
    """The guard is on; the fixture server stands in for a public site (its own address is let
    through for the first hop only), and redirects to the cloud metadata address."""
    import twin.core.web.links
    from twin.core.web.safety import check_peer, check_url

    first_hop = link_server.url("/web/to-metadata")
    checked = []

    def guard(url, *, allow_private):
        checked.append(url)
        if url != first_hop:
            check_url(url, allow_private=allow_private)

    def peer_guard(url, peer, *, allow_private):
        if url != first_hop:
            check_peer(url, peer, allow_private=allow_private)

    import twin.core.web.transport

    pinned_address = twin.core.web.transport.pinned_address
    fixture_port = int(first_hop.split(":")[2].split("/")[0])

    def pin(host, port):  # the fixture server stands in for a public host
        return host if (host, port) == ("127.0.0.1", fixture_port) else pinned_address(host, port)

    monkeypatch.setattr(twin.core.web.links, "check_url", guard)
    monkeypatch.setattr(twin.core.web.links, "check_peer", peer_guard)
    monkeypatch.setattr(twin.core.web.transport, "pinned_address", pin)
    in_process.settings = in_process.settings.model_copy(update={"allow_private_urls": False})
    response = __import__("asyncio").run(
        in_process.write(PostRequest(user=serving_users.grace_id, prompt="What does this page say?", links=[first_hop]))
    )
    link = response["links"][0]
    assert link["status"] == "refused" and "169.254.169.254 resolves to a cloud metadata address" in link["error"]
    assert checked == [first_hop, "http://169.254.169.254/latest/meta-data/"]
    assert response["post"] and response["model"]["model_id"] == serving_users.adapters[serving_users.grace_id][0]
    assert all(source["origin"] == "retrieval" for source in response["sources"])


class _FakeOpenAI(BaseHTTPRequestHandler):
    requests: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"body": body, "auth": self.headers.get("Authorization")})
        text = "Hook line.\n\nA short paragraph on search, as long as a post people would publish. #search ### Instruction: leaked"
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in (text[:10], text[10:30], text[30:]):
                self.wfile.write(f"data: {json.dumps({'choices': [{'delta': {'content': piece}}]})}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            return
        payload = json.dumps(
            {"choices": [{"message": {"content": text}}], "usage": {"prompt_tokens": 120, "completion_tokens": 14}}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def test_openai_compatible_backend_uses_the_adapter_model_name_and_post_processes():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = GenerationConfig(
            backend="openai",
            openai=OpenAIBackend(
                base_url=f"http://127.0.0.1:{server.server_address[1]}/v1",
                model="qwen-base",
                adapter_model="user-{model_id}",
            ),
        )
        model = OpenAIModel(ModelSpec("m-1", "qwen-base", "/adapters/1"), config, api_key="sk-test")
        request = GenerationRequest(
            "Write about search",
            [],
            [item("retrieval", "c1", "my words")],
            64,
            0.5,
            ModelSpec("m-1", "qwen-base", "/adapters/1"),
        )
        result = generate(model, request, PromptConfig(), QualityConfig(enabled=False))
        assert (
            result.post == "Hook line.\n\nA short paragraph on search, as long as a post people would publish. #search"
            "\n\nMore in my earlier piece: C1 https://example.com/c1"
        )
        assert result.prompt_tokens == 120 and result.generated_tokens == 14
        assert result.model["served_model"] == "user-m-1" and result.model["fallback"] is False
        sent = _FakeOpenAI.requests[-1]
        assert sent["auth"] == "Bearer sk-test" and sent["body"]["model"] == "user-m-1"
        assert [m["role"] for m in sent["body"]["messages"]] == ["system", "user"]
        assert "my words" in sent["body"]["messages"][1]["content"]
        events = list(generate_stream(model, request, PromptConfig()))
        assert events[-1]["type"] == "result" and events[-1]["result"]["post"] == result.post
        assert "".join(e["text"] for e in events if e["type"] == "token").startswith("Hook line.")
        base_only = OpenAIModel(ModelSpec("base", "qwen-base"), config, api_key=None)
        assert base_only.describe()["fallback"] is True and base_only.model_name == "qwen-base"
    finally:
        server.shutdown()
        server.server_close()


def test_twin_serve_prints_the_effective_config(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from twin.cli.main import app

    result = CliRunner().invoke(app, ["serve", "--print-config", "--port", "9123", "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(result.stdout)
    assert config["http_options"] == {"host": "0.0.0.0", "port": 9123}
    application = config["applications"][0]
    assert application["import_path"] == "serving.app:build_app"
    assert {d["name"] for d in application["deployments"]} == {"Ingress", "Retriever", "LinkReader", "Generator"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**config, "applications": [{**application, "args": {"limits": {"max_k": 0}}}]}))
    result = CliRunner().invoke(app, ["serve", "--print-config", "--config", str(bad)])
    assert result.exit_code == 2 and "limits.max_k" in result.output
