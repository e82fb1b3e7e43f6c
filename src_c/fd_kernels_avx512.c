/*
 * The AVX-512 path (F, BW, DQ, VL: every AVX-512 CPU since Skylake-SP): the same kernels as the
 * scalar path, compiled for AVX-512 inside this file only, with Philox in 16 lanes.
 * fd_dispatch.c selects it only on CPUs and operating systems that run it.
 */
#include "fd_kernels.h"

#if FD_X86_GNUC
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl")
#endif

#include <immintrin.h>

static void philox_lanes_avx512(size_t n, uint32_t *x0, uint32_t *x1, uint32_t *x2, uint32_t *x3,
                                uint64_t key);
#define FD_PHILOX_LANES philox_lanes_avx512
#define FD_COMPARE_PLANES compare_planes_avx512
#include "fd_kernels_impl.h"

/* High and low halves of the 32x32-bit products of 16 lanes of a with the constant m: even lanes
 * from one widening multiply, odd lanes from another on a copy shifted down. */
static inline void mulhilo16(__m512i a, __m512i m, __m512i *hi, __m512i *lo)
{
    __m512i even = _mm512_mul_epu32(a, m);
    __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
    *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
}

/* fd_philox_lanes, 16 lanes per step; the last n % 16 lanes go through the portable loop. */
static void philox_lanes_avx512(size_t n, uint32_t *x0, uint32_t *x1, uint32_t *x2, uint32_t *x3,
                                uint64_t key)
{
    const __m512i m0 = _mm512_set1_epi64(FD_PHILOX_M0), m1 = _mm512_set1_epi64(FD_PHILOX_M1);
    const __m512i w0 = _mm512_set1_epi32((int)FD_PHILOX_W0);
    const __m512i w1 = _mm512_set1_epi32((int)FD_PHILOX_W1);
    size_t i;
    for (i = 0; i + 16 <= n; i += 16) {
        __m512i c0 = _mm512_loadu_si512(x0 + i), c1 = _mm512_loadu_si512(x1 + i);
        __m512i c2 = _mm512_loadu_si512(x2 + i), c3 = _mm512_loadu_si512(x3 + i);
        __m512i k0 = _mm512_set1_epi32((int)(uint32_t)key);
        __m512i k1 = _mm512_set1_epi32((int)(uint32_t)(key >> 32));
        int round;
        for (round = 0; round < FD_PHILOX_ROUNDS; round++) {
            __m512i hi0, lo0, hi1, lo1;
            mulhilo16(c0, m0, &hi0, &lo0);
            mulhilo16(c2, m1, &hi1, &lo1);
            c0 = _mm512_ternarylogic_epi32(hi1, c1, k0, 0x96); /* three-way xor */
            c1 = lo1;
            c2 = _mm512_ternarylogic_epi32(hi0, c3, k1, 0x96);
            c3 = lo0;
            k0 = _mm512_add_epi32(k0, w0);
            k1 = _mm512_add_epi32(k1, w1);
        }
        _mm512_storeu_si512(x0 + i, c0);
        _mm512_storeu_si512(x1 + i, c1);
        _mm512_storeu_si512(x2 + i, c2);
        _mm512_storeu_si512(x3 + i, c3);
    }
    fd_philox_lanes(n - i, x0 + i, x1 + i, x2 + i, x3 + i, key);
}

/* Eight Philox4x32-10 lanes in the low halves of 64-bit lanes (the high halves are ignored:
 * the widening multiply reads only the low ones, and xor never carries between halves). */
typedef struct {
    __m512i x[4];
} philox8;

static inline void philox8_rounds(philox8 *s, uint64_t key)
{
    const __m512i m0 = _mm512_set1_epi64(FD_PHILOX_M0), m1 = _mm512_set1_epi64(FD_PHILOX_M1);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    int round;
    for (round = 0; round < FD_PHILOX_ROUNDS; round++) {
        const __m512i p0 = _mm512_mul_epu32(s->x[0], m0), p1 = _mm512_mul_epu32(s->x[2], m1);
        s->x[0] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1, 32), s->x[1],
                                            _mm512_set1_epi64(k0), 0x96); /* three-way xor */
        s->x[1] = p1;
        s->x[2] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0, 32), s->x[3],
                                            _mm512_set1_epi64(k1), 0x96);
        s->x[3] = p0;
        k0 += FD_PHILOX_W0;
        k1 += FD_PHILOX_W1;
    }
}

/* compare_planes with Philox and the comparison fused: the planes of 16 blocks at a time (two
 * philox8 halves) never leave registers, and their counters are set up once for all planes. */
static void compare_planes_avx512(const fd_bernoulli *rule, uint64_t first, size_t nblocks,
                                  int nplanes, uint32_t k[4][FD_CHUNK_BLOCKS],
                                  uint32_t u[4][FD_CHUNK_BLOCKS], prefetcher *pf)
{
    const __m512i ones = _mm512_set1_epi64(-1);
    size_t g;
    for (g = 0; g < nblocks; g += 16) {
        const int halves = nblocks - g > 8 ? 2 : 1; /* a short call's lone half is not padded */
        uint32_t c[4][16];
        __m512i counter[2][3], kept[2][4], undecided[2][4];
        int b, h, w, plane;
        for (b = 0; b < 16; b++)
            set_counter(rule, first + g + (size_t)b, 0, &c[0][b], &c[1][b], &c[2][b], &c[3][b]);
        for (h = 0; h < 2; h++) {
            for (w = 0; w < 3; w++)
                counter[h][w] = _mm512_cvtepu32_epi64(_mm256_loadu_si256((const void *)&c[w][8 * h]));
            for (w = 0; w < 4; w++) {
                kept[h][w] = _mm512_setzero_si512();
                undecided[h][w] = ones;
            }
        }
        for (plane = 0; plane < nplanes; plane++) {
            const int t_bit = (int)((rule->threshold >> (31 - plane)) & 1u);
            for (h = 0; h < halves; h++) {
                philox8 s = {{counter[h][0], counter[h][1], counter[h][2],
                              _mm512_set1_epi64(plane)}};
                philox8_rounds(&s, rule->key);
                for (w = 0; w < 4; w++) { /* compare_plane, vectorised */
                    if (t_bit) {
                        kept[h][w] = _mm512_ternarylogic_epi64(kept[h][w], undecided[h][w], s.x[w],
                                                               0xF4); /* k | (u & ~r) */
                        undecided[h][w] = _mm512_and_si512(undecided[h][w], s.x[w]);
                    } else {
                        undecided[h][w] = _mm512_andnot_si512(s.x[w], undecided[h][w]);
                    }
                }
            }
            prefetch_some(pf);
        }
        for (h = 0; h < halves; h++)
            for (w = 0; w < 4; w++) {
                _mm256_storeu_si256((void *)&k[w][g + 8 * (size_t)h], _mm512_cvtepi64_epi32(kept[h][w]));
                _mm256_storeu_si256((void *)&u[w][g + 8 * (size_t)h],
                                    _mm512_cvtepi64_epi32(undecided[h][w]));
            }
    }
}

const fd_kernels fd_kernels_avx512 = FD_KERNEL_TABLE("avx512");

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif /* FD_X86_GNUC */
