"""Slow NumPy models of fastdrop, written from the published algorithms and fastdrop's documented
rule (src_c/fd_dropout.h), independent of the C code. Tests compare the package against them."""

from __future__ import annotations

import numpy as np

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK32 = np.uint64(0xFFFFFFFF)
BLOCK = 128  # elements per counter block


def philox4x32_10(counter: np.ndarray, key: tuple[int, int] | np.ndarray) -> np.ndarray:
    """Philox4x32-10 of counters of shape (..., 4) under key (k0, k1), as in Random123."""
    c = np.asarray(counter, dtype=np.uint64)
    x0, x1, x2, x3 = (c[..., i].copy() for i in range(4))
    k0, k1 = int(key[0]), int(key[1])
    for _ in range(10):
        p0 = M0 * x0
        p1 = M1 * x2
        x0, x1, x2, x3 = (
            (p1 >> np.uint64(32)) ^ x1 ^ np.uint64(k0),
            p1 & MASK32,
            (p0 >> np.uint64(32)) ^ x3 ^ np.uint64(k1),
            p0 & MASK32,
        )
        k0 = (k0 + W0) & 0xFFFFFFFF
        k1 = (k1 + W1) & 0xFFFFFFFF
    return np.stack([x0, x1, x2, x3], axis=-1).astype(np.uint32)


def split_key(key: int) -> tuple[int, int]:
    return key & 0xFFFFFFFF, key >> 32


def threshold(p: float) -> int:
    """T = 2**32 - round(p * 2**32), halves rounded up (p * 2**32 is exact in binary)."""
    from fractions import Fraction

    scaled = Fraction(p) * 2**32
    return 2**32 - int(scaled + Fraction(1, 2))


PLANES = 8  # bit planes before the ties


def uniforms(key: int, offset: int, n: int) -> np.ndarray:
    """U_i, the 32-bit uniform of each element: the top 8 bits from the bit planes c3 = 0..7
    (bit e % 32 of word e // 32), the low 24 from the top of word e % 4 at c3 = 8 + e // 4."""
    blocks = -(-n // BLOCK)
    counters = np.zeros((blocks, 4), dtype=np.uint64)
    block_counter = [offset + b for b in range(blocks)]  # up to 96 bits: Python ints
    counters[:, 0] = [c & 0xFFFFFFFF for c in block_counter]
    counters[:, 1] = [(c >> 32) & 0xFFFFFFFF for c in block_counter]
    counters[:, 2] = [c >> 64 for c in block_counter]
    u = np.zeros(blocks * BLOCK, dtype=np.uint64)
    bit = np.arange(32, dtype=np.uint32)
    for plane in range(PLANES):
        counters[:, 3] = plane
        words = philox4x32_10(counters, split_key(key))  # (blocks, 4)
        bits = (words[:, :, None] >> bit) & 1  # (blocks, 4 words, 32 bits) -> element order
        u = (u << np.uint64(1)) | bits.reshape(-1).astype(np.uint64)
    low = np.zeros((blocks, BLOCK // 4, 4), dtype=np.uint64)
    for group in range(BLOCK // 4):  # elements 4 * group .. 4 * group + 3
        counters[:, 3] = PLANES + group
        low[:, group, :] = philox4x32_10(counters, split_key(key)) >> 8
    u = (u << np.uint64(24)) | low.reshape(-1)
    return u[:n]


def keep_mask(key: int, offset: int, shape: tuple[int, ...] | int, p: float) -> np.ndarray:
    """The bool mask of fastdrop's rule: keep element i iff U_i < threshold(p)."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    n = int(np.prod(shape, dtype=np.int64))
    return (uniforms(key, offset, n) < threshold(p)).reshape(shape)


def dropout(
    x: np.ndarray, p: float, mask: np.ndarray, *, training: bool = True, mode: str = "inverted"
) -> np.ndarray:
    """fastdrop.dropout's result for a given mask: +0.0 where dropped (even NaN), kept elements
    scaled in the dtype (float16 through float32, rounded once)."""
    x = np.asarray(x)
    dtype = x.dtype.newbyteorder("=")
    work = np.float32 if dtype == np.float16 else dtype.type
    if training:
        scale = 1.0 / (1.0 - p) if mode == "inverted" and p < 1 else 1.0
        keep = mask
    else:
        scale = 1.0 - p if mode == "vanilla" else 1.0
        keep = np.ones(x.shape, bool)
    if scale == 1.0:
        kept = x.astype(dtype)
    else:
        with np.errstate(all="ignore"):
            kept = (x.astype(work) * work(scale)).astype(dtype)
    return np.where(keep, kept, dtype.type(0))


def special_values(dtype: np.dtype) -> np.ndarray:
    """Values that break careless kernels: +-0, +-inf, NaNs, extremes, subnormals, exact ones."""
    info = np.finfo(dtype)
    values = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, info.max, -info.max, info.tiny]
    values += [info.smallest_subnormal, -info.smallest_subnormal, 1.0, -1.0, 2.0, 0.5]
    return np.array(values, dtype=dtype)


def standard_normal(key: int, offset: int, n: int) -> np.ndarray:
    """fd_normal's Box-Muller rule (src_c/fd_dropout.h) in float64: pair j of block b from
    Philox at (offset + b, 64 + j), u1 = (1 + top 53 bits of w1 w0) / 2^53 in (0, 1],
    u2 = (top 53 bits of w3 w2) / 2^53; even elements take the cosine, odd the sine."""
    i = np.arange(n, dtype=np.uint64)
    counter = offset + (i // np.uint64(BLOCK)).astype(object)  # up to 96 bits: Python ints
    counters = np.zeros((n, 4), dtype=np.uint64)
    counters[:, 0] = [c & 0xFFFFFFFF for c in counter]
    counters[:, 1] = [(c >> 32) & 0xFFFFFFFF for c in counter]
    counters[:, 2] = [c >> 64 for c in counter]
    counters[:, 3] = 64 + (i % np.uint64(BLOCK)) // np.uint64(2)
    w = philox4x32_10(counters, split_key(key)).astype(np.uint64)
    top53 = np.uint64(11)
    u1 = (((w[:, 1] << np.uint64(32)) | w[:, 0]) >> top53).astype(np.float64) + 1.0
    u2 = (((w[:, 3] << np.uint64(32)) | w[:, 2]) >> top53).astype(np.float64)
    u1, u2 = u1 / 2.0**53, u2 / 2.0**53
    angle = 2 * np.pi * u2
    radius = np.sqrt(-2.0 * np.log(u1))
    return radius * np.where(i % np.uint64(2) == 0, np.cos(angle), np.sin(angle))
