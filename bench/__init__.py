"""Benchmarks: ``python -m bench`` runs every module here and prints one JSON line per case.

Each bench module (any ``bench/<name>.py`` whose name does not start with ``_``) exposes
``run(quick: bool) -> list[dict]``. See ``bench/README.md`` for the conventions.
"""
