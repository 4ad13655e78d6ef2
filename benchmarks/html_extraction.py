"""HTML extraction fidelity: the hand-written ``html_to_text`` against maintained extractors, side by side.

Runs every converter over the project's real HTML test pages (crawler fixtures, export fixtures and
the demo persona: whole pages, Medium feed ``content:encoded`` items, Substack ``body_html``, export
bodies, LinkedIn article exports) and scores each page against what the HTML itself says is there:

``headings``    h1-h4 texts of the content that come out as a ``#`` heading line
``list items``  ``<li>`` texts that come out on a ``-``/``*``/``1.`` line
``code``        ``<pre>`` blocks (``<br>`` as a line break) found verbatim: line breaks and indentation
``boilerplate`` text of nav/header/footer/aside/form and subscribe/share/related widgets that is absent
``paragraphs``  ``<p>`` texts of the content found (whitespace and inline markdown ignored)

Each column is hits / expected summed over all pages (a ratio; 1.000 is everything kept, or for
boilerplate everything dropped), then the mean time per page. The converters:

``html_to_text``           the project's converter, :func:`twin.core.web.text.html_to_text`
``trafilatura``            ``trafilatura.extract(output_format="markdown")`` with the options
                           :mod:`twin.core.web.links` used before this benchmark (formatting, tables, no comments), normalised
``trafilatura recall``     the same with ``favor_recall=True``
``readability+markdownify`` ``markdownify`` (ATX headings, ``-`` bullets) on
                           ``readability.Document(html).summary()``, normalised; skipped when
                           ``markdownify``/``readability-lxml`` are not importable (they are not project
                           dependencies: ``PYTHONPATH=/some/dir`` with them installed there)
``markdownify alone``      ``markdownify`` on the whole input, no cleaning (what readability adds or removes)
``pruned+markdownify``     the project's boilerplate pruning and text filter, ``markdownify`` only as the
                           renderer, set up as a drop-in (links, images, inline markup and rules
                           stripped, no escaping): could the hand-written renderer alone be replaced?

``same`` is the number of pages where a converter's output is identical to ``html_to_text``'s.

No fixture holds a ``<table>``, so tables are not scored. No network, no database.

    .venv/bin/python benchmarks/html_extraction.py            # the table
    .venv/bin/python benchmarks/html_extraction.py --pages    # plus one row per page and converter
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lxml.html  # noqa: E402

from twin.core.web.text import BOILERPLATE_TEXT, _is_boilerplate, html_to_text, normalise_text  # noqa: E402

SITE = ROOT / "testing" / "site"  # the fixture server's pages and feeds
EXPORTS = ROOT / "tests" / "crawlers" / "fixtures" / "exports"
DEMO = ROOT / "demo"
CONTENT_NS = "{http://purl.org/rss/1.0/modules/content/}encoded"
# What counts as boilerplate in the reference: structural chrome, and widgets by class/id or by text.
CHROME_TAGS = {"nav", "header", "footer", "aside", "form", "button", "input"}
WIDGET = re.compile(
    r"subscri|share|newsletter|related|signup|join|cookie|comment|button|byline|cta|promo", re.IGNORECASE
)
WIDGET_TEXT = re.compile(r"^(subscribe|share|leave a comment|thanks for reading)\b", re.IGNORECASE)
NEVER_TEXT = {"script", "style", "noscript", "template", "head", "title", "meta", "link"}
LIST_LINE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
HEADING_LINE = re.compile(r"^\s*#{1,6}\s+(.*?)\s*#*\s*$")


# --- the corpus -------------------------------------------------------------------------------


def corpus() -> list[tuple[str, str]]:
    """(name, html) for every article-like HTML the project's tests and demo feed the converters."""
    pages: list[tuple[str, str]] = []

    def add_file(path: Path) -> None:
        pages.append((str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")))

    for path in (SITE / "web" / "article.html", SITE / "linkedin" / "post.html"):
        add_file(path)
    for path in sorted((DEMO / "news").glob("*.html")):
        add_file(path)
    for path in sorted((EXPORTS / "medium" / "posts").glob("*.html")):
        add_file(path)
    for path in sorted((EXPORTS / "substack" / "posts").glob("*.html")):
        add_file(path)
    for folder in (EXPORTS / "linkedin", DEMO / "persona" / "linkedin"):
        for path in sorted(folder.rglob("Articles/*.html")):
            add_file(path)
    for folder in (SITE / "substack" / "posts", DEMO / "persona" / "substack" / "posts"):
        for path in sorted(folder.glob("*.json")):
            body = json.loads(path.read_text(encoding="utf-8")).get("body_html")
            if body:
                pages.append((str(path.relative_to(ROOT)) + ":body_html", body))
    for feed in (SITE / "medium" / "feed.xml", DEMO / "persona" / "medium" / "feed.xml"):
        for index, item in enumerate(ET.parse(feed).getroot().iter("item")):
            body = item.findtext(CONTENT_NS)
            if body:
                pages.append((f"{feed.relative_to(ROOT)}:item{index}", body))
    return pages


# --- the reference: what the HTML says is content ---------------------------------------------


def _squash(text: str) -> str:
    return " ".join(text.split())


def _plain(markdown: str) -> str:
    """Output text without inline markdown, whitespace collapsed: for containment checks."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"(\*\*|__|`)", "", text)
    text = re.sub(r"(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)", "", text)
    text = text.replace("\\", "")
    return _squash(text)


def _is_chrome(element) -> bool:
    for node in [element, *element.iterancestors()]:
        if not isinstance(node.tag, str):
            continue
        if node.tag in CHROME_TAGS or node.tag in NEVER_TEXT:
            return True
        marker = f"{node.get('class', '')} {node.get('id', '')}"
        if marker.strip() and WIDGET.search(marker):
            return True
        if node.tag in ("p", "div", "a") and WIDGET_TEXT.match(_squash(node.text_content())):
            return True
    return False


def _own_text(element) -> str:
    """Text of an element without its nested lists (a list item's own words)."""
    clone = lxml.html.fromstring(lxml.html.tostring(element, encoding="unicode"))
    for nested in clone.xpath(".//ul|.//ol"):
        nested.drop_tree()
    return _squash(clone.text_content())


class Reference:
    def __init__(self, html: str) -> None:
        root = lxml.html.fromstring(html)
        for br in root.iter("br"):
            br.tail = "\n" + (br.tail or "")
        content = [el for el in root.iter() if isinstance(el.tag, str) and not _is_chrome(el)]
        self.headings = [t for el in content if el.tag in ("h1", "h2", "h3", "h4") if (t := _squash(el.text_content()))]
        self.items = [t for el in content if el.tag == "li" if (t := _own_text(el))]
        self.code = [t for el in content if el.tag == "pre" if (t := el.text_content().strip("\n"))]
        self.paragraphs = [
            t
            for el in content
            if el.tag == "p" and not any(a.tag == "li" for a in el.iterancestors())
            if (t := _squash(el.text_content()))
        ]
        body_text = _squash(" ".join([*self.headings, *self.items, *self.paragraphs, *self.code]))
        snippets: set[str] = set()
        for el in root.iter():
            if not isinstance(el.tag, str) or el.tag in NEVER_TEXT or not _is_chrome(el):
                continue
            if any(isinstance(a.tag, str) and a.tag in NEVER_TEXT for a in el.iterancestors()):
                continue
            for piece in (el.text, el.tail if _is_chrome(el.getparent()) else None):
                piece = _squash(piece or "").strip("·|&-— ")
                if len(piece) >= 4 and piece not in body_text:
                    snippets.add(piece)
        self.boilerplate = sorted(snippets)


def score(ref: Reference, output: str) -> dict[str, tuple[int, int]]:
    lines = output.split("\n")
    heading_lines = {_plain(m.group(1)) for line in lines if (m := HEADING_LINE.match(line))}
    list_lines = [_plain(m.group(1)) for line in lines if (m := LIST_LINE.match(line))]
    plain = _plain(output)
    verbatim = "\n".join(line.rstrip() for line in output.split("\n"))

    def code_kept(code: str) -> bool:
        return "\n".join(line.rstrip() for line in code.split("\n")) in verbatim

    return {
        "headings": (sum(h in heading_lines for h in ref.headings), len(ref.headings)),
        "list items": (sum(any(item in line for line in list_lines) for item in ref.items), len(ref.items)),
        "code": (sum(code_kept(code) for code in ref.code), len(ref.code)),
        "boilerplate": (sum(b not in plain for b in ref.boilerplate), len(ref.boilerplate)),
        "paragraphs": (sum(p in plain for p in ref.paragraphs), len(ref.paragraphs)),
    }


# --- the converters ---------------------------------------------------------------------------


def converters() -> dict[str, Callable[[str], str]]:
    import trafilatura

    def traf(recall: bool) -> Callable[[str], str]:
        def run(html: str) -> str:
            out = trafilatura.extract(
                html,
                output_format="markdown",
                include_formatting=True,
                include_comments=False,
                include_tables=True,
                favor_recall=recall,
            )
            return normalise_text(out) if out else ""

        return run

    found: dict[str, Callable[[str], str]] = {
        "html_to_text": html_to_text,
        "trafilatura": traf(False),
        "trafilatura recall": traf(True),
    }
    try:
        from markdownify import markdownify
        from readability import Document
    except ImportError:
        print("readability+markdownify: skipped (markdownify / readability-lxml not importable)\n")
        return found

    def readability_markdownify(html: str) -> str:
        summary = Document(html).summary(html_partial=True)
        return normalise_text(markdownify(summary, heading_style="ATX", bullets="-"))

    found["readability+markdownify"] = readability_markdownify
    found["markdownify alone"] = lambda html: normalise_text(markdownify(html, heading_style="ATX", bullets="-"))

    def pruned_markdownify(html: str) -> str:
        """The project's own boilerplate pruning and text filter, markdownify only as the renderer, set up
        as a drop-in: no links, images, inline emphasis/code markers or ``---`` rules (html_to_text's
        output is plain text; with markdownify's inline markup 19 of the 36 pages change)."""
        root = lxml.html.fromstring(html)
        for element in list(root.iter()):
            if isinstance(element.tag, str) and element.getparent() is not None:
                if element.tag == "hr" or _is_boilerplate(element):
                    element.drop_tree()
        body = root.find(".//body")
        markdown = markdownify(
            lxml.html.tostring(body if body is not None else root, encoding="unicode"),
            heading_style="ATX",
            bullets="-",
            strip=["a", "img", "b", "strong", "em", "i", "code"],
            escape_asterisks=False,
            escape_underscores=False,
            escape_misc=False,
        )
        blocks = [block for block in markdown.split("\n\n") if not BOILERPLATE_TEXT.match(block.strip())]
        return normalise_text("\n\n".join(blocks))

    found["pruned+markdownify"] = pruned_markdownify
    return found


COLUMNS = ("headings", "list items", "code", "boilerplate", "paragraphs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per page and converter (default 20)")
    parser.add_argument("--pages", action="store_true", help="also print one row per page and converter")
    parser.add_argument(
        "--show", metavar="SUBSTRING", help="print each converter's output for pages whose name matches"
    )
    args = parser.parse_args(argv)

    pages = corpus()
    refs = {name: Reference(html) for name, html in pages}
    convs = converters()
    totals = {conv: {col: [0, 0] for col in COLUMNS} for conv in convs}
    times: dict[str, list[float]] = {conv: [] for conv in convs}
    same = dict.fromkeys(convs, 0)
    rows: list[str] = []
    for name, html in pages:
        for conv, func in convs.items():
            output = func(html)
            same[conv] += output == html_to_text(html)
            started = time.perf_counter()
            for _ in range(args.repeat):
                func(html)
            times[conv].append((time.perf_counter() - started) / max(args.repeat, 1) * 1000)
            result = score(refs[name], output)
            for col, (hit, total) in result.items():
                totals[conv][col][0] += hit
                totals[conv][col][1] += total
            if args.pages:
                cells = "  ".join(f"{hit}/{total}".rjust(len(col)) for col, (hit, total) in result.items())
                rows.append(f"{name[-60:]:<60}  {conv:<24}  {cells}")
            if args.show and args.show in name:
                print(f"===== {name} — {conv}\n{output}\n")

    expected = {col: totals["html_to_text"][col][1] for col in COLUMNS}
    print(f"{len(pages)} pages; expected: " + ", ".join(f"{expected[c]} {c}" for c in COLUMNS) + "\n")
    header = (
        f"{'converter':<24}  "
        + "  ".join(f"{c:>11}" for c in COLUMNS)
        + f"  {'same':>5}  {'ms/page':>8}  {'p95 ms':>7}"
    )
    print(header)
    print("-" * len(header))
    for conv in convs:
        cells = "  ".join(f"{(hit / total if total else 1.0):>11.3f}" for hit, total in totals[conv].values())
        ms = times[conv]
        p95 = sorted(ms)[int(0.95 * (len(ms) - 1))]
        print(f"{conv:<24}  {cells}  {same[conv]:>5}  {statistics.mean(ms):>8.2f}  {p95:>7.2f}")
    print("\n(hits / expected over all pages; boilerplate: share of boilerplate snippets absent from the output)")
    if rows:
        print("\n" + "\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
