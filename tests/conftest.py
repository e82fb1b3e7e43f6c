"""Shared pytest hooks: the fuzz execution count (tests/test_fuzz_api.py) in the summary, and
which test files need optional packages."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time

# tests/test_dask.py needs the dask extra (in the test extra): it is left out only where that is
# not installed, as in .ci/wheel_test's run with the oldest dependencies (xarray and Dask need a
# newer NumPy than fastdrop's oldest). .ci/run checks that they are installed for its run.
_ENGINES = ("dask", "distributed", "xarray")
collect_ignore = [] if all(importlib.util.find_spec(n) for n in _ENGINES) else ["test_dask.py"]


def pytest_terminal_summary(terminalreporter):
    """Print how many times each fuzz target ran (every example hypothesis executed, shrinking
    included); with FASTDROP_FUZZ_LOG=path, also append them to that file as one JSON line."""
    module = sys.modules.get("test_fuzz_api")
    counts = dict(getattr(module, "EXECUTIONS", {}))
    if not counts:
        return
    total = sum(counts.values())
    terminalreporter.write_sep("-", f"fastdrop fuzz: {total} executions")
    for name, count in sorted(counts.items()):
        terminalreporter.write_line(f"{name}: {count}")
    log = os.environ.get("FASTDROP_FUZZ_LOG")
    if log:
        record = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "examples_setting": module.MAX_EXAMPLES,
            "executions": counts,
            "total": total,
            "failed": terminalreporter.stats.get("failed", []) != [],
        }
        with open(log, "a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")
