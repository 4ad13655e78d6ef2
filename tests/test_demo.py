"""`twin demo --headless` (the whole pipeline on the sample persona and the shipped default model:
training that beats the base, a cited post that passes the quality check) and `twin up` (every
service, a new user's whole journey in a browser, Ctrl-C stops them): no servers left behind."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid

import psutil
import pytest

from twin.core.db import drop_database, ensure_database, with_database
from twin.core.ports import free_port

pytestmark = pytest.mark.slow


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def demo_env(admin_database_url, tmp_path):
    suffix = uuid.uuid4().hex[:8]
    database, airflow_database = f"demo_{suffix}", f"demo_airflow_{suffix}"
    ensure_database(admin_database_url, database)
    ports = {name: free_port() for name in ("airflow", "serving", "web", "site")}
    env = {
        **os.environ,
        "DATABASE_URL": with_database(admin_database_url, database),
        "TWIN_HOME": str(tmp_path / "home"),
        "TWIN_AIRFLOW_DB_NAME": airflow_database,
        "TWIN_AIRFLOW_URL": f"http://127.0.0.1:{ports['airflow']}",
        "TWIN_SERVING_URL": f"http://127.0.0.1:{ports['serving']}",
        "TWIN_WEB_PORT": str(ports["web"]),
        "TWIN_RAY_DASHBOARD": "false",
        "TWIN_RAY_NUM_CPUS": "2",
    }
    for name in (
        "AIRFLOW_HOME",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CORE__DAGS_FOLDER",
        "TWIN_BASE_MODEL",
    ):
        env.pop(name, None)  # the demo configures its own Airflow
    yield env, ports
    drop_database(admin_database_url, airflow_database)
    drop_database(admin_database_url, database)


def _figures(output: str, label: str) -> tuple[float, float]:
    match = re.search(rf"{label}[^\n]*?base\s+([\d.]+)\s+tuned\s+([\d.]+)", output)
    assert match, f"no {label!r} line in:\n{output[-4000:]}"
    return float(match.group(1)), float(match.group(2))


def _fixed_training_config(tmp_path) -> str:
    """The shipped CPU config (model, LoRA, learning rate, evaluation) on 24 samples: 6 steps, however
    busy the machine. The shipped 4-minute budget trains as many steps as the cores allow (up to 16
    here), so beside other tests it trained fewer and the margin depended on the load; 6 steps
    are enough for the same bar (author -26 %, control -9 % on a loaded machine)."""
    import yaml

    from training.config import DEFAULT_CONFIG

    config = {**yaml.safe_load(DEFAULT_CONFIG.read_text()), "max_train_samples": 24, "max_train_minutes": None}
    path = tmp_path / "smollm2-135m-cpu-24-samples.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.mark.timeout(1800)  # ~7 minutes on 2 idle cores: training the real model dominates
def test_headless_demo_trains_the_real_base_and_the_twin_writes_a_cited_post(demo_env, tmp_path):
    """On the shipped SmolLM2 default: the tuned adapter beats the base on the author's held-out text,
    the twin's post passes the quality check and cites its sources when a link is also given."""
    env, ports = demo_env
    env = {**env, "TWIN_TRAINING_CONFIG": _fixed_training_config(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "twin", "demo", "--headless", "--site-port", str(ports["site"])],
        env=env,
        capture_output=True,
        text=True,
        timeout=2400,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "demo user demo@example.com" in output and "'new': 30" in output, "LinkedIn export imported"
    assert "SmolLM2-135M-Instruct" in output

    base_author, tuned_author = _figures(output, "author perplexity")
    base_control, tuned_control = _figures(output, "control perplexity")
    assert tuned_author < base_author, "the tuned adapter beats the base on the author's held-out text"
    assert (tuned_author - base_author) / base_author < (tuned_control - base_control) / base_control, (
        "it specialised on this author more than on text in general"
    )
    _figures(output, "style score")

    assert "Base model [HuggingFaceTB/SmolLM2-135M-Instruct alone (the request asked for the base model" in output
    twin_part = output.rsplit("Your twin [", 1)[1]  # the last answer (the demo asks again if every draft failed)
    assert twin_part.startswith("HuggingFaceTB/SmolLM2-135M-Instruct + adapter "), twin_part[:200]
    post = twin_part.split("\n", 1)[1].split("(quality check passed", 1)[0]
    assert "(quality check passed" in twin_part, twin_part[:3000]
    assert len(post.split()) >= 12 and "###" not in post and "<|" not in post and "```" not in post
    assert "24 training samples, 6 steps" in output, "the run used the test's config"
    sources = twin_part.split("Sources:", 1)[1].split("Where the time went:", 1)[0]
    assert "(link," in sources and "/news/alert-budgets" in sources, sources
    assert "(retrieval," in sources and "elenavarga" in sources, "the author's own writing was used too"
    assert "http" in post or "Alert budgets" in post, "the post cites a source"
    assert "twin_finetune" in output and "total" in output

    assert not any(_port_open(port) for port in ports.values()), "every service stopped"
    assert _processes_of(env["TWIN_HOME"]) == [], "no process of the demo left behind"


def _sign_up(page, web: str, email: str) -> None:
    page.goto(f"{web}/accounts/signup/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password1]", "analytical engine 1843")
    page.fill("input[name=password2]", "analytical engine 1843")
    page.click("button:has-text('Sign up')")
    page.wait_for_url(f"{web}/sources/")


def _add_source(page, platform: str, url: str, *, own: bool = False) -> None:
    page.select_option("select[name=platform]", platform)
    page.fill("input[name=url]", url)
    if own:
        page.check("input[name=confirmed_own]")
    page.click("button:has-text('Add source')")
    page.wait_for_selector("text=Added")


def _collect_state(page) -> str:
    return page.locator("#collect-state").inner_text().strip()


@pytest.mark.timeout(1800)  # ~5 minutes on 2 idle cores
def test_up_serves_a_new_users_whole_journey_in_a_browser_and_ctrl_c_stops_everything(demo_env):
    """`twin up` as a user meets it, in a real browser: styled pages, sign-up, sources, a LinkedIn
    export imported by Airflow, Collect now followed live to the end while another user's run is
    stuck on a source that never answers, the library, a post written by the served base model."""
    import httpx

    from demo.site import SampleSite
    from tests.browser import BACKGROUND, SHOTS, chromium, stylesheet_statuses
    from twin.core.post_quality import check_post

    env, ports = demo_env
    with SampleSite() as site, socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # accepts connections (the kernel does) and never answers
        env = {**env, **site.crawl_env()}  # the sample site is on loopback; politeness stays on
        process = subprocess.Popen(
            [sys.executable, "-m", "twin", "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            deadline = time.monotonic() + 600
            while not _port_open(ports["web"]):
                assert process.poll() is None, process.stdout.read()[-3000:]
                assert time.monotonic() < deadline, "twin up did not come up"
                time.sleep(2)
            time.sleep(2)
            web = f"http://127.0.0.1:{ports['web']}"
            assert httpx.get(f"http://127.0.0.1:{ports['serving']}/healthz", timeout=60).status_code == 200
            assert (
                httpx.get(f"http://127.0.0.1:{ports['airflow']}/api/v2/monitor/health", timeout=60).status_code == 200
            )

            with chromium() as browser:
                other = browser.new_context().new_page()
                other.set_default_timeout(30_000)
                _sign_up(other, web, f"stuck-{uuid.uuid4().hex[:6]}@example.com")
                _add_source(other, "web", f"http://127.0.0.1:{silent.getsockname()[1]}/never-answers")
                other.click("button:has-text('Collect now')")
                other.wait_for_function(
                    "['Queued', 'Running'].includes(document.querySelector('#collect-state').innerText.trim())",
                    timeout=180_000,
                )  # Airflow may still be parsing the DAG

                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                page.set_default_timeout(30_000)
                stylesheets = stylesheet_statuses(page)
                _sign_up(page, web, f"elena-{uuid.uuid4().hex[:6]}@example.com")
                assert (f"{web}/static/twin/twin.css", 200) in stylesheets
                assert page.evaluate("getComputedStyle(document.body).backgroundColor") == BACKGROUND
                _add_source(page, "medium", site.medium_feed_url, own=True)
                _add_source(page, "substack", site.substack_url, own=True)
                _add_source(page, "github", site.github_profile_url)
                page.screenshot(path=SHOTS / "up-01-sources.png", full_page=True)

                page.select_option("select[name=kind]", "linkedin")
                page.set_input_files(
                    "input[name=file]",
                    files=[
                        {
                            "name": "linkedin-export.zip",
                            "mimeType": "application/zip",
                            "buffer": site.linkedin_export_zip(),
                        }
                    ],
                )
                page.click("button:has-text('Upload and import')")
                page.wait_for_selector("#upload-status .badge.succeeded", timeout=300_000)  # twin_import in Airflow
                assert "The archive was deleted after the import" in page.locator("#upload-status").inner_text()
                page.screenshot(path=SHOTS / "up-02-upload.png", full_page=True)

                page.click("nav >> text=Sources")
                page.click("button:has-text('Collect now')")
                started = time.monotonic()
                page.wait_for_function(
                    "['Succeeded', 'Failed'].includes(document.querySelector('#collect-state').innerText.trim())",
                    timeout=300_000,
                )  # the page follows the run by itself
                collected_in = time.monotonic() - started
                stuck_state = (other.reload(), _collect_state(other))[1]
                print(
                    f"\nCollect now: {_collect_state(page)} in {collected_in:.0f} s, beside another user's "
                    f"run that is {stuck_state}"
                )
                assert _collect_state(page) == "Succeeded", page.locator("#collect-status").inner_text()
                statuses = page.locator("#collect-status tbody .badge:not(.platform)").all_inner_texts()
                assert statuses == ["succeeded"] * 3, statuses
                assert stuck_state in ("Queued", "Running"), "the stuck run is still in progress: it held nothing"
                page.screenshot(path=SHOTS / "up-03-collected.png", full_page=True)

                page.click("nav >> text=Library")
                page.wait_for_url(f"{web}/library/")
                page.wait_for_selector(".stats .stat .l")  # all_inner_texts() does not wait for the page
                platforms = " ".join(page.locator(".stats .stat .l").all_inner_texts())
                assert all(name in platforms for name in ("linkedin", "medium", "substack", "github")), platforms
                assert int(page.locator(".stats .stat .n").first.inner_text()) >= 30
                page.screenshot(path=SHOTS / "up-04-library.png", full_page=True)

                page.click("nav >> text=Compose")
                page.fill("textarea[name=text]", "What a year of on-call taught me about alert budgets")
                page.fill("textarea[name=links]", site.shared_article_url)
                page.click("button:has-text('Write my post')")
                # an untrained twin writes with the base model alone: a post that passes the quality
                # check, or (every draft rejected) the reasons and the way forward; never a bad post
                page.wait_for_selector(".generation .post, .quality-failed", timeout=400_000)
                page.screenshot(path=SHOTS / "up-05-compose.png", full_page=True)
                if page.locator(".generation .post").count():
                    post = page.locator(".generation .post").first.inner_text()
                    report = check_post(post)
                    assert report.passed, (report.problems, post)
                    assert page.locator(".generation .sources").first.inner_text().strip(), "it shows its sources"
                else:
                    notice = page.locator(".quality-failed").inner_text()
                    assert "Train your twin" in notice and page.locator(".quality-failed .problems li").count(), notice
        finally:
            process.send_signal(signal.SIGINT)
            output, _ = process.communicate(timeout=180)
    assert "web app" in output and "serving API" in output and "Airflow" in output
    assert "Ray            127.0.0.1:" in output, "one Ray for every service"
    assert not any(_port_open(ports[name]) for name in ("web", "serving", "airflow")), "every service stopped"
    assert _processes_of(env["TWIN_HOME"]) == [], "no process left, Ray's included"
    assert not os.path.exists(os.path.join(env["TWIN_HOME"], "ray.json"))


def _processes_of(home: str) -> list[str]:
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.environ().get("TWIN_HOME") == home:
                found.append(" ".join(proc.info["cmdline"] or [])[:200])
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found
