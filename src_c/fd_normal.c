/*
 * Standard normals for Gaussian dropout (fd_normal): Box-Muller in plain arithmetic. The logarithm
 * and the sine and cosine are Taylor series on reduced ranges (truncation below 2^-54, so a few
 * ulps of rounding in all), written with + - * / and sqrt only: IEEE arithmetic makes them the same
 * bits on every platform (the C library's differ between platforms, and cos(2 pi u) of the
 * textbook formula loses digits near its zeros). The Philox rounds over a block's 64 pairs
 * vectorise; the math is branch-free, but GCC does not yet vectorise it (32/64-bit conversions of
 * mixed widths).
 *
 * Nothing may fuse a * b + c into an FMA here: that rounds once instead of twice, and the variates
 * would differ between machines with and without FMA. setup.py passes -ffp-contract=off, this
 * pragma tells Clang too (GCC ignores it and warns, hence the guard), and MSVC does not contract
 * under its default /fp:precise. The pragma holds to the end of the file, so it stands first:
 * this file alone holds the code that needs it.
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include <math.h>

#include "fd_drivers.h"
#include "fd_philox.h"

#define PAIRS_PER_BLOCK (FD_BLOCK_ELEMENTS / 2)

/* ln u for u in (0, 1] with 53-bit mantissa: u = m 2^e with m in [sqrt(1/2), sqrt(2)), and
 * ln m = 2 atanh(s) = 2 (s + s^3/3 + ... + s^19/19) with s = (m - 1) / (m + 1), |s| < 0.172. */
static double log_unit(double u)
{
    static const double ln2_high = 0.6931467056274414; /* ln 2 to 20 bits: e * ln2_high is exact */
    static const double ln2_low = 4.7493250390316726e-07; /* ln 2 - ln2_high */
    uint64_t bits;
    double m, s, s2, series;
    int32_t e, big;
    memcpy(&bits, &u, sizeof bits);
    e = (int32_t)(bits >> 52) - 1023;
    bits = (bits & 0x000fffffffffffffu) | 0x3ff0000000000000u; /* m in [1, 2) */
    memcpy(&m, &bits, sizeof m);
    big = m > 1.4142135623730951;
    m = big ? 0.5 * m : m;
    e += big;
    s = (m - 1.0) / (m + 1.0); /* m - 1 is exact */
    s2 = s * s;
    series = 0.10526315789473684;
    series = 0.11764705882352941 + s2 * series;
    series = 0.13333333333333333 + s2 * series;
    series = 0.15384615384615385 + s2 * series;
    series = 0.18181818181818182 + s2 * series;
    series = 0.22222222222222222 + s2 * series;
    series = 0.2857142857142857 + s2 * series;
    series = 0.4 + s2 * series;
    series = 0.6666666666666666 + s2 * series; /* 2/3 + 2/5 s^2 + ... + 2/19 s^16 */
    return (double)e * ln2_high + ((double)e * ln2_low + (2.0 * s + s * (s2 * series)));
}

/* sin and cos of 2 pi t for t = k / 2^53 in [0, 1): quadrant q and fraction f of 4t are exact;
 * the angle a = min(f, 1 - f) pi/2 lies in [0, pi/4], where sin a to a^15/15! and cos a to
 * a^16/16! are exact to 2^-54; the octant and quadrant symmetries give the rest. */
static void sincos_turns(double t, double *sine, double *cosine)
{
    const double t4 = 4.0 * t;
    const int q = (int)t4;
    const double f = t4 - (double)q;
    const int flip = f > 0.5;
    const double a = (flip ? 1.0 - f : f) * 1.5707963267948966, a2 = a * a;
    double sin_a = -7.647163731819816e-13, cos_a = 4.779477332387385e-14, s, c;
    sin_a = 1.6059043836821613e-10 + a2 * sin_a;
    sin_a = -2.505210838544172e-08 + a2 * sin_a;
    sin_a = 2.7557319223985893e-06 + a2 * sin_a;
    sin_a = -0.0001984126984126984 + a2 * sin_a;
    sin_a = 0.008333333333333333 + a2 * sin_a;
    sin_a = -0.16666666666666666 + a2 * sin_a;
    sin_a = a + a * (a2 * sin_a);
    cos_a = -1.1470745597729725e-11 + a2 * cos_a;
    cos_a = 2.08767569878681e-09 + a2 * cos_a;
    cos_a = -2.755731922398589e-07 + a2 * cos_a;
    cos_a = 2.48015873015873e-05 + a2 * cos_a;
    cos_a = -0.001388888888888889 + a2 * cos_a;
    cos_a = 0.041666666666666664 + a2 * cos_a;
    cos_a = -0.5 + a2 * cos_a;
    cos_a = 1.0 + a2 * cos_a;
    s = flip ? cos_a : sin_a; /* sin and cos of f pi/2 */
    c = flip ? sin_a : cos_a;
    *sine = (q & 2 ? -1.0 : 1.0) * (q & 1 ? c : s); /* rotate by q quarter turns */
    *cosine = ((q + 1) & 2 ? -1.0 : 1.0) * (q & 1 ? s : c);
}

/* The top 53 bits of the 64-bit number high:low, exactly, from 32-bit conversions (SSE2 and NEON
 * vectorise those; a 64-bit integer to double conversion needs AVX-512). */
static double top53(uint32_t high, uint32_t low)
{
    const uint32_t upper = high >> 11, lower = high << 21 | low >> 11;
    const double lower_value = (double)(int32_t)(lower ^ 0x80000000u) + 2147483648.0;
    return (double)(int32_t)upper * 4294967296.0 + lower_value;
}

/* The 128 variates of counter block `counter` (fd_dropout.h): Philox at c3 = 64 .. 127 for the
 * 64 pairs, as lanes that the compiler vectorises. */
static void normal_block(uint64_t key, uint64_t counter, uint64_t offset, double *z)
{
    uint32_t x0[PAIRS_PER_BLOCK], x1[PAIRS_PER_BLOCK], x2[PAIRS_PER_BLOCK], x3[PAIRS_PER_BLOCK];
    int j;
    for (j = 0; j < PAIRS_PER_BLOCK; j++) {
        x0[j] = (uint32_t)counter;
        x1[j] = (uint32_t)(counter >> 32);
        x2[j] = counter < offset; /* carry into the third word */
        x3[j] = 64u + (uint32_t)j;
    }
    fd_philox_lanes(PAIRS_PER_BLOCK, x0, x1, x2, x3, key);
    for (j = 0; j < PAIRS_PER_BLOCK; j++) {
        static const double two_to_minus_53 = 1.0 / 9007199254740992.0;
        const double u1 = (top53(x1[j], x0[j]) + 1.0) * two_to_minus_53;
        const double u2 = top53(x3[j], x2[j]) * two_to_minus_53;
        const double radius = sqrt(-2.0 * log_unit(u1));
        double sine, cosine;
        sincos_turns(u2, &sine, &cosine);
        z[2 * j] = radius * cosine;
        z[2 * j + 1] = radius * sine;
    }
}

/* One normal call, as its parts see it. */
typedef struct {
    uint64_t key, offset, count;
    fd_dtype dtype;
    char *out;
} normal_call;

static void normal_part(void *arg, int part, int parts)
{
    const normal_call *call = (const normal_call *)arg;
    double z[FD_BLOCK_ELEMENTS];
    float z32[FD_BLOCK_ELEMENTS];
    uint64_t i, end;
    fd_part_range(call->count, part, parts, &i, &end);
    for (; i < end; i += FD_BLOCK_ELEMENTS) { /* parts start at block boundaries */
        const uint64_t left = end - i;
        const size_t n = left < FD_BLOCK_ELEMENTS ? (size_t)left : FD_BLOCK_ELEMENTS;
        size_t j;
        normal_block(call->key, call->offset + i / FD_BLOCK_ELEMENTS, call->offset, z);
        if (call->dtype == FD_FLOAT64) {
            memcpy(call->out + 8 * i, z, 8 * n);
        } else {
            for (j = 0; j < n; j++) z32[j] = (float)z[j];
            memcpy(call->out + 4 * i, z32, 4 * n);
        }
    }
}

fd_status fd_normal(uint64_t key, uint64_t offset, uint64_t n, fd_dtype dtype, void *out)
{
    normal_call call;
    if (dtype != FD_FLOAT32 && dtype != FD_FLOAT64) return FD_ERR_DTYPE;
    if (n > ((uint64_t)1 << 62)) return FD_ERR_SHAPE;
    if (n == 0) return FD_OK;
    if (!out) return FD_ERR_NULL;
    call.key = key;
    call.offset = offset;
    call.count = n;
    call.dtype = dtype;
    call.out = (char *)out;
    fd_run_split(normal_part, &call, n);
    return FD_OK;
}

/* ---- the normals of a box (fd_normal_box) ---------------------------------------------------
 * Its runs (fd_box.h) block by block: the variates of a block are computed once, for all the
 * elements of the box in it (a block shared by the end of one run and the start of the next is
 * kept), and a run's partial first and last blocks are copied in part. */
#include "fd_box.h"

/* One box call, as its parts see it. */
typedef struct {
    uint64_t key, offset;
    fd_dtype dtype;
    char *out;
    fd_box_walk box;
} normal_box_call;

static void normal_box_part(void *arg, int part, int parts)
{
    const normal_box_call *call = (const normal_box_call *)arg;
    const fd_box_walk *w = &call->box;
    const size_t size = call->dtype == FD_FLOAT64 ? 8 : 4;
    double z[FD_BLOCK_ELEMENTS];
    uint64_t have = ~(uint64_t)0, begin, end; /* the block z holds: none yet */
    fd_box_cursor cur;
    fd_part_range(w->count, part, parts, &begin, &end);
    if (begin >= end) return;
    fd_box_seek(w, &cur, begin);
    while (cur.done < end) {
        const uint64_t block = cur.logical / FD_BLOCK_ELEMENTS;
        const size_t e = (size_t)(cur.logical % FD_BLOCK_ELEMENTS);
        size_t n = fd_box_run(w, &cur, end), j;
        char *dest = call->out + size * cur.done;
        if (n > FD_BLOCK_ELEMENTS - e) n = FD_BLOCK_ELEMENTS - e;
        if (block != have) {
            normal_block(call->key, call->offset + block, call->offset, z);
            have = block;
        }
        if (call->dtype == FD_FLOAT64) {
            memcpy(dest, z + e, 8 * n);
        } else {
            for (j = 0; j < n; j++) {
                const float v = (float)z[e + j];
                memcpy(dest + 4 * j, &v, 4);
            }
        }
        fd_box_advance(w, &cur, n);
    }
}

fd_status fd_normal_box(uint64_t key, uint64_t offset, const fd_box *box, fd_dtype dtype,
                        void *out)
{
    normal_box_call call;
    fd_status status;
    if (dtype != FD_FLOAT32 && dtype != FD_FLOAT64) return FD_ERR_DTYPE;
    status = fd_box_prepare(&call.box, box, NULL, NULL, dtype == FD_FLOAT64 ? 8 : 4);
    if (status != FD_OK || call.box.count == 0) return status;
    if (!out) return FD_ERR_NULL;
    call.key = key;
    call.offset = offset;
    call.dtype = dtype;
    call.out = (char *)out;
    fd_run_split(normal_box_part, &call, call.box.count);
    return FD_OK;
}
