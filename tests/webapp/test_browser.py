"""The key pages in a real headless Chromium (Debian's, driven by Playwright) against a live server:
sign up -> add a source -> upload an export and collect (Airflow down: both wait as pending) -> compose a post,
streamed from the stand-in serving app, and see its sources -> edit and rate it.
Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import SHOTS, chromium
from tests.webapp.serving_standin import TOKEN, StandInServing
from tests.webapp.sources.test_services import export_zip

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_page():
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(20_000)
        yield page


def test_sign_up_add_source_collect_and_compose(
    live_server, browser_page, settings, airflow_down, monkeypatch, tmp_path
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # ORM checks below run beside Playwright's loop
    page, base = browser_page, live_server.url
    with StandInServing(token_delay=0.01) as serving:
        settings.TWIN_SERVING_URL, settings.TWIN_SERVING_TOKEN = serving.url, TOKEN

        page.goto(f"{base}/compose/")
        assert "/accounts/login/" in page.url  # login required
        page.click("text=Create an account")
        page.fill("input[name=email]", "ada.browser@example.com")
        page.fill("input[name=password1]", "analytical engine 1843")
        page.fill("input[name=password2]", "analytical engine 1843")
        page.screenshot(path=SHOTS / "01-signup.png")
        page.click("button:has-text('Sign up')")
        page.wait_for_url(f"{base}/sources/")

        page.select_option("select[name=platform]", "auto")
        page.fill("input[name=url]", "https://medium.com/@Ada?source=rss")
        page.click("button:has-text('Add source')")
        page.wait_for_selector("text=Added Medium source https://medium.com/@ada")
        page.fill("input[name=url]", "https://gitlab.com/ada")
        page.select_option("select[name=platform]", "github")
        page.click("button:has-text('Add source')")
        page.wait_for_selector("text=not a github.com address")
        page.screenshot(path=SHOTS / "02-sources.png", full_page=True)

        page.select_option("select[name=kind]", "medium")
        page.set_input_files(
            "input[name=file]",
            files=[{"name": "medium-export.zip", "mimeType": "application/zip", "buffer": export_zip("medium")}],
        )
        page.click("button:has-text('Upload and import')")
        page.wait_for_url(f"{base}/sources/uploads/*/")
        page.wait_for_selector("#upload-status .badge.pending")  # Airflow is down: the import waits for it
        assert "Waiting for Airflow" in page.locator("#upload-status").inner_text()
        page.screenshot(path=SHOTS / "02b-upload-waiting.png", full_page=True)
        from twin.orchestration.collect import import_upload
        from webapp.sources.models import Upload

        upload = Upload.objects.get(original_name="medium-export.zip", user__email="ada.browser@example.com")
        import_upload(upload.pk, upload.user_id, "medium", Path(upload.stored_path).name)  # as twin_import's task will
        page.click("nav >> text=Sources")

        page.click("button:has-text('Collect now')")
        page.wait_for_selector("text=Waiting for Airflow")
        assert page.locator("#collect-state").inner_text() == "Pending (Airflow not reached yet)"
        page.screenshot(path=SHOTS / "03-collect-pending.png", full_page=True)

        page.click("nav >> text=Compose")
        page.fill("textarea[name=text]", "What running RAG on plain Postgres taught us")
        page.fill("textarea[name=links]", "https://example.com/pgvector-paper")
        page.select_option("select[name=tone]", "reflective")
        page.click("button:has-text('Write my post')")
        page.wait_for_selector("#stream-post")  # tokens stream into the page...
        page.wait_for_selector(".generation .post")  # ...then the saved post with its sources replaces them
        post = page.locator(".generation .post").first.inner_text()
        assert post.startswith("Three things I learned about what running rag on plain postgres taught us")
        sources = page.locator(".generation .sources").first.inner_text()
        assert "Postgres is enough for RAG" in sources and "Why boring technology wins" in sources
        assert "https://example.com/pgvector-paper" in page.locator(".generation").first.inner_text()
        page.click(".generation button:has-text('Copy')")
        page.wait_for_selector(".generation button:has-text('Copied')")
        page.screenshot(path=SHOTS / "04-compose-post.png", full_page=True)
        assert (
            serving.requests[-1]["body"]["stream"] is True
            and "Tone: reflective" in serving.requests[-1]["body"]["prompt"]
        )

        page.fill(".generation textarea[name=edited_post]", "My own take: Postgres was enough.")
        page.select_option(".generation select[name=rating]", "5")
        page.click(".generation button:has-text('Save')")
        page.wait_for_selector("text=Saved your edit and rating.")
        assert "rated 5/5" in page.content()

        # a draft that fails serving's quality check is cleared from the page, with the reason, and
        # only the post that passed is saved
        serving.set_mode("retry")
        serving.httpd.token_delay = 0.1
        page.click("button:has-text('Regenerate')")
        page.wait_for_selector("text=A draft failed the quality check")
        page.wait_for_function("document.querySelectorAll('.generation').length >= 2", timeout=30000)
        assert "salad" not in page.locator(".generation .post").first.inner_text()
        serving.set_mode("ok")
        serving.httpd.token_delay = 0.01

        page.click("nav >> text=Library")
        page.wait_for_selector("text=Notes on Fine-Tuning Small Models")  # from the imported export
        page.screenshot(path=SHOTS / "05-library.png", full_page=True)
        page.click("nav >> text=Twin")
        page.wait_for_selector("text=No model yet")
        page.screenshot(path=SHOTS / "06-twin.png", full_page=True)

    from webapp.compose.models import Generation

    rated, regenerated = Generation.objects.filter(user__email="ada.browser@example.com").order_by("created_at")
    assert rated.rating == 5 and rated.edited_post == "My own take: Postgres was enough."
    assert "salad" not in regenerated.post and regenerated.post.startswith("Three things I learned")
