"""What the command-line tools share: a one-line progress bar on stderr (fastdrop-bench,
fastdrop-mlp and MLP.fit), and the check of an output file before a long run."""

from __future__ import annotations

import os
import sys


def unwritable(path: str) -> str | None:
    """Why ``path`` cannot be written, or None; checked before a run rather than after it.

    Opening for appending changes nothing in an existing file; a file the check creates is
    removed again.

    Examples
    --------
    >>> unwritable("/nonexistent-directory/out.json")
    'cannot write /nonexistent-directory/out.json: No such file or directory'
    """
    if not path:
        return "the file name is empty"
    existed = os.path.lexists(path)
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as error:
        return f"cannot write {path}: {error.strerror}"
    if not existed:
        os.remove(path)
    return None


class Progress:
    """A one-line progress bar on stderr (stdout stays clean for the table).

    Parameters
    ----------
    total : int
        Steps in all.
    enabled : bool
        Draw it (the CLI does when stderr is a terminal).

    Examples
    --------
    >>> bar = Progress(2, enabled=False)
    >>> bar.step("dropout 2^18 float32 p=0.1"); bar.close(); bar.done
    1
    """

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.enabled = total, 0, enabled

    def step(self, label: str) -> None:
        self.done += 1
        if self.enabled:
            filled = 30 * self.done // self.total
            bar = "#" * filled + "." * (30 - filled)
            sys.stderr.write(f"\r[{bar}] {self.done}/{self.total} {label:<28}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 72 + "\r")
            sys.stderr.flush()
