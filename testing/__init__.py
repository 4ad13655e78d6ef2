"""Test support shared by the tests, the benchmarks and the demo: not part of the installed twin.

- :mod:`testing.fixture_server`: a local HTTP server that plays Medium, Substack, GitHub, LinkedIn
  and a blog from the saved payloads under ``testing/site/``.
- :mod:`testing.airflow`: a real Airflow (its own metadata database, a free port) for a ``with`` block.
- :mod:`testing.corpus`: a LinkedIn author's posts and rows shaped like ``marts.sft_samples``
  (training tests and the training benchmark).

The demo's sample site is :mod:`demo.site` (the tests import it from there). Tests live under
``tests/`` and mirror the tree; only what another part needs (benchmarks, the demo) belongs here.
"""
