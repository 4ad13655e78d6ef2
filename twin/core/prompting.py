"""Prompt assembly and post-processing: pure functions, no models, no I/O.

Training and serving build the same prompt here: the chat format of :mod:`twin.core.chat_template`
around a user message that carries the request, short LinkedIn post guidelines and the context —
new material the author shares now (links, papers), then the best retrieved passages of the
author's own earlier writing, deduplicated and cut to a token budget in which each kind keeps a
reserved share, so a long link never pushes out every passage of the author's own writing.
Post-processing strips anything of the template that leaks into the output and enforces the
length limit.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from twin.core.chat_template import MARKERS, render_prompt

CountTokens = Callable[[str], int]
SPECIAL_TOKEN_RE = re.compile(r"<\|[^|<>]{1,40}\|>|</?s>|<pad>|<unk>|\[(?:PAD|UNK|CLS|SEP|MASK)\]")
MIN_ITEM_TOKENS = 24  # a cut chunk shorter than this carries nothing worth its header


@dataclass
class ContextItem:
    """One piece of context: a new link (``origin='link'``) or a retrieved chunk (``'retrieval'``)."""

    origin: str
    key: str  # chunk id, or the link's URL
    text: str
    url: str
    title: str | None = None
    platform: str | None = None
    kind: str | None = None
    score: float | None = None
    document_id: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class UsedItem:
    item: ContextItem
    tokens: int
    truncated: bool


@dataclass
class AssembledPrompt:
    text: str  # what the model continues
    instruction: str
    used: list[UsedItem] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # keys left out (duplicates or over budget)
    context_tokens: int = 0
    prompt_truncated: bool = False


def _fingerprint(text: str) -> str:
    normalised = " ".join(text.lower().split())[:400]
    return hashlib.sha1(normalised.encode()).hexdigest()


def _normal_url(url: str | None) -> str:
    return (url or "").split("#", 1)[0].rstrip("/").lower()


def deduplicate(links: list[ContextItem], hits: list[ContextItem]) -> tuple[list[ContextItem], list[str]]:
    """Links first, then hits. Dropped (keys returned): empty items, repeated texts, a link given
    twice, and retrieved chunks of a page supplied again now (its fresh content wins)."""
    link_urls, seen_texts, kept, dropped = set(), set(), [], []
    for item in [*links, *hits]:
        url, text = _normal_url(item.url), _fingerprint(item.text)
        if not item.text.strip() or text in seen_texts or url in link_urls:
            dropped.append(item.key)
            continue
        if item.origin == "link":
            link_urls.add(url)
        seen_texts.add(text)
        kept.append(item)
    return kept, dropped


def truncate_to_tokens(text: str, budget: int, count_tokens: CountTokens) -> str:
    """The longest prefix of ``text`` (cut at a word boundary) that fits in ``budget`` tokens."""
    if budget <= 0:
        return ""
    total = count_tokens(text)
    if total <= budget:
        return text
    cut = max(1, int(len(text) * budget / total))
    while cut > 0:
        candidate = text[:cut]
        if cut < len(text) and " " in candidate:
            candidate = candidate.rsplit(" ", 1)[0]
        candidate = candidate.rstrip() + " …"
        if count_tokens(candidate) <= budget:
            return candidate
        cut = int(cut * 0.85)
    return ""


def format_item(number: int, item: ContextItem, text: str) -> str:
    label = item.title or item.url
    return f"[{number}] {label} ({item.url})\n{text.strip()}"


LINKS_HEADING = "New material I am sharing now (written by others, not by me):"
OWN_HEADING = "Passages from my earlier writing (for my voice and my own experience):"


def instruction_text(prompt: str, blocks_links: list[str], blocks_own: list[str], max_chars: int) -> str:
    """The user message: request, guidelines, then the context blocks (kept short: small models
    follow a short instruction better, and every token here is paid for in training)."""
    parts = [
        f"Write a LinkedIn post in my voice about: {prompt.strip()}",
        f"Open with a one-line hook, use short paragraphs, stay under {max_chars} characters, take facts "
        "only from the material below and reply with the post only.",
    ]
    if blocks_links:
        parts.append(LINKS_HEADING + "\n\n" + "\n\n".join(blocks_links))
    if blocks_own:
        parts.append(OWN_HEADING + "\n\n" + "\n\n".join(blocks_own))
    return "\n\n".join(parts)


Render = Callable[[str, "str | None"], str]


def assemble_prompt(
    prompt: str,
    links: list[ContextItem],
    hits: list[ContextItem],
    *,
    count_tokens: CountTokens,
    prompt_budget: int,
    context_tokens: int,
    link_share: float = 0.6,
    max_post_chars: int = 3000,
    system: str | None = None,
    render: Render = render_prompt,
) -> AssembledPrompt:
    """Render the generation prompt within ``prompt_budget`` tokens (the whole rendered text, by
    ``render(user_message, system)``: the model's chat template), of which at most
    ``context_tokens`` go to context: links first, up to ``link_share`` of it while retrieved
    chunks wait (the rest is reserved for the author's own writing), then chunks in rank order,
    deduplicated."""
    kept, dropped = deduplicate(links, hits)
    base = render(instruction_text(prompt, [], [], max_post_chars), system)
    base_tokens = count_tokens(base)
    prompt_truncated = False
    if base_tokens > prompt_budget:  # a long request on a short-context model: keep its beginning
        overflow = base_tokens - prompt_budget
        prompt = truncate_to_tokens(prompt, max(8, count_tokens(prompt) - overflow - 8), count_tokens)
        prompt_truncated = True
        base = render(instruction_text(prompt, [], [], max_post_chars), system)
        base_tokens = count_tokens(base)
    budget = max(0, min(context_tokens, prompt_budget - base_tokens - 16))  # 16: section headings

    link_items = [item for item in kept if item.origin == "link"]
    hit_items = [item for item in kept if item.origin != "link"]
    # the author's own writing keeps at least (1 - link_share) of the budget, and never less than room
    # for a few useful lines, however long the links are
    own_reserve = max(budget - int(budget * link_share), min(budget // 2, 4 * MIN_ITEM_TOKENS)) if hit_items else 0
    link_budget = budget - own_reserve
    used: list[UsedItem] = []
    spent = 0
    for index, item in enumerate(link_items):
        share = (link_budget - spent) // (len(link_items) - index)  # unused share passes to the next link
        used_item = _fit(len(used) + 1, item, share, count_tokens)
        if used_item is None:
            dropped.append(item.key)
            continue
        used.append(used_item)
        spent += used_item.tokens
    for item in hit_items:
        used_item = _fit(len(used) + 1, item, budget - spent, count_tokens)
        if used_item is None:
            dropped.append(item.key)
            continue
        used.append(used_item)
        spent += used_item.tokens

    numbered = [(number, entry) for number, entry in enumerate(used, start=1)]
    blocks_links = [format_item(n, e.item, e.item.text) for n, e in numbered if e.item.origin == "link"]
    blocks_own = [format_item(n, e.item, e.item.text) for n, e in numbered if e.item.origin != "link"]
    instruction = instruction_text(prompt, blocks_links, blocks_own, max_post_chars)
    return AssembledPrompt(render(instruction, system), instruction, used, dropped, spent, prompt_truncated)


CODE_BLOCK = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n.*?(?:^[ \t]*\1[^\n]*$|\Z)", re.M | re.S)


def prose(text: str) -> str:
    """The text without its fenced code blocks: a post is prose, and a small model shown code in its
    context writes code (the demo's twin answered with a Python function after a README's example)."""
    return re.sub(r"\n{3,}", "\n\n", CODE_BLOCK.sub("", text)).strip()


def _fit(number: int, item: ContextItem, budget: int, count_tokens: CountTokens) -> UsedItem | None:
    """The item's prose, cut to fit ``budget`` tokens with its header (None when too little room is
    left, or no prose). ``item.text`` is replaced by the text actually used."""
    if budget < MIN_ITEM_TOKENS:
        return None
    header_tokens = count_tokens(format_item(number, item, ""))
    full = prose(item.text)
    text = truncate_to_tokens(full, budget - header_tokens - 2, count_tokens)
    if not text or count_tokens(text) < min(MIN_ITEM_TOKENS // 2, count_tokens(full)):
        return None
    truncated = text != full
    fitted = ContextItem(**{**item.to_dict(), "text": text})
    return UsedItem(fitted, count_tokens(format_item(number, fitted, text)), truncated)


# --- post-processing -------------------------------------------------------------------------------


def _cut_at_markers(text: str) -> str:
    stripped = text.lstrip()
    for marker in MARKERS:  # a model that repeats the response marker first: drop just that
        if stripped.startswith(marker) and marker != MARKERS[0]:
            stripped = stripped[len(marker) :]
            break
    positions = [stripped.find(marker) for marker in MARKERS if marker in stripped]
    # also "### Something:" headings a model invents in the template's style
    invented = re.search(r"(?m)^#{3}\s*(System|Instruction|Response|Input|User|Assistant)\s*:", stripped)
    if invented:
        positions.append(invented.start())
    return stripped[: min(positions)] if positions else stripped


MARKDOWN_HEADING = re.compile(r"(?m)^[ \t]*#{1,6}[ \t]+(?=\S)")  # "## Title"; a "#hashtag" has no space
MARKDOWN_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")


def plain_text(text: str) -> str:
    """Markdown headings and bold as LinkedIn shows them: plain lines and words, not ``###`` or ``**``."""
    return MARKDOWN_BOLD.sub(r"\1", MARKDOWN_HEADING.sub("", text))


def clean_text(text: str) -> str:
    """Template leakage, special tokens and markdown markup removed, whitespace tidied (no length limit)."""
    text = _cut_at_markers(text)
    eos = re.search(r"</s>|<\|(?:endoftext|im_end|eot_id|end)\|>", text)
    if eos:
        text = text[: eos.start()]
    text = plain_text(SPECIAL_TOKEN_RE.sub("", text)).replace("\r\n", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def enforce_length(text: str, max_chars: int) -> str:
    """At most ``max_chars``: cut at the last paragraph, else sentence, else word boundary that fits."""
    if len(text) <= max_chars:
        return text
    window = text[:max_chars]
    for pattern, keep_at_least in ((r"\n\n", 0.5), (r"[.!?…](?=\s)", 0.5), (r"\s", 0.0)):
        ends = [m.end() if pattern != r"\n\n" else m.start() for m in re.finditer(pattern, window)]
        ends = [end for end in ends if end >= max_chars * keep_at_least]
        if ends:
            return window[: ends[-1]].rstrip()
    return window.rstrip()


SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)")
UNFINISHED_TAIL = re.compile(r"(?:[\w,;:(\-–—]|\w['’])$")  # "won’" is a cut word too


def drop_unfinished_sentence(text: str) -> str:
    """Cut a post that stops mid-sentence (the token limit hit) back to its last complete sentence.
    Closing hashtags, a URL or an emoji count as an ending; a text with no sentence end is left as
    it is."""
    stripped = text.rstrip()
    if not stripped or not UNFINISHED_TAIL.search(stripped):
        return stripped
    if stripped.rsplit(None, 1)[-1].startswith(("#", "http://", "https://")):  # hashtags, a link
        return stripped
    ends = [match.end() for match in SENTENCE_END.finditer(stripped)]
    return stripped[: ends[-1]].rstrip() if ends else stripped


def postprocess(text: str, max_chars: int = 3000) -> str:
    return enforce_length(drop_unfinished_sentence(clean_text(text)), max_chars)


def stream_safe_prefix(text: str) -> str:
    """What of a partial generation can be shown already: cleaned, and holding back a tail that
    might still turn into a template marker or special token."""
    cleaned_end = len(text)
    for marker in MARKERS:
        for size in range(len(marker) - 1, 0, -1):
            if text.endswith(marker[:size]):
                cleaned_end = min(cleaned_end, len(text) - size)
                break
    tail_tag = text.rfind("<")
    if tail_tag != -1 and ">" not in text[tail_tag:] and len(text) - tail_tag < 16:
        cleaned_end = min(cleaned_end, tail_tag)
    if text.count("**", 0, cleaned_end) % 2:  # bold still open: shown once it closes, without the stars
        cleaned_end = text.rfind("**", 0, cleaned_end)
    return clean_text(text[:cleaned_end])
