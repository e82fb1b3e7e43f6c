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

/* philox_lanes, 16 lanes per step; the last n % 16 lanes go through the portable loop. */
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
    philox_lanes(n - i, x0 + i, x1 + i, x2 + i, x3 + i, key);
}

const fd_kernels fd_kernels_avx512 = FD_KERNEL_TABLE("avx512");

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif /* FD_X86_GNUC */
