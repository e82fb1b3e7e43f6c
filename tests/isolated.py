"""Python code run in a fresh interpreter: for what one process cannot show, such as which
modules an import pulls in or what happens when a package is missing."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` (dedented) in a new interpreter with ``env`` added to the environment, from
    outside the source tree (which has no compiled extension), capturing its output."""
    return run_interpreter(["-c", textwrap.dedent(code)], **env)


def run_interpreter(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """Run a new interpreter with ``args`` from an empty directory of its own: the directory
    comes first on the child's module path, so a shared one (the system's temporary directory)
    could hold a file that shadows a module (a stray nt.py broke NumPy's import once)."""
    with tempfile.TemporaryDirectory() as empty:
        return subprocess.run(
            [sys.executable, *args],
            cwd=empty,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
