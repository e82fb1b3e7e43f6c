"""One path through a compiled loop as a straight instruction stream, for llvm-mca.

    python benchmarks/mca_path.py FILE.s FUNCTION BLOCK... > path.s
    llvm-mca -mtriple=aarch64 -mcpu=neoverse-v1 -iterations=200 path.s

Prints the named basic blocks of FUNCTION in FILE.s (an assembly listing from `cc -S`), in the
order given, without branches, calls, directives and comments. Blocks are named by their labels
as the compiler prints them: Clang's `.LBB0_9` and `// %bb.10`, GCC's `.L173`. Given the blocks
that one iteration of a loop executes for one T, llvm-mca models that iteration repeated: it
cannot follow branches itself. benchmarks/NEON.md has the blocks used for its estimates.
"""

from __future__ import annotations

import re
import sys

LABEL = re.compile(r"^(\.LBB\d+_\d+|\.L\d+):|^// (%bb\.\d+):")
COMMENT = re.compile(r"//.*|(^|\s)#(\s.*|$)")  # AArch64's // and x86's "# ", not "#4"
BRANCHES = {"b", "bl", "br", "cbz", "cbnz", "tbz", "tbnz", "ret", "call", "jmp"}


def blocks_of(listing: str, function: str) -> dict[str, list[str]]:
    """The instructions of each labelled block of `function`, branches left out."""
    lines = listing.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(function + ":"))
    blocks: dict[str, list[str]] = {}
    current = None
    for line in lines[start + 1 :]:
        if re.match(r"^[A-Za-z_][\w.]*:", line):
            break  # the next function
        label = LABEL.match(line)
        if label:
            current = label.group(1) or label.group(2)
            blocks[current] = []
            continue
        text = COMMENT.sub("", line).strip()
        if current is None or not text or text.startswith("."):
            continue
        op = text.split()[0]
        if op in BRANCHES or op.startswith("b.") or (op.startswith("j") and op != "jmp"):
            continue
        blocks[current].append("\t" + text)
    return blocks


def main() -> None:
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    path, function, order = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(path) as listing:
        blocks = blocks_of(listing.read(), function)
    for name in order:
        print("\n".join(blocks[name]))


if __name__ == "__main__":
    main()
