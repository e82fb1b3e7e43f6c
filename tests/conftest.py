"""Shared pytest hooks: the fuzz execution count (tests/test_fuzz_api.py) in the summary."""

from __future__ import annotations

import json
import os
import sys
import time


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
