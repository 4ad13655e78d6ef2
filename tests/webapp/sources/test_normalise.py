import pytest
from django.core.exceptions import ValidationError

from webapp.sources.normalise import detect_platform, normalise_source


@pytest.mark.parametrize(
    "platform, raw, expected",
    [
        ("medium", "@Ada", "https://medium.com/@ada"),
        ("medium", "https://medium.com/@ada/some-post-123?source=rss", "https://medium.com/@ada"),
        ("medium", "medium.com/feed/@ada", "https://medium.com/@ada"),
        ("medium", "https://ada.medium.com/", "https://ada.medium.com"),
        ("medium", "https://medium.com/towards-data-science", "https://medium.com/towards-data-science"),
        ("medium", "https://blog.example.org/about", "https://blog.example.org"),
        ("medium", "https://blog.example.org/feed/", "https://blog.example.org/feed"),
        ("medium", "https://mirror.example.org/medium/feed/@ada", "https://mirror.example.org/medium/feed/@ada"),
        ("substack", "ada", "https://ada.substack.com"),
        ("substack", "https://ada.substack.com/p/why-boring-wins?utm_source=x", "https://ada.substack.com"),
        ("substack", "ada.substack.com/archive", "https://ada.substack.com"),
        ("substack", "https://newsletter.example.com/p/a-post", "https://newsletter.example.com"),
        ("github", "ada-l", "https://github.com/ada-l"),
        ("github", "@ada-l", "https://github.com/ada-l"),
        ("github", "https://github.com/ada-l/engine/tree/main", "https://github.com/ada-l"),
        (
            "linkedin",
            "https://www.linkedin.com/posts/ada_rag-activity-123?utm_source=share&trk=x",
            "https://www.linkedin.com/posts/ada_rag-activity-123",
        ),
        (
            "linkedin",
            "https://uk.linkedin.com/pulse/postgres-enough-ada",
            "https://www.linkedin.com/pulse/postgres-enough-ada",
        ),
        ("web", "HTTPS://Example.COM/blog/post?utm_campaign=x&id=7#comments", "https://example.com/blog/post?id=7"),
        ("web", "arxiv.org/pdf/1706.03762", "https://arxiv.org/pdf/1706.03762"),
        ("auto", "@grace", "https://medium.com/@grace"),
        ("auto", "https://github.com/grace", "https://github.com/grace"),
    ],
)
def test_normalises_each_platforms_forms(platform, raw, expected):
    assert normalise_source(platform, raw)[1] == expected


def test_auto_detects_the_platform():
    assert normalise_source("auto", "grace.substack.com") == ("substack", "https://grace.substack.com")
    assert detect_platform("https://lnkd.in/abc") == "linkedin"
    assert detect_platform("https://blog.example.org/x") == "web"


@pytest.mark.parametrize(
    "platform, raw, message",
    [
        ("github", "https://gitlab.com/ada", "not a github.com address"),
        ("github", "-bad-", "not a valid GitHub username"),
        ("linkedin", "https://example.com/in/ada", "not a linkedin.com address"),
        ("linkedin", "https://www.linkedin.com/company", "LinkedIn post or article"),
        ("linkedin", "linkedin.com/in/ada-lovelace/recent-activity/all/", "Upload your LinkedIn data export instead"),
        ("medium", "@", "Medium handle"),
        ("substack", "https://substack.com/@ada", "publication"),
        ("web", "ftp://example.com/file", "Only http"),
        ("web", "not a url", "spaces"),
        ("web", "http://127.0.0.1:8000/admin", "private"),
        ("web", "http://169.254.169.254/latest/meta-data", "private"),
        ("web", "http://localhost/x", "private"),
        ("web", "https://user:pw@example.com/", "password"),
        ("web", "", "Enter"),
    ],
)
def test_rejects_invalid_input_with_a_reason(platform, raw, message):
    with pytest.raises(ValidationError, match=message):
        normalise_source(platform, raw)


def test_private_addresses_pass_when_allowed():
    assert normalise_source("web", "http://127.0.0.1:8123/feed", allow_private=True) == (
        "web",
        "http://127.0.0.1:8123/feed",
    )
