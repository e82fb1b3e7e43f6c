"""``python -m fastdrop`` runs fastdrop-bench."""

import sys

from ._cli import main

sys.exit(main())
