"""How `make test` spreads the suite over two xdist workers: units of work and their order."""

from pathlib import Path

from testing.scheduling import LONGEST_FIRST, SERIAL, SERIAL_SCOPE, rank, scope

TESTS = Path(__file__).resolve().parent.parent


def test_a_file_is_one_unit_so_its_module_services_start_once():
    assert scope("tests/dags/test_backfill.py::test_a") == scope("tests/dags/test_backfill.py::test_b")
    assert scope("tests/dags/test_backfill.py::test_a") != scope("tests/dags/test_twin_collect.py::test_a")


def test_the_files_that_share_ray_with_the_test_process_are_one_unit():
    for nodeid in (
        "tests/test_multinode.py::test_x",
        "tests/test_stack.py::test_y",
        "tests/training/test_pipeline.py::test_z",
        "tests/serving/test_app.py::test_w",
        "tests/dags/test_twin_finetune.py::test_v",
    ):
        assert scope(nodeid) == SERIAL_SCOPE, nodeid
    assert scope("tests/serving/test_pipeline.py::test_u") != SERIAL_SCOPE


def test_the_demos_two_tests_may_run_on_two_workers():
    headless = "tests/test_demo.py::test_headless_demo_trains_the_real_base_and_the_twin_writes_a_cited_post"
    up = "tests/test_demo.py::test_up_serves_a_new_users_whole_journey_in_a_browser_and_ctrl_c_stops_everything"
    assert scope(headless) != scope(up)


def test_the_longest_units_come_first_and_the_rest_keep_their_order():
    ordered = sorted(
        [
            "tests/crawlers/test_crawl.py::test_a",
            "tests/test_stack.py::test_b",
            "tests/test_demo.py::test_headless_demo_x",
            "tests/crawlers/test_cli_crawl.py::test_c",
        ],
        key=rank,
    )
    assert ordered == [
        "tests/test_demo.py::test_headless_demo_x",
        "tests/test_stack.py::test_b",
        "tests/crawlers/test_crawl.py::test_a",
        "tests/crawlers/test_cli_crawl.py::test_c",
    ]


def test_every_path_named_in_the_tables_exists():
    for prefix in (*SERIAL, *LONGEST_FIRST):
        path = prefix.split("::", 1)[0]
        assert (TESTS / path).exists(), f"testing/scheduling.py names {path}, which is not under tests/"
