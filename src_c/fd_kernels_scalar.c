/*
 * The portable kernel path ("scalar"): the kernels compiled for the baseline ISA (SSE2 on x86-64,
 * NEON on ARM64), vectorised by the compiler. On x86-64 the normals' and the ties' Philox run on
 * the vector layer of fd_kernels_vec.h over SSE2, 2 lanes of 64 bits: the compiler vectorises
 * Philox's 32 x 32 -> 64-bit products in 4 lanes of 32 bits with unpacks and shuffles around
 * pmuludq, about 7.5 instructions a lane and round against 4 (Zen 4: the normals' Philox 2.0 ns a
 * variate, 1.6 so).
 */
#include "fd_kernels.h"

#if FD_X86_SIMD
#include <emmintrin.h>

#define FD_FLUSH_TIES fdv_flush_ties
#define FD_NORMAL_PHILOX fdv_normal_philox
#define FD_PHILOX_FLOOR philox_floor_sse2
#define FD_PLAIN_PHILOX_FLOOR
#include "fd_kernels_impl.h"

/* The vector layer of fd_kernels_vec.h: 2 lanes of 64 bits, each word in a lane's low half (as
 * pmuludq reads them; 32-bit operations leave them apart from the high halves). */
typedef __m128i fdv;
#define FDV_LANES 2
#define FDV_UNROLL_ROUNDS FD_UNROLL8
#define FDV_UNROLL_CHAINS
#define fdv_shr(a, n) _mm_srli_epi32((a), (n))

FD_STATIC_FORCEINLINE fdv fdv_set1(uint32_t w) { return _mm_set1_epi64x(w); }
FD_STATIC_FORCEINLINE fdv fdv_iota(void) { return _mm_set_epi64x(1, 0); }
FD_STATIC_FORCEINLINE fdv fdv_load_words(const uint32_t *p)
{
    return _mm_unpacklo_epi32(_mm_loadl_epi64((const __m128i *)p), _mm_setzero_si128());
}
FD_STATIC_FORCEINLINE void fdv_store_words(uint32_t *p, fdv v)
{
    _mm_storel_epi64((__m128i *)p, _mm_shuffle_epi32(v, _MM_SHUFFLE(3, 1, 2, 0)));
}
/* The low words of lo's lanes, then hi's (shufps), put in order. */
FD_STATIC_FORCEINLINE void fdv_store_joined(uint64_t *p, fdv lo, fdv hi)
{
    const __m128 words = _mm_shuffle_ps(_mm_castsi128_ps(lo), _mm_castsi128_ps(hi),
                                        _MM_SHUFFLE(2, 0, 2, 0));
    _mm_storeu_si128((__m128i *)p,
                     _mm_shuffle_epi32(_mm_castps_si128(words), _MM_SHUFFLE(3, 1, 2, 0)));
}
FD_STATIC_FORCEINLINE fdv fdv_xor(fdv a, fdv b) { return _mm_xor_si128(a, b); }
FD_STATIC_FORCEINLINE fdv fdv_xor3(fdv a, fdv b, fdv c)
{
    return _mm_xor_si128(_mm_xor_si128(a, b), c);
}
FD_STATIC_FORCEINLINE fdv fdv_and(fdv a, fdv b) { return _mm_and_si128(a, b); }
FD_STATIC_FORCEINLINE fdv fdv_add(fdv a, fdv b) { return _mm_add_epi32(a, b); }
FD_STATIC_FORCEINLINE fdv fdv_andnot(fdv a, fdv b) { return _mm_andnot_si128(a, b); }
FD_STATIC_FORCEINLINE fdv fdv_or_andnot(fdv k, fdv u, fdv r)
{
    return _mm_or_si128(k, _mm_andnot_si128(r, u));
}
/* SSE2 shifts all lanes by one count: each lane by its own, then the two joined. */
FD_STATIC_FORCEINLINE fdv fdv_shl(fdv a, fdv v)
{
    const __m128i count = _mm_set_epi32(0, 0, 0, 31);
    const __m128d low = _mm_castsi128_pd(_mm_sll_epi32(a, _mm_and_si128(v, count)));
    const __m128d high =
        _mm_castsi128_pd(_mm_sll_epi32(a, _mm_and_si128(_mm_srli_si128(v, 8), count)));
    return _mm_castpd_si128(_mm_move_sd(high, low));
}
FD_STATIC_FORCEINLINE fdv fdv_select_eq(fdv x, fdv y, fdv a, fdv b)
{
    const __m128i equal = _mm_cmpeq_epi32(x, y);
    return _mm_or_si128(_mm_and_si128(equal, a), _mm_andnot_si128(equal, b));
}
FD_STATIC_FORCEINLINE fdv fdv_bit_if_lt(fdv a, fdv b, fdv bit)
{
    return _mm_and_si128(_mm_cmpgt_epi32(b, a), bit);
}
FD_STATIC_FORCEINLINE void fdv_mulhilo(fdv a, uint32_t m, fdv *hi, fdv *lo)
{
    *lo = _mm_mul_epu32(a, _mm_set1_epi64x(m));
    *hi = _mm_srli_epi64(*lo, 32);
}

/* Counter words c0, c1, c2 (fd_dropout.h) of blocks first + blocks; SSE2 has no 64-bit compare,
 * so the carry of offset + d is the top bit of (offset & d) | ((offset | d) & ~sum). */
FD_STATIC_FORCEINLINE void fdv_counters(const fd_bernoulli *rule, uint64_t first, fdv blocks,
                                        fdv counter[3])
{
    const __m128i offset = _mm_set1_epi64x((long long)rule->offset);
    const __m128i d = _mm_add_epi64(_mm_set1_epi64x((long long)first),
                                    _mm_and_si128(blocks, _mm_set1_epi64x(0xffffffff)));
    const __m128i c = _mm_add_epi64(offset, d);
    counter[0] = c;
    counter[1] = _mm_srli_epi64(c, 32);
    counter[2] = _mm_srli_epi64(
        _mm_or_si128(_mm_and_si128(offset, d), _mm_andnot_si128(c, _mm_or_si128(offset, d))), 63);
}

#include "fd_kernels_vec.h"

/* The RNG floor: the normals' outputs (c3 >= 64, fd_dropout.h) in the layer's lanes, as this
 * path makes them; the masks' outputs in plain C, as its planes make them (its few ties, which
 * the layer makes, are counted at the planes' speed). */
static uint32_t philox_floor_sse2(uint64_t key, uint64_t offset, uint64_t first, size_t nblocks,
                                  uint32_t c3, unsigned count)
{
    return c3 >= 64 ? fdv_philox_floor(key, offset, first, nblocks, c3, count)
                    : philox_floor(key, offset, first, nblocks, c3, count);
}
#else
#include "fd_kernels_impl.h"
#endif

const fd_kernels fd_kernels_scalar = FD_KERNEL_TABLE("scalar");
