import pytest

from twin.core.web.text import BlockedPage, blocked_reason, ensure_content_page, html_to_text, normalise_text

SUBSTACK_BODY = """
<div class="body markup" dir="auto">
  <p>Most teams don&#8217;t need a vector database.</p>
  <div class="subscription-widget-wrap-editor"><div class="subscription-widget">
    <div class="preamble"><p>Thanks for reading! Subscribe for free to receive new posts.</p></div>
    <form class="subscription-widget-subscribe"><input type="email"/><button>Subscribe</button></form>
  </div></div>
  <h2>What they need instead</h2>
  <p>Postgres, an index, and <a href="https://example.com">a good chunker</a>.</p>
  <ul><li>pgvector</li><li>full-text search</li></ul>
  <pre><code>select 1;
    -- indented   comment</code></pre>
  <p class="button-wrapper"><a class="button primary" href="/share">Share</a></p>
  <p>Leave a comment</p>
</div>
"""


def test_substack_body_becomes_clean_markdownish_text():
    assert html_to_text(SUBSTACK_BODY) == (
        "Most teams don\u2019t need a vector database.\n\n"
        "## What they need instead\n\n"
        "Postgres, an index, and a good chunker.\n\n"
        "- pgvector\n- full-text search\n\n"
        "```\nselect 1;\n    -- indented   comment\n```"
    )


def test_line_breaks_inside_paragraphs_are_kept_and_nav_dropped():
    html = "<html><body><nav>Home</nav><p>Line one<br>Line two</p><footer>(c)</footer></body></html>"
    assert html_to_text(html) == "Line one\nLine two"


def test_empty_and_garbage_input():
    assert html_to_text("") == ""
    assert html_to_text(b"   ") == ""
    assert isinstance(html_to_text("<<<not html"), str)
    assert html_to_text("<p>unclosed <b>bold<p>next") == "unclosed bold\n\nnext"


def test_normalise_text_unicode_and_whitespace():
    assert normalise_text("Cafe\u0301\u00a0 ok\u200b\r\n\r\n\r\nnext  line ") == "Caf\u00e9 ok\n\nnext line"


@pytest.mark.parametrize(
    ("page", "status", "expected"),
    [
        ("<title>Just a moment...</title><div id='challenge-platform'>", 403, "bot challenge"),
        ("<html><script>window._cf_chl_opt={}</script></html>", 200, "bot challenge"),
        ("<a href='https://www.linkedin.com/authwall?trk=public_post'>Sign in</a>", 200, "login wall"),
        ("<h1>Join LinkedIn</h1><p>Sign in to view this post</p>", 200, "login wall"),
        ("", 401, "authentication required"),
    ],
)
def test_challenges_and_login_walls_are_recognised(page, status, expected):
    assert expected in blocked_reason(page, status)
    with pytest.raises(BlockedPage):
        ensure_content_page(page, status)


def test_ordinary_article_is_not_blocked():
    assert blocked_reason("<article><p>How I think about caching.</p></article>", 200) is None


def test_code_lines_broken_with_br_keep_their_newlines():
    assert html_to_text("<pre>def f():<br>    return 1</pre>") == "```\ndef f():\n    return 1\n```"


def test_indentation_survives_outside_code_fences_and_html_whitespace_does_not_leak():
    from twin.core.web.text import html_to_text

    assert normalise_text("def f():\n\treturn  1\n\n\n\nx  =  2   ") == "def f():\n    return 1\n\nx = 2"
    assert normalise_text("```\nif x:\n    y  =  1\n```") == "```\nif x:\n    y  =  1\n```", "fences stay as written"
    html = (
        "<div>\n    <p>\n        Intro   text\n    </p>\n    <ul><li>one<ul><li>nested</li></ul></li><li>two</li></ul>"
        "<pre>for x in xs:\n    print(x)</pre></div>"
    )
    assert html_to_text(html) == "Intro text\n\n- one\n  - nested\n- two\n\n```\nfor x in xs:\n    print(x)\n```"


def test_code_is_verbatim_not_markdown_escaped():
    """What a library swap must keep (trafilatura's markdown writes ``\\<=>`` and ``\\[``, see
    benchmarks/html_extraction.py): code characters come out as written, inside fences."""
    html = "<p>Query:</p><pre>select id from chunks\norder by embedding &lt;=&gt; $1 -- [k]\nlimit 10;</pre>"
    assert (
        html_to_text(html) == "Query:\n\n```\nselect id from chunks\norder by embedding <=> $1 -- [k]\nlimit 10;\n```"
    )
