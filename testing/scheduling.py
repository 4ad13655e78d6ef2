"""How `make test` spreads the suite over pytest-xdist workers (``-n 2`` on 2 cores).

Most slow tests wait on a service starting (Airflow, Ray, a browser) for much of their time, so two
workers overlap that waiting. Three rules keep the run correct and short:

* A test file is one unit: its module-scoped services (a live Airflow, a Ray cluster) start once.
* The files that start Ray in the test process or on Ray's default ports run one after another on
  one worker (:data:`SERIAL`), as they did before; every other Ray (the demo's stack, `twin up`)
  runs on ports and temp dirs of its own and may run beside them.
* The longest units go first (:data:`LONGEST_FIRST`): the run ends when the last unit does.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

# Paths under tests/ (a folder ends with "/") of the files that share Ray with the test process or
# with each other: run on one worker, in this order.
SERIAL = (
    "test_multinode.py",
    "test_stack.py",
    "serving/test_app.py",
    "training/",
    "dags/test_twin_finetune.py",
)
SERIAL_SCOPE = "serial: Ray in the test process"

# Units that may each go to a worker of their own, with their tests split (function fixtures only).
PER_TEST = ("test_demo.py",)

# Node-id prefixes under tests/, longest measured first (fresh-clone CI --durations).
LONGEST_FIRST = (
    "test_demo.py::test_headless_demo",  # ~12 min: the real model trained
    *SERIAL,  # ~20 min together
    "test_demo.py::test_up",  # ~5 min
    "dags/test_celery_executor.py",
    "dags/test_backfill.py",
    "dags/test_collect_concurrency.py",
    "twin/orchestration/test_airflow_client.py",
    "dags/test_twin_collect.py",
    "webapp/collection/test_airflow_live.py",
)


def rank(nodeid: str) -> int:
    """Position of a test in :data:`LONGEST_FIRST` (those not listed after every listed one)."""
    node = nodeid.removeprefix("tests/")
    return next((index for index, prefix in enumerate(LONGEST_FIRST) if node.startswith(prefix)), len(LONGEST_FIRST))


def scope(nodeid: str) -> str:
    """The unit of work a test belongs to (see the module doc)."""
    node = nodeid.removeprefix("tests/")
    if node.startswith(SERIAL):
        return SERIAL_SCOPE
    if node.split("::", 1)[0] in PER_TEST:
        return nodeid.split("[", 1)[0]
    return nodeid.split("::", 1)[0]


class GroupedScheduling(LoadScopeScheduling):
    """xdist's per-scope scheduling with :func:`scope` as the unit, in collection order (which
    ``tests/conftest.py`` sorts longest first) instead of xdist's most-tests-first."""

    def __init__(self, config, log=None) -> None:
        super().__init__(config, log)
        config.option.loadscopereorder = False

    def _split_scope(self, nodeid: str) -> str:
        return scope(nodeid)
