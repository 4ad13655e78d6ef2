"""The library parsers behind the spiders (feedparser, dateutil, httpx's Link header) and the bounds kept
around them: no entity expansion, no file or network access, an element cap, clear errors."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from scrapy.http import TextResponse

from crawlers.spiders.base import MAX_FEED_ELEMENTS, count_elements
from crawlers.spiders.github import GitHubSpider, next_link
from crawlers.spiders.medium import MediumSpider
from crawlers.window import PublishedWindow, parse_window_bound
from tests.crawlers.spider_fixtures import SpiderHarness, response, xml_response
from twin.core.dates import parse_moment

FEED_URL = "https://medium.com/feed/@ada"


def rss(items: str, prolog: str = '<?xml version="1.0" encoding="UTF-8"?>') -> bytes:
    return f'{prolog}<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def parsed(body: bytes, **kwargs):
    harness = SpiderHarness(MediumSpider, "@ada")
    items = list(harness.spider.parse_feed(xml_response(FEED_URL, body), **kwargs))
    return items, [error["error"] for error in harness.errors]


ITEM = "<item><title>Post</title><link>https://medium.com/@ada/post</link><description>Body &amp; soul</description></item>"


@pytest.mark.parametrize(
    "prolog",
    [
        pytest.param(
            '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;">]>',
            id="billion-laughs",
        ),
        pytest.param(f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "{"A" * 50_000}">]>', id="quadratic-blowup"),
        pytest.param('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>', id="xxe"),
        pytest.param('<?xml version="1.0"?><!DOCTYPE rss [<!entity x "y">]>', id="lowercase"),
    ],
)
def test_a_feed_that_declares_entities_is_refused(prolog):
    items, errors = parsed(rss(ITEM.replace("Body", "&lol1; &big; &x;"), prolog))
    assert items == []
    assert errors == ["feed refused: it declares XML entities (entity expansion is not allowed)"]


def test_an_entity_declaration_hidden_by_the_encoding_is_still_refused():
    body = rss(ITEM, '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE rss [<!ENTITY a "b">]>').decode()
    items, errors = parsed(body.encode("utf-16"))
    assert items == [] and errors[0].startswith("feed refused: it declares XML entities")


def test_entity_markup_inside_content_is_only_text():
    items, errors = parsed(
        rss(ITEM.replace("Body &amp; soul", "<![CDATA[<p>Write &lt;!ENTITY a &quot;b&quot;&gt;</p>]]>"))
    )
    assert errors == [] and items[0].content == 'Write <!ENTITY a "b">'


def test_a_body_that_names_a_file_is_not_read():
    """feedparser.parse(bytes) opens a path: the body must reach it as a stream."""
    items, errors = parsed(b"/etc/passwd")
    assert items == [] and errors == ["not an RSS or Atom feed"]


def test_a_markup_flood_is_refused_before_feedparser_sees_it():
    items, errors = parsed(
        rss("<item><title>t</title><description>" + "<b>" * (MAX_FEED_ELEMENTS + 1) + "</description>")
    )
    assert items == [] and errors == [f"feed refused: more than {MAX_FEED_ELEMENTS} XML elements"]


def test_elements_are_counted_outside_cdata_and_comments_only():
    assert count_elements(b"<a><b/><!-- <c> --><![CDATA[<d><e>]]></a>", 10) == 2
    assert count_elements(b"<a><![CDATA[<b>" + b"<![CDATA[" * 1000, 10) == 1, "unterminated: the rest is text"
    assert count_elements(b"<a>" * 50, 10) == 11, "stops counting past the limit"


def test_a_feed_over_the_byte_limit_is_refused():
    harness = SpiderHarness(MediumSpider, "@ada")
    harness.crawler.settings.frozen = False
    harness.crawler.settings.set("DOWNLOAD_MAXSIZE", 100)
    assert list(harness.spider.parse_feed(xml_response(FEED_URL, rss(ITEM)))) == []
    assert (
        harness.errors[0]["error"].startswith("feed refused: ")
        and "over the 100-byte limit" in harness.errors[0]["error"]
    )


def test_html_is_not_a_feed():
    harness = SpiderHarness(MediumSpider, "@ada")
    page = response(
        FEED_URL, b"<html><body><p>Hello</p></body></html>", TextResponse, headers={"Content-Type": "text/html"}
    )
    assert list(harness.spider.parse_feed(page)) == []
    assert [error["error"] for error in harness.errors] == ["not an RSS or Atom feed"]


def test_a_feed_served_as_html_in_its_declared_encoding_is_read():
    body = rss(ITEM.replace("Post", "Café crème"), '<?xml version="1.0" encoding="ISO-8859-1"?>').decode()
    page = response(FEED_URL, body.encode("latin-1"), TextResponse, headers={"Content-Type": "text/html"})
    harness = SpiderHarness(MediumSpider, "@ada")
    [item] = harness.spider.parse_feed(page)
    assert harness.errors == [] and item.title == "Café crème" and item.content == "Body & soul"


def test_atom_entries_are_items():
    atom = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
    <entry><title>Atom post</title><link href="https://ada.dev/atom-1"/><id>tag:ada.dev,2024:1</id>
    <updated>2024-03-12T08:13:44-05:00</updated><author><name>Ada Lovelace</name></author><category term="db"/>
    <content type="html">&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&lt;/p&gt;</content></entry></feed>"""
    [item], errors = parsed(atom)
    assert errors == []
    assert (item.source_url, item.title, item.author, item.content) == (
        "https://ada.dev/atom-1",
        "Atom post",
        "Ada Lovelace",
        "Hello world",
    )
    assert item.published_at == datetime(2024, 3, 12, 13, 13, 44, tzinfo=UTC)
    assert item.metadata["guid"] == "tag:ada.dev,2024:1" and item.metadata["tags"] == ["db"]


def test_feed_dates_in_named_zones_and_unreadable_dates():
    items, errors = parsed(
        rss(
            ITEM.replace("<description>", "<pubDate>Tue, 12 Mar 2024 08:13:44 EST</pubDate><description>")
            + ITEM.replace("<description>", "<pubDate>sometime soon</pubDate><description>")
        )
    )
    assert errors == []
    assert [item.published_at for item in items] == [datetime(2024, 3, 12, 13, 13, 44, tzinfo=UTC), None]


def test_a_malformed_atom_feed_says_atom_and_the_line():
    atom = b'<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n<entry><title>One</title><link href="https://ada.dev/1"/></entry>\n<entry><title>Two'
    items, errors = parsed(atom)
    assert [item.title for item in items][:1] == ["One"]
    assert len(errors) == 1 and errors[0].startswith("malformed Atom feed (line 4: ")
    assert errors[0].endswith("; kept the items that could be read")


@pytest.mark.parametrize(
    ("header", "url"),
    [
        (b'<https://api.github.com/user/1/repos?page=2>; rel="next"', "https://api.github.com/user/1/repos?page=2"),
        (b"<https://api.github.com/user/1/repos?page=2>; rel=next", "https://api.github.com/user/1/repos?page=2"),
        (b'<https://x.test/r?ids=1,2>; rel="next", <https://x.test/r?page=9>; rel="last"', "https://x.test/r?ids=1,2"),
        (b'<https://x.test/2>; rel="prev next"', "https://x.test/2"),
        (b'<https://x.test/2>;rel="NEXT"', "https://x.test/2"),
        (b'<https://x.test/1>; rel="prev", <https://x.test/9>; rel="last"', None),
        (b"", None),
        (None, None),
        (b"garbage", None),
        (b";;;,,,<", None),
        (b'<https://x.test/2>; rel="nextpage"', None),
    ],
)
def test_link_headers(header, url):
    assert next_link(header) == url


def test_a_relative_next_link_is_relative_to_the_page():
    harness = SpiderHarness(GitHubSpider, "ada")
    page = response(
        "https://api.github.com/users/ada/repos",
        b"[]",
        TextResponse,
        headers={"Content-Type": "application/json", "Link": '</users/ada/repos?page=2>; rel="next"'},
    )
    [request] = harness.spider.parse_repos(page)
    assert request.url == "https://api.github.com/users/ada/repos?page=2"


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2024-03-12T08:13:44Z", datetime(2024, 3, 12, 8, 13, 44, tzinfo=UTC)),
        ("2024-03-12 08:13:44", datetime(2024, 3, 12, 8, 13, 44, tzinfo=UTC)),
        ("2024-03-12", datetime(2024, 3, 12, tzinfo=UTC)),
        ("2024-03-12T08:13:44.5+02:00", datetime(2024, 3, 12, 8, 13, 44, 500000, tzinfo=timezone(timedelta(hours=2)))),
        ("Tue, 12 Mar 2024 08:13:44 GMT", datetime(2024, 3, 12, 8, 13, 44, tzinfo=UTC)),
        ("Tue, 12 Mar 2024 08:13:44 PDT", datetime(2024, 3, 12, 8, 13, 44, tzinfo=timezone(timedelta(hours=-7)))),
        ("12 March 2024", datetime(2024, 3, 12, tzinfo=UTC)),
    ],
)
def test_dates_naive_means_utc(text, moment):
    parsed_moment = parse_moment(text)
    assert parsed_moment == moment and parsed_moment.utcoffset() == moment.utcoffset()
    assert isinstance(parsed_moment.tzinfo, timezone)


def test_not_a_date():
    with pytest.raises(ValueError):
        parse_moment("sometime soon")


def test_window_bounds_are_iso_only_and_naive_means_utc():
    assert parse_window_bound("2024-03-01T00:00:00Z") == datetime(2024, 3, 1, tzinfo=UTC)
    assert parse_window_bound("2024-03-01") == datetime(2024, 3, 1, tzinfo=UTC)
    assert parse_window_bound(datetime(2024, 3, 1)) == datetime(2024, 3, 1, tzinfo=UTC)
    assert parse_window_bound("") is None and parse_window_bound(None) is None
    with pytest.raises(ValueError):
        parse_window_bound("Tue, 12 Mar 2024 08:13:44 GMT")
    window = PublishedWindow(parse_window_bound("2024-03-01"), parse_window_bound("2024-04-01"))
    assert window.accepts("2024-03-12T08:13:44.123Z") and not window.accepts("2024-04-01T00:00:00+00:00")
    assert window.accepts("not a date"), "an unknown date is kept"
    assert window.is_before("2024-02-29T23:59:59") and not window.is_before(None)
