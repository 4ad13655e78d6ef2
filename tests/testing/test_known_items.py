"""The known-item corpus the retrieval benchmark reads: enough long articles, each query well formed."""

from testing import known_items
from testing.known_items.check_article import FOLDER, problems


def test_every_article_meets_the_rules():
    paths = sorted(FOLDER.glob("*.md"))
    assert len(paths) >= 60
    assert {path.name: problems(path) for path in paths if problems(path)} == {}


def test_queries_are_titles_passages_and_paraphrases_of_each_article():
    corpus = known_items.articles()
    queries = known_items.queries(corpus)
    assert len({article.title for article in corpus}) == len(corpus)
    assert len({article.url for article in corpus}) == len(corpus)
    assert [query.kind for query in queries[:7]] == ["title"] + ["verbatim"] * 3 + ["paraphrase"] * 3
    records = known_items.records(corpus)
    for article, record in zip(corpus, records):
        assert record.source_url == article.url and record.kind == "article" and record.content == article.body
        assert all(passage in record.content for passage in article.passages)
