"""The post-quality gate: each rule fails on the garbage it is meant to catch, real posts pass, and
the fluency threshold still separates real human text from word salad under the shipped model."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from twin.core.post_quality import (
    FLUENCY_THRESHOLD,
    add_citations,
    check_post,
    citation_parts,
    cites,
    lasting_problems,
    text_perplexity,
)

ROOT = Path(__file__).resolve().parents[3]

POST = (
    "Our pager went off 3 times last month. A year ago it was 40.\n\n"
    "We didn't hire an SRE team and we didn't buy a tool. We did three boring things: every alert needs a "
    "runbook before it merges, every page gets marked actionable or not, and every alert that is not gets "
    "deleted that week.\n\nShip small. Sleep well."
)
# what the tiny random model wrote before issue 13 (quoted there)
ISSUE_SALAD = (
    "Ship small. What upstream team finished work, and the most thing to resolve, %(o. the pipeline "
    "rerun what team the most upstream thing finished, work resolve and the small team to what."
)
# what the shipped base model wrote for a new user under `twin up` (no adapter yet): a form letter
FORM_LETTER = (
    "Dear [Client].\n\n*It's great to meet you at [location]! *I hope this message finds you well.*\n\n"
    "To start off, I'm thrilled to share some incredible insights about [mentor_name]'s on-call rotations "
    "during a recent [month]. There's a lot of amazing work going on here, including "
    "[member_name's_work].\n\nWhat would you like to discuss?"
)
# more of what it wrote there, each passing the rules before they knew chat replies and invented links
CHAT_REPLIES = [
    "Your story is perfect. It brings together two stories that you've both written about things they didn't "
    "really write about themselves. Your story sounds just as compelling as someone else's.",
    "Hey there! 🌱\nHello! How have you been? I'm here to help inspire you. Whether you're looking to boost your "
    "online presence, improve your craft, or just want to chat, I'm here to help.",
    "What amazing story. Your first sentence captures the essence of your message so well. To expand on it further, "
    "let's explore some ways you can craft even more compelling posts.",
    "Fantastic update! It's great to hear that you have your own story as well. How do you feel about how on-call "
    "can make people unhappy? Also, if you haven't shared anything yet, I'd love to hear more about your experience.",
    "Your response should contain at least five sentences. The response must have exactly 5 sections minimum. "
    "At the end of your response, please explicitly add a postscript starting with P.S.",
    "Your posting touches the highlights of this incredible article. Please make sure to give me some space to "
    "think. Let's talk. Here's a sample text for you to get started.",
    # the shipped base model in the demo, for the alert-budgets prompt
    "They're called the blog, and the blog was created by a great guy named Eli Goldstein, and he loved it.\n\n"
    "I'll give you an answer to your question quickly:\n\nWhen you create a blog, you should consider having "
    "someone with you as a beta tester. We all start out doing different jobs.",
]
# A tuned twin in the demo (it learns code from the author's repositories): perplexity 23, fluent code.
CODE_POST = (
    "```python\ndef create_pullrequest(project, requestlist, listofdeprecatedchanges=None):\n"
    '    """Create pull request"""\n\nTODO\n    return {\n'
    "        'description': f\"Created pull request {taskname} ({{target}}), which includes `package`s,\n"
    '     * dependencies`, and any other changes."\n\n'
    "Source: Alert budgets: what 40 on-call teams learned from capping their pages https://example.com/alert-budgets"
)
UNFENCED_CODE_POST = (
    "Here is how we page now.\nimport alerts\nbudget = alerts.Budget(team='sre', pages_per_week=3)\n"
    "for alert in alerts.load('prod'):\n    budget.charge(alert)\nreturn budget.report()"
)
SNIPPET_POST = (
    "One line changed how our team handles retries. We made every job idempotent, and the pager went quiet.\n\n"
    "The whole trick:\n```\nINSERT ... ON CONFLICT (source_id) DO NOTHING\n```\n\n"
    "Run it twice, get the same table. That is what a rerun at 3 a.m. needs. What did your team change?\n\n"
    "#dataengineering #oncall"
)
INVENTED_LINKS = (
    "To create a new piece for this month's campaign, I'll start with: "
    "[post_id](https://www.facebook.com/nicebyjay87)\nToday marks the end of our month of 9 days! "
    "#Innovate #NetworkDevelopment #Networking"
)
SOURCE = {"url": "https://elenavarga.substack.com/p/idempotency-is-a-kindness", "title": "Idempotency is a kindness"}


def persona_posts(count: int = 8) -> list[str]:
    with open(ROOT / "demo/persona/linkedin/Shares.csv", encoding="utf-8-sig", newline="") as handle:
        posts = [row["ShareCommentary"] for row in csv.DictReader(handle)]
    return [post for post in posts if len(post.split()) >= 30][:count]


def shuffled(text: str, seed: int) -> str:
    words = text.split()
    random.Random(seed).shuffle(words)
    return " ".join(words)


def test_a_real_post_passes_the_rules():
    report = check_post(POST)
    assert report.passed, report.problems
    assert check_post(POST, perplexity=40.0).passed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ship small.", "too short"),
        (POST + " " + "x" * 3000, "too long"),
        (POST + "\n### Response:", "leaked template marker"),
        (POST + "<|im_end|>", "leaked template marker"),
        ("Passages from my earlier writing\n" + POST, "leaked template marker"),
        (POST.replace("boring", "bor\x00ing"), "control characters"),
        (POST.replace("Ship", "Sh\ufffdp"), "control characters"),
        (POST + " ship small and sleep well" * 5, "repetition loop"),
        (POST + ("\nEvery alert needs a runbook." * 3), "repetition loop"),
        (" ".join(["data pipeline on call"] * 20), "repetition loop"),
        (FORM_LETTER, "unfilled template placeholder '[Client]'"),
        (POST + "\n\nBest,\n[Your Name]", "unfilled template placeholder"),
        (POST.replace("last month", "in [month]"), "unfilled template placeholder"),
        (POST.replace("an SRE team", "a [team_name]"), "unfilled template placeholder"),
        (CODE_POST, "mostly code, not a post"),
        (UNFENCED_CODE_POST, "mostly code, not a post"),
    ],
)
def test_each_rule_fails_on_its_garbage(text, expected):
    report = check_post(text)
    assert not report.passed
    assert any(expected in problem for problem in report.problems), report.problems


@pytest.mark.parametrize("text", CHAT_REPLIES)
def test_a_chat_reply_to_the_writer_is_not_their_post(text):
    report = check_post(text)
    assert any("reads as a chat reply" in problem for problem in report.problems), report.problems


def test_a_link_to_a_site_the_context_did_not_name_is_invented():
    known = [SOURCE["url"], "https://example.com/alert-budgets"]
    report = check_post(INVENTED_LINKS, known_urls=known)
    assert "links to an address it was not given: https://www.facebook.com/nicebyjay87" in report.problems
    cited = POST + "\n\nMore: https://elenavarga.substack.com/p/another-post and https://www.example.com/x."
    assert check_post(cited, known_urls=known).passed  # the sites of its sources, any page
    assert check_post(INVENTED_LINKS).passed, "without known_urls the rule is skipped"
    assert check_post(POST, known_urls=[]).passed


def test_every_real_post_of_the_persona_and_the_control_author_passes_the_rules():
    """The rules are for machine failures: none of them may reject what people really wrote."""
    texts = _real_texts()
    assert len(texts) >= 10
    rejected = {
        text[:60]: check_post(text, max_chars=100_000).problems
        for text in texts
        if not check_post(text, max_chars=100_000).passed
    }
    assert rejected == {}


def _real_texts() -> list[str]:
    return persona_posts(count=100) + [
        json.loads(line)["text"] for line in (ROOT / "training/control/passages.jsonl").read_text().splitlines() if line
    ]


@pytest.mark.parametrize(
    ("draft", "expected"),
    [
        ("Your story is perfect. It brings", "reads as a chat reply"),
        (CHAT_REPLIES[1][:60], "reads as a chat reply"),  # "I'm here to help" on a finished line
        ("Ship small.\nBest,\n[Your Name]\n", "unfilled template placeholder"),
        ("Dear [Client].\n\nIt's great", "unfilled template placeholder"),
        ("Ship it. " + "ship small and sleep well. " * 4 + "ship", "repetition loop"),
        ("Passages from my earlier writing\nShip", "leaked template marker"),
    ],
)
def test_a_draft_is_rejected_while_written_once_a_settled_part_fails(draft, expected):
    assert any(expected in problem for problem in lasting_problems(draft)), lasting_problems(draft)
    assert any(expected in problem for problem in check_post(draft).problems), "a lasting problem stays in the post"


@pytest.mark.parametrize(
    "draft",
    [
        "Ship small. Sleep well. Write about [topic",  # the slot may still become a Markdown link's text
        "Ship small. Sleep well. Your story",  # not at the opening
        "Your sto",
        "Ship small and sleep well ship small and sleep well ship small and",  # no settled sentence yet
        "We did three boring things. Every alert needs a runbook; every page",
    ],
)
def test_a_draft_is_not_rejected_for_what_its_unsettled_tail_may_still_become(draft):
    assert lasting_problems(draft) == []


def test_a_drafts_link_is_judged_once_it_is_written_out():
    known = [SOURCE["url"]]
    invented = "More of this at https://www.facebook.com/nicebyjay87\nSee"
    assert lasting_problems(invented, known) == [
        "links to an address it was not given: https://www.facebook.com/nicebyjay87"
    ]
    assert lasting_problems(invented[:40], known) == []  # the address may still go on
    assert lasting_problems(f"More in {SOURCE['url']}.\n\nShip", known) == []
    assert lasting_problems(invented) == [], "without known_urls the rule is skipped"


def test_no_prefix_of_a_real_post_has_a_lasting_problem():
    """Serving stops a draft at a lasting problem: no real post may be stopped part way."""
    stopped = {}
    for text in [POST, SNIPPET_POST, *_real_texts()]:
        for end in range(40, len(text) + 1, 40):
            if problems := lasting_problems(text[:end]):
                stopped[text[:60]] = (end, problems)
                break
    assert stopped == {}


def test_a_post_with_a_short_snippet_is_still_a_post():
    report = check_post(SNIPPET_POST)
    assert report.passed, report.problems


@pytest.mark.parametrize(
    "text",
    [
        POST + "\n\nMore in [my notes on alerting](https://example.com/alerts).",  # a Markdown link
        POST + "\n\n[1] The SRE book, chapter 6.",  # a numbered reference
        POST.replace("Ship small.", "Ship small [and often]."),  # an aside
    ],
)
def test_brackets_that_are_not_template_slots_pass(text):
    report = check_post(text)
    assert report.passed, report.problems


def test_fluency_is_judged_by_perplexity_against_the_threshold():
    report = check_post(POST, perplexity=FLUENCY_THRESHOLD + 1)
    assert not report.passed and "not fluent" in report.problems[0]
    assert not check_post(POST, perplexity=float("nan")).passed
    assert check_post(POST, perplexity=FLUENCY_THRESHOLD - 1).passed


def test_a_post_must_cite_one_of_its_sources_and_citations_are_added_when_missing():
    assert "cites none of its sources" in check_post(POST, sources=[SOURCE]).problems
    assert cites(POST + " https://elenavarga.substack.com/p/idempotency-is-a-kindness/", [SOURCE])
    assert cites(POST + " As I wrote in Idempotency is a kindness, ...", [SOURCE])
    cited = add_citations(POST, [{**SOURCE, "origin": "link"}])
    assert cited.endswith(
        "Source: Idempotency is a kindness https://elenavarga.substack.com/p/idempotency-is-a-kindness"
    )
    assert check_post(cited, sources=[SOURCE]).passed
    own = add_citations(POST, [{**SOURCE, "origin": "retrieval"}])
    assert "More in my earlier piece: Idempotency is a kindness" in own
    assert add_citations(cited, [SOURCE]) == cited, "a post that cites its sources is left alone"
    assert len(add_citations("word " * 700, [{**SOURCE, "origin": "link"}], max_chars=3000)) <= 3000


def test_a_few_words_of_salad_are_not_carried_past_the_rules_by_the_sources_line_we_append():
    """What the tiny random model once wrote, followed by the sources line serving appends: the whole
    text has words enough, what the model wrote has two."""
    salad = "maximging Lidation!!"
    written, footer = citation_parts(salad, [{**SOURCE, "origin": "retrieval"}])
    assert written == salad and footer.startswith("\n\nMore in my earlier piece: Idempotency is a kindness")
    assert written + footer == add_citations(salad, [{**SOURCE, "origin": "retrieval"}])
    assert check_post(written + footer, sources=[SOURCE]).passed, "judged whole, the footer carries it"
    report = check_post(written + footer, sources=[SOURCE], written=written)
    assert report.problems == ["too short to be a post (2 words)"]
    assert citation_parts(POST + " " + SOURCE["url"], [SOURCE]) == (POST + " " + SOURCE["url"], "")


@pytest.fixture(scope="module")
def reference():
    """The shipped default base (what serving judges fluency with)."""
    from twin.core.base_models import SHIPPED_MODEL_ID
    from twin.core.model_loading import load_base_model

    model, tokenizer = load_base_model(SHIPPED_MODEL_ID)
    model.eval()
    return model, tokenizer


@pytest.mark.slow
def test_the_threshold_separates_real_posts_from_word_salad_under_the_shipped_model(reference):
    """Calibration, re-measured: real posts (the demo persona, the control author) score far below
    the threshold, the same words shuffled far above it, and so does the issue's word salad."""
    from training.control import load_control_passages

    model, tokenizer = reference
    real = persona_posts(5) + [passage["text"][:1200] for passage in load_control_passages(limit=3)]
    real_scores = [text_perplexity(model, tokenizer, text) for text in real]
    salad_scores = [text_perplexity(model, tokenizer, shuffled(text, seed)) for seed, text in enumerate(real)]
    issue_salad = text_perplexity(model, tokenizer, ISSUE_SALAD)
    assert max(real_scores) < FLUENCY_THRESHOLD / 2, real_scores
    assert min(salad_scores) > FLUENCY_THRESHOLD * 2, salad_scores
    assert issue_salad > FLUENCY_THRESHOLD, issue_salad
    cited = add_citations(real[0], [{**SOURCE, "origin": "link"}])
    assert text_perplexity(model, tokenizer, cited) < FLUENCY_THRESHOLD, "a citation line keeps a real post fluent"


@pytest.mark.slow
def test_the_tiny_random_models_text_fails_the_check(reference, tmp_path):
    """tiny-local (the plumbing fixture) writes word salad; the gate must never let it through."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.config import TINY_CONFIG, parse_config, read_config_file
    from twin.core.tiny_model import build_tiny_model

    spec = parse_config(read_config_file(TINY_CONFIG), str(TINY_CONFIG)).tiny_model
    base_dir = build_tiny_model(persona_posts(8), spec, tmp_path, seed=1)
    tiny, tiny_tokenizer = AutoModelForCausalLM.from_pretrained(base_dir), AutoTokenizer.from_pretrained(base_dir)
    model, tokenizer = reference
    for seed in range(3):
        torch.manual_seed(seed)
        ids = tiny_tokenizer("Write a LinkedIn post about on-call.", return_tensors="pt")["input_ids"]
        output = tiny.generate(
            ids, max_new_tokens=80, do_sample=True, temperature=0.7, top_p=0.9, pad_token_id=tiny_tokenizer.eos_token_id
        )
        draft = tiny_tokenizer.decode(output[0][ids.shape[1] :], skip_special_tokens=True)
        report = check_post(draft, perplexity=text_perplexity(model, tokenizer, draft))
        assert not report.passed, draft
