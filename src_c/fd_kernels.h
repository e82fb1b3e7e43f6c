/*
 * Internal: the kernel table behind fd_dropout.h. Each SIMD path fills one fd_kernels; fd_dispatch.c
 * picks one at import. Every path must give the same bytes as the scalar one.
 */
#ifndef FD_KERNELS_H
#define FD_KERNELS_H

#include <string.h>

#include "fd_compiler.h"
#include "fd_dropout.h"

#define FD_CHUNK_BLOCKS 64 /* counter blocks whose planes are generated together */
#define FD_CHUNK_ELEMENTS (FD_CHUNK_BLOCKS * FD_BLOCK_ELEMENTS)
#define FD_CHUNK_WORDS (FD_CHUNK_BLOCKS * 4)
#define FD_DTYPES 4 /* the codes of fd_dtype: 0 .. FD_BFLOAT16 */

/* Planes a rule's bits take before keep_words prefetches the caller's memory behind them: fewer
 * are made too quickly to hide loads behind. fd_few_planes: whether a rule takes fewer (T a
 * multiple of 2^30: p = 0.25, 0.5, 0.75, and 0 and 1, which take none). */
#define FD_PREFETCH_MIN_PLANES 3
static inline int fd_few_planes(const fd_bernoulli *rule)
{
    return rule->threshold % ((uint64_t)1 << (33 - FD_PREFETCH_MIN_PLANES)) == 0;
}

typedef struct {
    const char *name;
    /* Keep bits of the call's blocks [first, first + nblocks), nblocks <= FD_CHUNK_BLOCKS:
     * bit j of words[4 * b + w] is element 128 * (first + b) + 32 * w + j (1 = kept).
     * `next` (NULL, or `next_bytes` bytes) is memory the caller reads or writes next; the kernel
     * prefetches it a few lines at a time while it computes. */
    void (*keep_words)(const fd_bernoulli *rule, uint64_t first, size_t nblocks, uint32_t *words,
                       const char *next, size_t next_bytes);
    /* Bool mask bytes (1 = kept) of 32 * ngroups elements from their keep bits. */
    void (*bool_groups)(const uint32_t *words, size_t ngroups, uint8_t *mask);
    /* Contiguous dropout of 32 * ngroups elements from x to out (which may be x), indexed by
     * fd_dtype: scale_groups multiplies kept elements by scale, select_groups copies them. */
    void (*scale_groups[FD_DTYPES])(const uint32_t *words, size_t ngroups, const char *x,
                                    char *out, double scale);
    void (*select_groups[FD_DTYPES])(const uint32_t *words, size_t ngroups, const char *x,
                                     char *out);
    /* float32 dropout at T = 2^31 (p = 0.5) in one pass with its keep bits, or NULL: the words
     * of keep_words (of any number of blocks, not only a chunk's), and meanwhile groups
     * [g0, g0 + ngroups) of them applied from x to out (at group g0's first element) as
     * scale_groups (if multiply) or select_groups would. */
    void (*half_dropout_32)(const fd_bernoulli *rule, uint64_t first, size_t nblocks,
                            uint32_t *words, size_t g0, size_t ngroups, const char *x, char *out,
                            double scale, int multiply);
    /* Standard normals (fd_normal) of n elements of a call from its element 128 * first:
     * float64 if wide, else float32, into out (any alignment). */
    void (*normal_blocks)(uint64_t key, uint64_t offset, uint64_t first, size_t n, int wide,
                          char *out);
    /* The RNG floor (fd_floor_mask, fd_floor_normal): the Philox outputs at counters
     * (offset + first + b, c3 + i), b < nblocks, i < count, generated as this path's kernels
     * generate them, xor of all their words (nothing stored). */
    uint32_t (*philox_floor)(uint64_t key, uint64_t offset, uint64_t first, size_t nblocks,
                             uint32_t c3, unsigned count);
} fd_kernels;

extern const fd_kernels fd_kernels_scalar;
#if FD_X86_SIMD
extern const fd_kernels fd_kernels_avx2;
extern const fd_kernels fd_kernels_avx512;
#endif
#if FD_ARM_NEON
extern const fd_kernels fd_kernels_neon;
#endif

/* The table fd_simd_select chose (the scalar one until then). */
const fd_kernels *fd_active_kernels(void);

/* Loads and stores through memcpy: any alignment, no aliasing trouble, one instruction each. */
static inline float fd_load_f32(const char *p) { float v; memcpy(&v, p, sizeof v); return v; }
static inline double fd_load_f64(const char *p) { double v; memcpy(&v, p, sizeof v); return v; }
static inline uint16_t fd_load_u16(const char *p) { uint16_t v; memcpy(&v, p, sizeof v); return v; }
static inline uint32_t fd_load_u32(const char *p) { uint32_t v; memcpy(&v, p, sizeof v); return v; }
static inline uint64_t fd_load_u64(const char *p) { uint64_t v; memcpy(&v, p, sizeof v); return v; }
static inline void fd_store_u16(char *p, uint16_t v) { memcpy(p, &v, sizeof v); }
static inline void fd_store_u32(char *p, uint32_t v) { memcpy(p, &v, sizeof v); }
static inline void fd_store_u64(char *p, uint64_t v) { memcpy(p, &v, sizeof v); }
static inline uint32_t fd_f32_bits(float v) { uint32_t b; memcpy(&b, &v, sizeof b); return b; }
static inline uint64_t fd_f64_bits(double v) { uint64_t b; memcpy(&b, &v, sizeof b); return b; }

/* Whether the host stores a word's low byte first (compilers fold this to a constant). */
static inline int fd_little_endian(void)
{
    const uint32_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first;
}

/* IEEE binary16 -> binary32, exact. */
static inline float fd_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    uint32_t bits;
    float v;
    if (exponent == 0x1f) {
        bits = sign | 0x7f800000u | (mantissa << 13); /* inf, or NaN with its payload */
    } else if (exponent == 0) {
        v = (float)mantissa * 5.9604644775390625e-08f; /* subnormal or zero: mantissa * 2^-24 */
        bits = sign | fd_f32_bits(v);
    } else {
        bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    }
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* IEEE binary32 -> binary16, rounding to nearest even (NumPy's rule, NaN payload included). */
static inline uint16_t fd_f32_to_f16(float f)
{
    uint32_t x = fd_f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t a = x & 0x7fffffffu;
    uint32_t h, rest, half;
    if (a >= 0x7f800000u) { /* inf or NaN; a NaN stays a NaN */
        h = 0x7c00u + ((a & 0x7fffffu) >> 13);
        if (a > 0x7f800000u && h == 0x7c00u) h++;
        return (uint16_t)(sign | h);
    }
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to inf */
    if (a < 0x38800000u) { /* below 2^-14: a float16 subnormal or zero */
        uint32_t shift, m;
        if (a <= 0x33000000u) return (uint16_t)sign; /* <= 2^-25 rounds to zero */
        shift = 126u - (a >> 23);                    /* 14 .. 24 */
        m = (a & 0x7fffffu) | 0x800000u;
        h = m >> shift;
        rest = m & ((1u << shift) - 1u);
        half = 1u << (shift - 1u);
    } else {
        uint32_t v = a - (112u << 23); /* rebias the exponent from 127 to 15 */
        h = v >> 13;
        rest = v & 0x1fffu;
        half = 0x1000u;
    }
    if (rest > half || (rest == half && (h & 1u))) h++; /* a carry into the exponent is right */
    return (uint16_t)(sign | h);
}

/* bfloat16 -> binary32, exact: the bfloat16 is the float32's top half. */
static inline float fd_bf16_to_f32(uint16_t b)
{
    const uint32_t bits = (uint32_t)b << 16;
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* binary32 -> bfloat16, rounding to nearest even (a carry into the exponent is right, and rounds
 * the largest finite values up to inf). A NaN keeps its sign and its payload's top 7 bits, with
 * the quiet bit set, as x86's VCVTNEPS2BF16 does (ml_dtypes gives the quiet NaN 0x7fc0 of the
 * sign instead, and PyTorch's scalar and vector conversions disagree). Without a branch, so that
 * group loops vectorise. */
static inline uint16_t fd_f32_to_bf16(float f)
{
    const uint32_t x = fd_f32_bits(f);
    const uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
    const uint32_t nan = (x >> 16) | 0x40u;
    return (uint16_t)((x & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

/* The bits of the element at p times s, rounded as every path rounds it (float16 and bfloat16
 * through one float32 multiply): the portable group loops and the ends of runs both use these. */
static inline uint16_t fd_f16_scaled_bits(const char *p, float s)
{
    return fd_f32_to_f16(fd_f16_to_f32(fd_load_u16(p)) * s);
}
static inline uint16_t fd_bf16_scaled_bits(const char *p, float s)
{
    return fd_f32_to_bf16(fd_bf16_to_f32(fd_load_u16(p)) * s);
}
static inline uint32_t fd_f32_scaled_bits(const char *p, float s)
{
    return fd_f32_bits(fd_load_f32(p) * s);
}
static inline uint64_t fd_f64_scaled_bits(const char *p, double s)
{
    return fd_f64_bits(fd_load_f64(p) * s);
}

#endif /* FD_KERNELS_H */
