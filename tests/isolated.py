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
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tempfile.gettempdir(),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
