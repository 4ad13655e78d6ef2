"""HTML to clean, markdown-ish text, and recognition of pages that are not content.

Shared by every spider and importer (Medium, Substack, LinkedIn articles, generic links): headings
become ``#`` lines, list items ``-`` lines, code blocks keep their whitespace inside ``` fences,
paragraph breaks are kept, and share/subscribe/nav/footer boilerplate is dropped.
"""

from __future__ import annotations

import re
import unicodedata

import lxml.html
from lxml import etree

DROP_TAGS = {
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "canvas",
    "iframe",
    "object",
    "embed",
    "form",
    "input",
    "button",
    "select",
    "textarea",
    "nav",
    "footer",
    "header",
    "aside",
    "head",
    "title",
    "meta",
    "link",
    "img",
    "picture",
    "video",
    "audio",
    "source",
}
# class/id fragments of widgets that are never the author's words (Substack, Medium, LinkedIn, blogs).
BOILERPLATE = re.compile(
    r"subscri|share|social|newsletter|paywall|footer|navbar|sidebar|comment|related|recommend|promo|"
    r"cookie|banner|signup|sign-up|login|byline-|author-bio|post-ufi|button-wrapper|cta|like-button|"
    r"captioned-button|modal|popup|advert|sponsor|breadcrumb|toolbar|skip-link|visually-hidden",
    re.IGNORECASE,
)
BOILERPLATE_TEXT = re.compile(
    r"^(subscribe( now)?|share( this post)?|leave a comment|thanks for reading\b.*|sign up|"
    r"upgrade to paid|get the app|open in app|listen to this (story|article)|follow|"
    r"\d+\s+(likes?|comments?|restacks?|shares?)|type your email.*|sign in)\W*$",
    re.IGNORECASE,
)
BLOCKS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "blockquote",
    "figure",
    "figcaption",
    "table",
    "tr",
    "dl",
    "dd",
    "dt",
    "center",
}
HEADINGS = {"h1": "#", "h2": "##", "h3": "###", "h4": "####", "h5": "#####", "h6": "######"}
ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)

CHALLENGE_MARKERS = (
    "just a moment...",
    "checking your browser",
    "cf-browser-verification",
    "challenge-platform",
    "attention required! | cloudflare",
    "enable javascript and cookies to continue",
    "cf_chl_opt",
    "ddos protection by",
    "please verify you are a human",
    "are you a robot",
    "captcha-delivery",
    "px-captcha",
    "verify you are human",
)
LOGIN_WALL_MARKERS = (
    "authwall",
    "sign in to view",
    "join linkedin",
    "sign in | linkedin",
    "login-wall",
    "please log in to",
    "you must be logged in",
    "sign in to continue",
    "session_redirect",
    "log in to continue",
)


class BlockedPage(ValueError):
    """A bot challenge or login wall where content was expected."""


def normalise_text(text: str) -> str:
    """Unicode NFC, no zero-width characters, at most one blank line, no trailing spaces. A line keeps
    its indentation (code pasted into a post, nested lists; tabs become 4 spaces); runs of spaces
    after it become one, except inside ``` fences, which stay as written."""
    text = (
        unicodedata.normalize("NFC", text)
        .translate(ZERO_WIDTH)
        .replace("\u00a0", " ")
        .replace("\r\n", "\n")
        .replace("\r", "\n")
    )
    out: list[str] = []
    in_code = False
    for line in text.split("\n"):
        if line.strip().startswith("```"):
            in_code = not in_code
            out.append(line.strip())
            continue
        if in_code:
            out.append(line.rstrip())
            continue
        body = line.lstrip(" \t")
        indent = line[: len(line) - len(body)].replace("\t", "    ")
        body = re.sub(r"[ \t]+", " ", body).rstrip()
        out.append(indent + body if body else "")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n").rstrip()


def _is_boilerplate(element) -> bool:
    if element.tag in DROP_TAGS:
        return True
    if element.get("aria-hidden") == "true" or element.get("hidden") is not None:
        return True
    marker = (
        f"{element.get('class', '')} {element.get('id', '')} {element.get('role', '')} {element.get('data-testid', '')}"
    )
    return bool(marker.strip()) and bool(BOILERPLATE.search(marker))


def _inline_text(element) -> str:
    parts: list[str] = []

    def walk(node) -> None:
        if not isinstance(node.tag, str):
            if node.tail:
                parts.append(node.tail)
            return
        if _is_boilerplate(node):
            if node.tail:
                parts.append(node.tail)
            return
        if node.tag == "br":
            parts.append("\n")
        elif node.text:
            parts.append(node.text)
        for child in node:
            walk(child)
        if node.tail and node is not element:
            parts.append(node.tail)

    walk(element)
    return "".join(parts)


def _render(element, out: list[str], list_depth: int = 0) -> None:
    if not isinstance(element.tag, str) or _is_boilerplate(element):
        return
    tag = element.tag.lower()
    if tag == "pre":
        for br in element.iter("br"):  # Medium's feed breaks code lines with <br>
            br.tail = "\n" + (br.tail or "")
        code = element.text_content()
        out.append("```\n" + code.strip("\n") + "\n```")
        return
    if tag in HEADINGS:
        text = " ".join(_inline_text(element).split())
        if text:
            out.append(f"{HEADINGS[tag]} {text}")
        return
    if tag in ("ul", "ol"):
        lines: list[str] = []
        _render_list(element, lines, list_depth)
        if lines:
            out.append("\n".join(lines))
        return
    if tag == "blockquote":
        inner: list[str] = []
        _render_children(element, inner, list_depth)
        if inner:
            out.append("\n".join("> " + line if line else ">" for line in "\n\n".join(inner).split("\n")))
        return
    if tag in BLOCKS or tag in ("body", "html", "li", "td", "th"):
        _render_children(element, out, list_depth)
        return
    text = _inline_text(element)
    if text.strip():
        out.append(text)


def _render_list(element, lines: list[str], depth: int) -> None:
    items = [child for child in element if isinstance(child.tag, str) and child.tag == "li"]
    for index, item in enumerate(items):
        bullet = f"{index + 1}." if element.tag == "ol" else "-"
        nested = [child for child in item if isinstance(child.tag, str) and child.tag in ("ul", "ol")]
        for child in nested:
            item.remove(child)
        text = " ".join(_inline_text(item).split())
        if text:
            lines.append("  " * depth + f"{bullet} {text}")
        for child in nested:
            _render_list(child, lines, depth + 1)


def _render_children(element, out: list[str], list_depth: int) -> None:
    """Block children render as blocks; runs of inline content between them become paragraphs."""
    buffer: list[str] = [element.text or ""]

    def flush() -> None:
        text = "".join(buffer)
        lines = [" ".join(line.split()) for line in text.split("\n")]
        paragraph = "\n".join(line for line in lines if line)
        if paragraph:
            out.append(paragraph)
        buffer.clear()

    for child in element:
        if not isinstance(child.tag, str):
            buffer.append(child.tail or "")
            continue
        tag = child.tag.lower()
        if _is_boilerplate(child):
            buffer.append(child.tail or "")
            continue
        if tag in BLOCKS or tag in HEADINGS or tag in ("ul", "ol", "pre", "blockquote", "hr", "li", "table"):
            flush()
            _render(child, out, list_depth)
            buffer.append(child.tail or "")
        elif tag == "br":
            buffer.append("\n" + (child.tail or ""))
        else:
            buffer.append(_inline_text(child) + (child.tail or ""))
    flush()


def html_to_text(html: str | bytes) -> str:
    """Clean markdown-ish text from an HTML fragment or page; boilerplate lines dropped."""
    if isinstance(html, bytes):
        html = html.decode("utf-8", errors="replace")
    if not html or not html.strip():
        return ""
    try:
        root = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return ""
    body = root.find(".//body")
    blocks: list[str] = []
    _render(body if body is not None else root, blocks)
    kept = [block for block in blocks if not BOILERPLATE_TEXT.match(block.strip())]
    return normalise_text("\n\n".join(kept))


def blocked_reason(page: str | bytes, status: int | None = None) -> str | None:
    """Why this response is a bot challenge or a login wall rather than content, or None."""
    if isinstance(page, bytes):
        page = page[:200_000].decode("utf-8", errors="replace")
    head = page[:200_000].lower()
    if status in (401, 407):
        return f"HTTP {status}: authentication required"
    for marker in CHALLENGE_MARKERS:
        if marker in head:
            return f"bot challenge page ({marker!r})"
    for marker in LOGIN_WALL_MARKERS:
        if marker in head:
            return f"login wall ({marker!r})"
    if status in (403, 429, 503) and ("captcha" in head or "cloudflare" in head):
        return f"HTTP {status}: blocked by a bot filter"
    return None


def ensure_content_page(page: str | bytes, status: int | None = None) -> None:
    """Raise :class:`BlockedPage` if ``page`` is a challenge or login wall."""
    reason = blocked_reason(page, status)
    if reason:
        raise BlockedPage(reason)
