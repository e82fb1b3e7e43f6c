/*
 * The normals of fd_normal (fd_dropout.h's rule), written once in plain C over the 64 pairs of a
 * counter block as lane arrays: fd_kernels_impl.h includes this file, so every kernel path
 * compiles it for its own ISA, and the compiler vectorises each loop (2 doubles a vector on the
 * baseline, 4 on AVX2, 8 on AVX-512). Box-Muller with fastdrop's own logarithm and sine and
 * cosine: Taylor series on reduced ranges (truncation below 2^-54, so a few ulps of rounding in
 * all) in + - * / and sqrt only, whose IEEE rounding makes them the same bits on every platform
 * and path (the C library's differ between platforms, and cos(2 pi u) of the textbook formula
 * loses digits near its zeros). Every branch is bit arithmetic, and every conversion between
 * integers and doubles is exact bit arithmetic in 64-bit lanes (vector conversions of 64-bit
 * integers need AVX-512; mixed 32/64-bit lanes stop GCC's vectoriser).
 *
 * Nothing may fuse a * b + c into an FMA here: that rounds once instead of twice, and the variates
 * would differ between paths and machines (AVX-512 implies FMA). setup.py passes
 * -ffp-contract=off, this pragma tells Clang too (GCC ignores it and warns, hence the guard), and
 * MSVC does not contract under its default /fp:precise. It holds to the end of the including
 * file, whose other kernels have no a * b + c to contract.
 */
#ifndef FD_NORMAL_IMPL_H
#define FD_NORMAL_IMPL_H

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include <math.h>

#include "fd_kernels.h"
#include "fd_philox.h"

#define FD_PAIRS (FD_BLOCK_ELEMENTS / 2) /* Box-Muller pairs of a counter block */

static inline double fd_from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

#define FD_SIGN_BIT 0x8000000000000000u

/* u = (1 + (w >> 11)) / 2^53 in (0, 1] for the Philox word w, exactly, in one subtraction of
 * doubles made from bits: A = 1 + (w >> 12) / 2^52 (the top 52 of the 53 bits) less
 * C = 1 - (1 + b) / 2^53 (b = bit 11 of w, the last), whose difference u is representable. */
static inline double uniform_open0(uint64_t w)
{
    const double a = fd_from_bits(0x3ff0000000000000u | w >> 12);
    const double c = fd_from_bits(0x3fefffffffffffffu - (w >> 11 & 1u)); /* 1 - 2^-53 (1 + b) */
    return a - c;
}

/* ln u for u in (0, 1] with 53-bit mantissa, in steps: u = m 2^e with m in [sqrt(1/2),
 * sqrt(2)), and ln m = 2 atanh(s) = 2 (s + s^3/3 + ... + s^19/19) with s = (m - 1) / (m + 1),
 * |s| < 0.172. log_reduce gives m and e from u's bits: m is u's mantissa in [1, 2), halved where
 * above sqrt(2) (the sign of the difference, all in integers, as SSE2 compares no 64-bit
 * lanes); e, in [-53, 0], is the difference of the exponents of u and m, made a double exactly
 * from its bits as 2^52 + (-e). The series of s^2 in Horner's order (log_terms); log_finish
 * ln u from e, s, s^2 and the series. */
static inline void log_reduce(double u, double *m, double *e)
{
    const uint64_t bits = fd_f64_bits(u), fraction = bits & 0x000fffffffffffffu;
    const uint64_t above = (0x6a09e667f3bcdu - fraction) >> 11 & 0x0010000000000000u; /* sqrt(2) */
    const uint64_t m_bits = (fraction | 0x3ff0000000000000u) - above;
    *m = fd_from_bits(m_bits);
    *e = 4503599627370496.0 - fd_from_bits(0x4330000000000000u | (m_bits - bits) >> 52);
}

static inline double log_finish(double e, double s, double s2, double series)
{
    static const double ln2_high = 0.6931467056274414; /* ln 2 to 20 bits: e * ln2_high is exact */
    static const double ln2_low = 4.7493250390316726e-07; /* ln 2 - ln2_high */
    return e * ln2_high + (e * ln2_low + (2.0 * s + s * (s2 * series)));
}

/* The terms of the series in Horner's order, the highest power's first: log_terms of
 * 2/3 + 2/5 s^2 + ... + 2/19 s^16, sin_terms of -1/3! + ... - 1/15! a^12 (sin a / a - 1 over
 * a^2), cos_terms of 1 - a^2/2! + ... + a^16/16!. */
static const double log_terms[9] = {
    0.10526315789473684, 0.11764705882352941, 0.13333333333333333,
    0.15384615384615385, 0.18181818181818182, 0.22222222222222222,
    0.2857142857142857,  0.4,                 0.6666666666666666};
static const double sin_terms[7] = {
    -7.647163731819816e-13,  1.6059043836821613e-10, -2.505210838544172e-08,
    2.7557319223985893e-06, -0.0001984126984126984, 0.008333333333333333,
    -0.16666666666666666};
static const double cos_terms[9] = {
    4.779477332387385e-14, -1.1470745597729725e-11, 2.08767569878681e-09,
    -2.755731922398589e-07, 2.48015873015873e-05,  -0.001388888888888889,
    0.041666666666666664,  -0.5,                   1.0};

/* Horner's steps [from, to) of a polynomial p in x2: p = terms[k] + x2 p. */
static inline double horner(const double *terms, int from, int to, double x2, double p)
{
    int k;
    for (k = from; k < to; k++) p = terms[k] + x2 * p;
    return p;
}

/* sin and cos of 2 pi t for t = k / 2^53 in [0, 1), k = h >> 11 of the Philox word h, in steps:
 * the quadrant q = k >> 51 (h's top two bits) and the fraction f of 4t (h's next 51 bits) are
 * exact. turn_angle gives a = min(f, 1 - f) pi/2 in [0, pi/4] as (1/2 - |1/2 - f|) pi/2 (every
 * step exact but the product), and in the sign bit of *swap whether sin and cos of a trade places:
 * f > 1/2 (1/2 - f < 0) xor q odd. The series of sin a to a^15/15! (finished by a + a a^2 series)
 * and cos a to a^16/16! are exact to 2^-54 (sin_terms, cos_terms); rotate gives sin and cos of
 * 2 pi t by the octant and quadrant symmetries: the swap, then the sign of the sine flipped where
 * q >= 2 and that of the cosine where q is 1 or 2. */
#define FD_FRACTION_BITS 0x7ffffffffffffu /* f = (k & this) / 2^51 */
static inline double turn_angle(uint64_t h, uint64_t *swap)
{
    /* g = 1 + f */
    const double g = fd_from_bits(0x3ff0000000000000u | (h >> 10 & FD_FRACTION_BITS << 1));
    const double half_minus_f = 1.5 - g;
    *swap = fd_f64_bits(half_minus_f) ^ h << 1;
    return (0.5 - fabs(half_minus_f)) * 1.5707963267948966;
}

static inline void rotate(uint64_t h, uint64_t swap, double sin_a, double cos_a, double *sine,
                          double *cosine)
{
    const uint64_t traded = (fd_f64_bits(sin_a) ^ fd_f64_bits(cos_a)) & (0u - (swap >> 63));
    *sine = fd_from_bits(fd_f64_bits(sin_a) ^ traded ^ (h & FD_SIGN_BIT));
    *cosine = fd_from_bits(fd_f64_bits(cos_a) ^ traded ^ ((h ^ h << 1) & FD_SIGN_BIT));
}

/*
 * The 128 variates of one counter block from the Philox outputs of its 64 pairs: words 0 and 1
 * of pair j's output (c3 = 64 + j) as the 64-bit number lo[j] = w1 w0, words 2 and 3 as hi[j]:
 *     u1 = (1 + (w1 w0 >> 11)) / 2^53 in (0, 1],  u2 = (w3 w2 >> 11) / 2^53 in [0, 1),
 *     z[2j] = sqrt(-2 ln u1) cos(2 pi u2),  z[2j + 1] = sqrt(-2 ln u1) sin(2 pi u2).
 * In stages over all lanes, so that each loop is short and the core overlaps its iterations; a
 * loop whose chains are long (a whole series) leaves the core a few lanes' long chains, waiting on
 * them with its scheduler full. The division and the square root, whose unit takes 5 and 9 cycles
 * a vector on Zen 4 whatever its width, share their loops with independent series steps. (SSE2,
 * Zen 4, ns per variate: 3.4 as five loops with the whole log series in one, 2.6 so.) float64
 * (wide) or float32 (each double rounded once) into out.
 */
FD_STATIC_FORCEINLINE void box_muller(const uint64_t lo[FD_PAIRS], const uint64_t hi[FD_PAIRS],
                                      int wide, char *out)
{
    double m[FD_PAIRS], e[FD_PAIRS], s[FD_PAIRS], s2[FD_PAIRS], ln[FD_PAIRS], r2[FD_PAIRS];
    double a[FD_PAIRS], a2[FD_PAIRS], sin_a[FD_PAIRS], cos_a[FD_PAIRS];
    uint64_t swap[FD_PAIRS];
    int j;
    for (j = 0; j < FD_PAIRS; j++) {
        log_reduce(uniform_open0(lo[j]), &m[j], &e[j]);
        a[j] = turn_angle(hi[j], &swap[j]);
        a2[j] = a[j] * a[j];
    }
    for (j = 0; j < FD_PAIRS; j++) {
        s[j] = (m[j] - 1.0) / (m[j] + 1.0); /* m - 1 is exact */
        s2[j] = s[j] * s[j];
        sin_a[j] = horner(sin_terms, 1, 4, a2[j], sin_terms[0]);
        cos_a[j] = horner(cos_terms, 1, 4, a2[j], cos_terms[0]);
    }
    for (j = 0; j < FD_PAIRS; j++) {
        ln[j] = horner(log_terms, 1, 5, s2[j], log_terms[0]);
        sin_a[j] = horner(sin_terms, 4, 7, a2[j], sin_a[j]);
        cos_a[j] = horner(cos_terms, 4, 7, a2[j], cos_a[j]);
    }
    for (j = 0; j < FD_PAIRS; j++) {
        ln[j] = horner(log_terms, 5, 9, s2[j], ln[j]);
        cos_a[j] = horner(cos_terms, 7, 8, a2[j], cos_a[j]);
    }
    for (j = 0; j < FD_PAIRS; j++) r2[j] = -2.0 * log_finish(e[j], s[j], s2[j], ln[j]);
    for (j = 0; j < FD_PAIRS; j++) {
        const double radius = sqrt(r2[j]);
        double sine, cosine;
        rotate(hi[j], swap[j], a[j] + a[j] * (a2[j] * sin_a[j]),
               horner(cos_terms, 8, 9, a2[j], cos_a[j]), &sine, &cosine);
        if (wide) {
            fd_store_u64(out + 16 * j, fd_f64_bits(radius * cosine));
            fd_store_u64(out + 16 * j + 8, fd_f64_bits(radius * sine));
        } else {
            fd_store_u32(out + 8 * j, fd_f32_bits((float)(radius * cosine)));
            fd_store_u32(out + 8 * j + 4, fd_f32_bits((float)(radius * sine)));
        }
    }
}

/* The Philox outputs of the call's block `block` for its 64 pairs (c3 = 64 + j for pair j), as
 * box_muller takes them, from the block's prefix (planes_prefix). A path may generate them with
 * its own instructions instead (FD_NORMAL_PHILOX). */
#ifdef FD_NORMAL_PHILOX
static void FD_NORMAL_PHILOX(uint64_t key, uint64_t offset, uint64_t block, uint64_t lo[FD_PAIRS],
                             uint64_t hi[FD_PAIRS]);
#else
#define FD_NORMAL_PHILOX normal_philox
static void normal_philox(uint64_t key, uint64_t offset, uint64_t block, uint64_t lo[FD_PAIRS],
                          uint64_t hi[FD_PAIRS])
{
    const fd_bernoulli rule = {key, offset, 0};
    uint32_t q[4][FD_CHUNK_BLOCKS], x[4][FD_PAIRS];
    int j;
    planes_prefix(&rule, block, 1, q);
    for (j = 0; j < FD_PAIRS; j++)
        from_prefix(q[0][0], q[1][0], q[2][0], q[3][0], 64u + (uint32_t)j, &x[0][j], &x[1][j],
                    &x[2][j], &x[3][j]);
    fd_philox_rounds_lanes(FD_PAIRS, x[0], x[1], x[2], x[3], key, 2);
    for (j = 0; j < FD_PAIRS; j++) {
        lo[j] = (uint64_t)x[1][j] << 32 | x[0][j];
        hi[j] = (uint64_t)x[3][j] << 32 | x[2][j];
    }
}
#endif

/* The 128 variates of the call's block `block` into out, float64 or float32. */
static void normals_f64(uint64_t key, uint64_t offset, uint64_t block, char *out)
{
    uint64_t lo[FD_PAIRS], hi[FD_PAIRS];
    FD_NORMAL_PHILOX(key, offset, block, lo, hi);
    box_muller(lo, hi, 1, out);
}

static void normals_f32(uint64_t key, uint64_t offset, uint64_t block, char *out)
{
    uint64_t lo[FD_PAIRS], hi[FD_PAIRS];
    FD_NORMAL_PHILOX(key, offset, block, lo, hi);
    box_muller(lo, hi, 0, out);
}

/* Standard normals of n elements of a call from its element 128 * first: float64 (wide) or
 * float32 into out. */
static void normal_blocks(uint64_t key, uint64_t offset, uint64_t first, size_t n, int wide,
                          char *out)
{
    void (*const normals)(uint64_t, uint64_t, uint64_t, char *) = wide ? normals_f64 : normals_f32;
    const size_t size = wide ? 8 : 4;
    size_t i;
    for (i = 0; i + FD_BLOCK_ELEMENTS <= n; i += FD_BLOCK_ELEMENTS)
        normals(key, offset, first + i / FD_BLOCK_ELEMENTS, out + size * i);
    if (i < n) { /* the last block's first n - i */
        char last[8 * FD_BLOCK_ELEMENTS];
        normals(key, offset, first + i / FD_BLOCK_ELEMENTS, last);
        memcpy(out + size * i, last, size * (n - i));
    }
}

#endif /* FD_NORMAL_IMPL_H */
