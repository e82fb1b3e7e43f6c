/*
 * The AVX2 path: the same kernels as the scalar path, compiled for AVX2 inside this file only
 * (nothing else is built with AVX2 flags); fd_dispatch.c selects it only on CPUs and operating
 * systems that run it.
 */
#include "fd_kernels.h"

#if FD_X86_GNUC
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2")
#endif

#include <immintrin.h>

static void philox_lanes_avx2(size_t n, uint32_t *x0, uint32_t *x1, uint32_t *x2, uint32_t *x3,
                              uint64_t key);
#define FD_PHILOX_LANES philox_lanes_avx2
#define FD_BOOL_GROUPS bool_groups_avx2
#include "fd_kernels_impl.h"

/* High and low halves of the 32x32-bit products of 8 lanes of a with the constant m: even lanes
 * from one widening multiply, odd lanes (shifted down) from another. */
static inline void mulhilo8(__m256i a, __m256i m, __m256i *hi, __m256i *lo)
{
    __m256i even = _mm256_mul_epu32(a, m);
    __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

/* fd_philox_lanes, 8 lanes per step; the last n % 8 lanes go through the portable loop. */
static void philox_lanes_avx2(size_t n, uint32_t *x0, uint32_t *x1, uint32_t *x2, uint32_t *x3,
                              uint64_t key)
{
    const __m256i m0 = _mm256_set1_epi64x(FD_PHILOX_M0), m1 = _mm256_set1_epi64x(FD_PHILOX_M1);
    const __m256i w0 = _mm256_set1_epi32((int)FD_PHILOX_W0), w1 = _mm256_set1_epi32((int)FD_PHILOX_W1);
    size_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        __m256i c0 = _mm256_loadu_si256((const __m256i *)(x0 + i));
        __m256i c1 = _mm256_loadu_si256((const __m256i *)(x1 + i));
        __m256i c2 = _mm256_loadu_si256((const __m256i *)(x2 + i));
        __m256i c3 = _mm256_loadu_si256((const __m256i *)(x3 + i));
        __m256i k0 = _mm256_set1_epi32((int)(uint32_t)key);
        __m256i k1 = _mm256_set1_epi32((int)(uint32_t)(key >> 32));
        int round;
        for (round = 0; round < FD_PHILOX_ROUNDS; round++) {
            __m256i hi0, lo0, hi1, lo1;
            mulhilo8(c0, m0, &hi0, &lo0);
            mulhilo8(c2, m1, &hi1, &lo1);
            c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), k0);
            c1 = lo1;
            c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), k1);
            c3 = lo0;
            k0 = _mm256_add_epi32(k0, w0);
            k1 = _mm256_add_epi32(k1, w1);
        }
        _mm256_storeu_si256((__m256i *)(x0 + i), c0);
        _mm256_storeu_si256((__m256i *)(x1 + i), c1);
        _mm256_storeu_si256((__m256i *)(x2 + i), c2);
        _mm256_storeu_si256((__m256i *)(x3 + i), c3);
    }
    fd_philox_lanes(n - i, x0 + i, x1 + i, x2 + i, x3 + i, key);
}

/* bool_groups: each byte of a keep word copied to the 8 mask bytes it covers (vpshufb works within
 * 128-bit halves, so each half indexes its own copy of the word), then one bit tested per byte. */
static void bool_groups_avx2(const uint32_t *words, size_t ngroups, uint8_t *mask)
{
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, /**/
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128, /**/
                                         1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
    const __m256i one = _mm256_set1_epi8(1);
    size_t g;
    for (g = 0; g < ngroups; g++) {
        const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)words[g]), spread);
        /* min(bits & bit, 1): 1 where the element's bit is set, else 0 */
        _mm256_storeu_si256((__m256i *)(mask + 32 * g),
                            _mm256_min_epu8(_mm256_and_si256(bytes, bit), one));
    }
}

const fd_kernels fd_kernels_avx2 = FD_KERNEL_TABLE("avx2");

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif /* FD_X86_GNUC */
