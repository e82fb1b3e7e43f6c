"""fastdrop: fast, exact, reproducible dropout for NumPy arrays.

A mask is a pure function of a Philox4x32-10 key, an offset and each element's logical index, so
results are bit-identical across dtypes, memory layouts, SIMD paths and thread counts.
"""

__version__ = "0.1.0"

try:
    from . import _core  # noqa: F401
except ImportError as error:
    if "FASTDROP_" in str(error):
        raise
    raise ImportError(
        "fastdrop's C extension (fastdrop._core) could not be imported: install fastdrop with "
        "'python -m pip install .' rather than importing it from the source tree"
    ) from error

from .functional import (
    dropout,
    dropout_mask,
    gaussian_dropout,
    get_num_threads,
    philox4x32,
    set_num_threads,
    simd_path,
    standard_normal,
)
from .random import Draw, Philox

__all__ = [
    "Draw",
    "Philox",
    "__version__",
    "dropout",
    "dropout_mask",
    "gaussian_dropout",
    "get_num_threads",
    "philox4x32",
    "set_num_threads",
    "simd_path",
    "standard_normal",
]
