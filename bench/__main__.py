"""``python -m bench [--quick] [--only NAME]``: run the benches, one JSON line per case.

Exit status: 0 when every bench ran (whether or not its targets were met), 1 when a bench
raised, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import pkgutil
import sys
import time
import traceback

import bench
from bench._common import check_target, emit


def bench_modules() -> list[str]:
    """Names of the bench modules: every module in bench/ not starting with ``_``."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules(bench.__path__)
        if not info.name.startswith("_") and not info.name.startswith("test_")
    )


def main(argv: list[str] | None = None) -> int:
    available = bench_modules()
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Run the benchmarks: one JSON line per case on stdout."
    )
    parser.add_argument("--quick", action="store_true", help="smaller cases, under a minute")
    parser.add_argument(
        "--only",
        metavar="NAME",
        action="append",
        help=f"a bench module ({', '.join(available)}) or one case (e.g. health.full_ms); "
        "repeatable",
    )
    args = parser.parse_args(argv)

    selected = available
    cases: set[str] = set()
    if args.only:
        wanted = {name.split(".", 1)[0] for name in args.only}
        unknown = sorted(wanted - set(available))
        if unknown:
            parser.error(f"unknown bench {', '.join(unknown)}; known: {', '.join(available)}")
        selected = [name for name in available if name in wanted]
        cases = {name for name in args.only if "." in name}

    stdout = sys.stdout
    failed: list[str] = []
    emitted: set[str] = set()
    for name in selected:
        started = time.perf_counter()
        try:
            # Only result lines go to stdout; anything a bench prints goes to stderr.
            with contextlib.redirect_stdout(sys.stderr):
                module = importlib.import_module(f"bench.{name}")
                results = [check_target(result) for result in module.run(quick=args.quick)]
        except Exception:
            failed.append(name)
            print(f"bench {name}: error", file=sys.stderr)
            traceback.print_exc()
            continue
        # `--only health.full_ms` keeps that case; `--only health` keeps all of the module's.
        wanted_here = {case for case in cases if case.split(".", 1)[0] == name}
        for result in results:
            if not wanted_here or result["bench"] in wanted_here:
                emit(result, stdout)
                emitted.add(result["bench"])
        elapsed = time.perf_counter() - started
        print(f"bench {name}: {len(results)} case(s) in {elapsed:.1f}s", file=sys.stderr)

    missing = {case for case in cases if case.split(".", 1)[0] not in failed} - emitted
    if missing:
        print(f"no such case: {', '.join(sorted(missing))}", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
