"""Airflow's local-settings hook for the twin: imported by every Airflow process at start.

In the processes that fork task processes (the scheduler, a Celery worker) it preloads the modules
the twin's tasks import (:mod:`twin.orchestration.task_preload`); elsewhere it does nothing.
"""

import sys

from twin.orchestration.task_preload import forks_tasks, preload, preload_enabled

if preload_enabled() and forks_tasks(sys.argv):
    preload()
