/*
 * The AVX2 path: the kernels of the scalar path compiled for AVX2 inside this file only (nothing
 * else is built with AVX2 flags), with Philox fused into the plane comparison and the ties'
 * Philox (fd_kernels_vec.h, over the vector layer below: 4 lanes of 64 bits), p = 0.5's keep
 * words straight from its lanes (for float32 from memory, in the same pass as the dropout),
 * bool masks by byte shuffles, float32 and float64 dropout in vectors aligned to out, and
 * float16 through F16C's conversions. fd_dispatch.c selects it only on CPUs (with F16C) and
 * operating systems that run it. MSVC needs no target for intrinsics: it builds the intrinsics
 * as they are and the plain C parts for the baseline ISA.
 */
#include "fd_kernels.h"

#if FD_X86_SIMD
#if FD_MSVC /* compiles the intrinsics as they are */
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,f16c")
#endif

#include <immintrin.h>

#define FD_COMPARE_PLANES compare_planes_avx2
#define FD_BOOL_GROUPS bool_groups_avx2
#define FD_FLUSH_TIES fdv_flush_ties
#define FD_KEEP_WORDS_HALF fdv_keep_words_half
#define FD_SCALE_GROUPS_F16 scale_groups_f16_avx2
#define FD_GROUPS_32
#define FD_GROUPS_64
#define FD_HALF_DROPOUT_32 half_dropout_32
#define FD_NORMAL_PHILOX fdv_normal_philox
#define FD_PHILOX_FLOOR fdv_philox_floor
#include "fd_kernels_impl.h"

/* The vector layer of fd_kernels_vec.h: 4 lanes of 64 bits, each word in a lane's low half (the
 * widening multiply reads only those; 32-bit operations leave them apart from the high halves). */
typedef __m256i fdv;
#define FDV_LANES 4
#define FDV_UNROLL_ROUNDS FD_UNROLL8
#define FDV_UNROLL_CHAINS
#define fdv_shr(a, n) _mm256_srli_epi32((a), (n))

FD_STATIC_FORCEINLINE fdv fdv_set1(uint32_t w) { return _mm256_set1_epi64x(w); }
FD_STATIC_FORCEINLINE fdv fdv_iota(void) { return _mm256_setr_epi64x(0, 1, 2, 3); }
/* Four loads, not one vector's: the ties' list was just written a word at a time, and a vector
 * load of it waits for those stores to retire (store-to-load forwarding fails); 2% of the p = 0.1
 * packed mask on the EPYC. */
FD_STATIC_FORCEINLINE fdv fdv_load_words(const uint32_t *p)
{
    return _mm256_setr_epi64x(p[0], p[1], p[2], p[3]);
}
/* The low halves of four 64-bit lanes, as four 32-bit words. */
static inline __m128i low_halves(__m256i v)
{
    const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0);
    return _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, even));
}
FD_STATIC_FORCEINLINE void fdv_store_words(uint32_t *p, fdv v)
{
    _mm_storeu_si128((__m128i *)p, low_halves(v));
}
FD_STATIC_FORCEINLINE void fdv_store_joined(uint64_t *p, fdv lo, fdv hi)
{
    _mm256_storeu_si256((__m256i *)p, _mm256_blend_epi32(lo, _mm256_slli_epi64(hi, 32), 0xAA));
}
FD_STATIC_FORCEINLINE fdv fdv_xor(fdv a, fdv b) { return _mm256_xor_si256(a, b); }
FD_STATIC_FORCEINLINE fdv fdv_xor3(fdv a, fdv b, fdv c)
{
    return _mm256_xor_si256(_mm256_xor_si256(a, b), c);
}
FD_STATIC_FORCEINLINE fdv fdv_and(fdv a, fdv b) { return _mm256_and_si256(a, b); }
FD_STATIC_FORCEINLINE fdv fdv_add(fdv a, fdv b) { return _mm256_add_epi32(a, b); }
FD_STATIC_FORCEINLINE fdv fdv_andnot(fdv a, fdv b) { return _mm256_andnot_si256(a, b); }
FD_STATIC_FORCEINLINE fdv fdv_or_andnot(fdv k, fdv u, fdv r)
{
    return _mm256_or_si256(k, _mm256_andnot_si256(r, u));
}
FD_STATIC_FORCEINLINE fdv fdv_shl(fdv a, fdv v) { return _mm256_sllv_epi32(a, v); }
FD_STATIC_FORCEINLINE fdv fdv_select_eq(fdv x, fdv y, fdv a, fdv b)
{
    return _mm256_blendv_epi8(b, a, _mm256_cmpeq_epi32(x, y));
}
FD_STATIC_FORCEINLINE fdv fdv_bit_if_lt(fdv a, fdv b, fdv bit)
{
    return _mm256_and_si256(_mm256_cmpgt_epi32(b, a), bit);
}
FD_STATIC_FORCEINLINE void fdv_mulhilo(fdv a, uint32_t m, fdv *hi, fdv *lo)
{
    *lo = _mm256_mul_epu32(a, _mm256_set1_epi64x(m));
    *hi = _mm256_srli_epi64(*lo, 32);
}

/* Counter words c0, c1, c2 (fd_dropout.h) of blocks first + blocks, made in registers:
 * set_counter's scalar stores, read back as vectors, cost the planes 17% in store-forwarding
 * stalls. */
FD_STATIC_FORCEINLINE void fdv_counters(const fd_bernoulli *rule, uint64_t first, fdv blocks,
                                        fdv counter[3])
{
    const __m256i offset = _mm256_set1_epi64x((long long)rule->offset);
    const __m256i sign = _mm256_set1_epi64x(INT64_MIN); /* AVX2 compares signed: flip both */
    const __m256i c = _mm256_add_epi64(
        offset, _mm256_add_epi64(_mm256_set1_epi64x((long long)first),
                                 _mm256_and_si256(blocks, _mm256_set1_epi64x(0xffffffff))));
    counter[0] = c;
    counter[1] = _mm256_srli_epi64(c, 32);
    counter[2] = _mm256_srli_epi64( /* the carry: c < offset */
        _mm256_cmpgt_epi64(_mm256_xor_si256(offset, sign), _mm256_xor_si256(c, sign)), 63);
}

/* p = 0.5's words from packed pairs (below), in fdv_keep_words_half's loop over blocks. */
#define FDV_HALF_WORDS half_words
FD_STATIC_FORCEINLINE void half_words(const fd_bernoulli *rule, uint64_t block, int chains,
                                      uint32_t *keep);

#include "fd_kernels_vec.h"

/*
 * The last round of `chains` states, its outputs packed in pairs: pair 0's lane j holds word 1 of
 * lane j low and word 0 high, pair 1 words 3 and 2. A 64-bit product already holds a word pair
 * (low and high), so packing costs no more than the round's shifts that unpacked words take, and
 * the comparison then takes half the instructions and half the registers (AVX2 has 16: unpacked,
 * kept and undecided alone would fill them).
 */
FD_STATIC_FORCEINLINE void last_round_packed(const fdv_philox *s, int chains, uint64_t key,
                                             int inverted, __m256i pair[][2])
{
    const uint32_t k0 = (uint32_t)key + (FD_PHILOX_ROUNDS - 1) * FD_PHILOX_W0;
    const uint32_t k1 = (uint32_t)(key >> 32) + (FD_PHILOX_ROUNDS - 1) * FD_PHILOX_W1;
    const uint64_t flip = inverted ? ~(uint64_t)0 : 0; /* the words inverted, if asked, for free */
    const __m256i high0 = _mm256_set1_epi64x((long long)(((uint64_t)k0 << 32) ^ flip));
    const __m256i high1 = _mm256_set1_epi64x((long long)(((uint64_t)k1 << 32) ^ flip));
    int h;
    for (h = 0; h < chains; h++) { /* word 0 = hi(M1 x2) ^ x1 ^ k0, word 1 = lo(M1 x2); 2, 3 so */
        const __m256i p1 = _mm256_mul_epu32(s[h].x[2], _mm256_set1_epi64x(FD_PHILOX_M1));
        const __m256i p0 = _mm256_mul_epu32(s[h].x[0], _mm256_set1_epi64x(FD_PHILOX_M0));
        pair[h][0] = fdv_xor3(p1, _mm256_slli_epi64(s[h].x[1], 32), high0);
        pair[h][1] = fdv_xor3(p0, _mm256_slli_epi64(s[h].x[3], 32), high1);
    }
}

/* The 4 words of each of 4 blocks from packed pairs (lane j: words 1 and 0, words 3 and 2 of
 * block j), in the order of keep (4 per block). */
FD_STATIC_FORCEINLINE void store_packed(uint32_t *keep, const __m256i pair[2])
{
    const __m256i p01 = _mm256_shuffle_epi32(pair[0], 0xB1); /* words 0, 1 of each lane */
    const __m256i p23 = _mm256_shuffle_epi32(pair[1], 0xB1);
    const __m256i even = _mm256_unpacklo_epi64(p01, p23), odd = _mm256_unpackhi_epi64(p01, p23);
    _mm256_storeu_si256((__m256i *)keep, _mm256_permute2x128_si256(even, odd, 0x20));
    _mm256_storeu_si256((__m256i *)(keep + 8), _mm256_permute2x128_si256(even, odd, 0x31));
}

/* The keep words of `chains` (1 to 4) groups of 4 blocks from `block` when T = 2^31 (p = 0.5): an
 * element is kept where its bit of plane 0 is 0, so the words are that plane's outputs inverted
 * (by the last round), written to keep (4 per block) straight from the lanes. */
FD_STATIC_FORCEINLINE void half_start(const fd_bernoulli *rule, uint64_t block, int chains,
                                      fdv_philox *s) /* the states after round 2 */
{
    int h;
    for (h = 0; h < chains; h++) {
        fdv counter[3];
        fdv_prefix prefix;
        fdv_counters(rule, block + 4 * (size_t)h, fdv_iota(), counter);
        fdv_prefix_of(&prefix, counter, rule->key);
        fdv_from_prefix(&s[h], &prefix, _mm256_setzero_si256());
    }
}
FD_STATIC_FORCEINLINE void half_finish(const fd_bernoulli *rule, const fdv_philox *s, int chains,
                                       uint32_t *keep) /* after round 9 */
{
    __m256i r[4][2];
    int h;
    last_round_packed(s, chains, rule->key, 1, r);
    for (h = 0; h < chains; h++) store_packed(keep + 16 * h, r[h]);
}
FD_STATIC_FORCEINLINE void half_words(const fd_bernoulli *rule, uint64_t block, int chains,
                                      uint32_t *keep)
{
    fdv_philox s[4];
    half_start(rule, block, chains, s);
    fdv_rounds_to(s, chains, rule->key, NULL, FD_PHILOX_ROUNDS - 1);
    half_finish(rule, s, chains, keep);
}

/* compare_plane on packed pairs of a plane's outputs (last_round_packed), for both halves (r[h]:
 * half h's) under one test of T's bit: tested per pair, the branches cost Clang 10% of the
 * p = 0.1 mask (GCC the same either way). */
FD_STATIC_FORCEINLINE void compare_packed(__m256i kept[][2], __m256i undecided[][2],
                                          const __m256i r[][2], int bit)
{
    int h, i;
    if (bit)
        for (h = 0; h < 2; h++)
            for (i = 0; i < 2; i++) {
                kept[h][i] = fdv_or_andnot(kept[h][i], undecided[h][i], r[h][i]);
                undecided[h][i] = fdv_and(undecided[h][i], r[h][i]);
            }
    else
        for (h = 0; h < 2; h++)
            for (i = 0; i < 2; i++) undecided[h][i] = fdv_andnot(r[h][i], undecided[h][i]);
}

/* compare_planes with Philox and the comparison fused: the planes of 8 blocks at a time in pairs,
 * both planes of both halves side by side (four independent chains: the out-of-order core finds
 * too little in fewer), the rounds that do not depend on the plane done once, kept and undecided
 * as packed pairs (p = 0.5 never comes here: FD_KEEP_WORDS_HALF). An odd count's last plane runs
 * the two halves side by side (1 chain each: 8% faster at p = 1/8 on the Zen 4 of
 * benchmarks/NEON.md than 8-lane Philox in memory). */
static void compare_planes_avx2(const fd_bernoulli *rule, uint64_t first, size_t nblocks,
                                int nplanes, uint32_t *keep, uint32_t u[4][FD_CHUNK_BLOCKS],
                                uint64_t tied[4], prefetcher *pf)
{
    const __m256i ones = _mm256_set1_epi64x(-1), zero = _mm256_setzero_si256();
    const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    const fd_bernoulli held = *rule; /* a copy that the vector stores cannot alias */
    uint32_t tail[4 * 8];
    size_t g;
    int i;
    rule = &held;
    for (i = 0; i < 4; i++) tied[i] = 0;
    for (g = 0; g < nblocks; g += 8) {
        __m256i counter[2][3], kept[2][2], undecided[2][2];
        fdv_prefix prefix[2];
        int h, plane;
        for (h = 0; h < 2; h++) {
            fdv_counters(rule, first + g + 4 * (size_t)h, fdv_iota(), counter[h]);
            for (i = 0; i < 2; i++) {
                kept[h][i] = zero;
                undecided[h][i] = ones;
            }
            fdv_prefix_of(&prefix[h], counter[h], rule->key);
        }
        for (plane = 0; plane + 1 < nplanes; plane += 2) {
            fdv_philox s[4];
            __m256i r[4][2];
            for (h = 0; h < 2; h++) {
                fdv_from_prefix(&s[h], &prefix[h], _mm256_set1_epi64x(plane));
                fdv_from_prefix(&s[2 + h], &prefix[h], _mm256_set1_epi64x(plane + 1));
            }
            fdv_rounds_to(s, 4, rule->key, NULL, FD_PHILOX_ROUNDS - 1);
            last_round_packed(s, 4, rule->key, 0, r);
            compare_packed(kept, undecided, r, plane_keeps(rule, plane));
            compare_packed(kept, undecided, r + 2, plane_keeps(rule, plane + 1));
            prefetch_some(pf, FD_PREFETCH_LINES); /* the memory of 8 lanes of two planes */
        }
        if (plane < nplanes) { /* an odd count's last plane: the two halves side by side */
            fdv_philox s[2];
            __m256i r[2][2];
            for (h = 0; h < 2; h++) fdv_from_prefix(&s[h], &prefix[h], _mm256_set1_epi64x(plane));
            fdv_rounds_to(s, 2, rule->key, NULL, FD_PHILOX_ROUNDS - 1);
            last_round_packed(s, 2, rule->key, 0, r);
            compare_packed(kept, undecided, r, plane_keeps(rule, plane));
            prefetch_some(pf, FD_PREFETCH_LINES / 2);
        }
        for (h = 0; h < 2; h++) {
            const size_t b = g + 4 * (size_t)h;
            store_packed(g + 8 <= nblocks ? keep + 4 * b : tail + 16 * h, kept[h]);
            for (i = 0; i < 2; i++) {
                /* lanes of words 1 and 0 (3 and 2) to 4 words 1 then 4 words 0 (3 and 2) */
                const __m256i v = _mm256_permutevar8x32_epi32(undecided[h][i], even);
                /* bit j (4 + j): word 2 i + 1 (2 i) of block b + j has a tie */
                const uint64_t any = (uint64_t)(~_mm256_movemask_ps(_mm256_castsi256_ps(
                                                    _mm256_cmpeq_epi32(v, zero))) & 0xff);
                _mm_storeu_si128((__m128i *)&u[2 * i + 1][b], _mm256_castsi256_si128(v));
                _mm_storeu_si128((__m128i *)&u[2 * i][b], _mm256_extracti128_si256(v, 1));
                tied[2 * i + 1] |= (any & 15u) << b;
                tied[2 * i] |= (any >> 4) << b;
            }
        }
        if (g + 8 > nblocks) memcpy(keep + 4 * g, tail, 4 * (nblocks - g) * sizeof *keep);
    }
    for (i = 0; i < 4; i++) /* not the lanes past the last block */
        tied[i] &= nblocks < 64 ? ((uint64_t)1 << nblocks) - 1u : ~(uint64_t)0;
}

/* bool_groups: each byte of a keep word copied to the 8 mask bytes it covers (vpshufb works within
 * 128-bit halves, so each half indexes its own copy of the word), then one bit tested per byte.
 * Unrolled four times: rolled, its 8 instructions took two cycles a word on the Zen 4 (the taken
 * branch ends a dispatch group), unrolled 1.25 (a mask of 2^18 at p = 0.5: 0.038 ns an element,
 * 0.046 rolled). */
static void bool_groups_avx2(const uint32_t *words, size_t ngroups, uint8_t *mask)
{
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, /**/
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64,
                                         -128, 1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32,
                                         64, -128);
    const __m256i one = _mm256_set1_epi8(1);
    size_t g;
    FD_UNROLL4 for (g = 0; g < ngroups; g++) {
        const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)words[g]), spread);
        /* min(bits & bit, 1): 1 where the element's bit is set, else 0 */
        _mm256_storeu_si256((__m256i *)(mask + 32 * g),
                            _mm256_min_epu8(_mm256_and_si256(bytes, bit), one));
    }
}

/* scale_groups_f16, 8 elements a vector, through F16C's conversions (exact as on AVX-512; see
 * there); each group's 8 keep bits of a vector spread to 16-bit lanes by a compare. */
static void scale_groups_f16_avx2(const uint32_t *words, size_t ngroups, const char *x, char *out,
                                  double scale)
{
    const __m256 s = _mm256_set1_ps((float)scale);
    const __m128i bit = _mm_setr_epi16(1, 2, 4, 8, 16, 32, 64, 128);
    size_t g, j;
    for (g = 0; g < ngroups; g++)
        for (j = 0; j < 4; j++) {
            const size_t at = 64 * g + 16 * j;
            const __m256 v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + at)));
            const __m128i h = _mm256_cvtps_ph(_mm256_mul_ps(v, s), _MM_FROUND_TO_NEAREST_INT);
            const __m128i byte = _mm_set1_epi16((short)(words[g] >> 8 * j & 0xffu));
            const __m128i kept = _mm_cmpeq_epi16(_mm_and_si128(byte, bit), bit);
            _mm_storeu_si128((__m128i *)(out + at), _mm_and_si128(h, kept));
        }
}

/*
 * Dropout in 32-byte vectors aligned to out, so that none straddles two cache lines (NumPy's
 * arrays start 16 bytes past one here). 64-bit elements: the h elements before the first
 * boundary and the last 4 - h take masked vectors; one variable shift moves each lane's keep bit
 * to its sign and a compare spreads it over the lane (4,096 elements in L1: 1.6 cycles a vector,
 * 1.8 unaligned, where GCC's vectorised group loop took 2.2). 32-bit elements: the first and
 * last h elements one at a time; each group's word, broadcast, is tested against one bit a lane,
 * as GCC's loop does (the shift took longer). On the EPYC, float32 at p = 0.5 16 bytes past a
 * line: 0.071 ns an element at 2^16 (GCC's loop, unaligned: 0.085), the same 0.064 as that loop
 * on a line, and 0.040 instead of 0.12 for the kernel alone when it copies kept elements.
 */

/* Keep bits [h + 32 g, h + 32 g + 32) of the words (those past the last word 0), h < 32. */
static inline uint32_t word_from(const uint32_t *words, size_t ngroups, size_t g, unsigned h)
{
    const uint32_t next = g + 1 < ngroups ? words[g + 1] : 0;
    return h ? words[g] >> h | next << (32 - h) : words[g];
}

/* The first `count` of 4 64-bit lanes, all bits set. */
static inline __m256i lanes4(int count)
{
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(count), _mm256_setr_epi64x(0, 1, 2, 3));
}

/* One vector, the lanes whose sign bit is set in keep kept; only `lanes` read and written
 * (whole: all four, with plain loads and stores). Always inlined, as the groups loops are, so
 * that `multiply` is a constant in each kernel (see apply16 in fd_kernels_avx512.c: Clang turns a
 * run-time choice into a multiply by 1.0, which quiets signaling NaNs). */
FD_STATIC_FORCEINLINE void apply4(const char *x, char *out, __m256i keep, __m256i lanes, __m256d s,
                                  int multiply, int whole)
{
    const __m256d v = whole ? _mm256_loadu_pd((const double *)x)
                            : _mm256_maskload_pd((const double *)x, lanes);
    const __m256d kept = _mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_setzero_si256(), keep));
    const __m256d r = _mm256_and_pd(multiply ? _mm256_mul_pd(v, s) : v, kept);
    if (whole)
        _mm256_storeu_pd((double *)out, r);
    else
        _mm256_maskstore_pd((double *)out, lanes, r);
}

/* The first `vectors` (4, or 3 in the call's last group) of a group's vectors of 32-bit
 * elements, out aligned. Lane k of vector j is kept by bit (h + 8 j + k) % 32 (bit[j]) of *word,
 * or of word[1] where h + 8 j + k > 31: the lanes of `next` in vector 3 when the group
 * `straddles` two words (h > 0). Words are broadcast from memory (GCC took a word held in a
 * register through two more instructions; shifting all the words by h into a buffer first, so
 * that each group reads one, made float32 at p = 0.5 7% slower at 2^24). */
FD_STATIC_FORCEINLINE void group32(const char *x, char *out, const uint32_t *word,
                                   const __m256i bit[4], __m256i next, __m256 s, int multiply,
                                   int vectors, int straddles)
{
    const __m256i w = _mm256_castps_si256(_mm256_broadcast_ss((const float *)word));
    __m256 v[4];
    int j;
    for (j = 0; j < vectors; j++) { /* the multiply reads x itself: one instruction, not two */
        const __m256 xj = _mm256_loadu_ps((const float *)(x + 32 * j));
        v[j] = multiply ? _mm256_mul_ps(xj, s) : xj;
    }
    for (j = 0; j < vectors; j++) {
        const __m256i wj = /* word[1] only read here, never in the call's last group */
            j == 3 && straddles
                ? _mm256_blendv_epi8(
                      w, _mm256_castps_si256(_mm256_broadcast_ss((const float *)(word + 1))), next)
                : w;
        const __m256i dropped =
            _mm256_cmpeq_epi32(_mm256_and_si256(wj, bit[j]), _mm256_setzero_si256());
        _mm256_storeu_si256((__m256i *)(out + 32 * j),
                            _mm256_andnot_si256(dropped, _mm256_castps_si256(v[j])));
    }
}

/* n < 32 elements one at a time, kept by bits [0, n) of `bits`. */
FD_STATIC_FORCEINLINE void elements32(uint32_t bits, unsigned n, const char *x, char *out,
                                      float scale, int multiply)
{
    unsigned i;
    for (i = 0; i < n; i++) {
        const uint32_t v =
            multiply ? fd_f32_scaled_bits(x + 4 * i, scale) : fd_load_u32(x + 4 * i);
        fd_store_u32(out + 4 * i, bits >> i & 1u ? v : 0u);
    }
}

/* What applying a call's groups of 32-bit elements needs (out's head h, the scale, the lanes'
 * bits), set once: groups_32 and half_dropout_32 go through the groups in steps. */
typedef struct {
    __m256 s;
    __m256i bit[4], next;
    unsigned h;
} apply32;

FD_STATIC_FORCEINLINE void apply32_setup(apply32 *a, const char *out, float scale)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int j;
    a->s = _mm256_set1_ps(scale);
    a->h = head_elements(out, 4, 32);
    a->next = _mm256_cmpgt_epi32(lane, _mm256_set1_epi32(7 - (int)a->h));
    for (j = 0; j < 4; j++)
        a->bit[j] = _mm256_sllv_epi32(
            _mm256_set1_epi32(1),
            _mm256_and_si256(_mm256_add_epi32(lane, _mm256_set1_epi32((int)a->h + 8 * j)),
                             _mm256_set1_epi32(31)));
}

/* Groups [from, to) of a call, not its last: x and out are the call's, past the h head elements
 * (elements32 of words[0]); `straddles`: h > 0. */
FD_STATIC_FORCEINLINE void apply32_groups(const apply32 *a, const uint32_t *words, size_t from,
                                          size_t to, const char *x, char *out, int multiply,
                                          int straddles)
{
    size_t g;
    for (g = from; g < to; g++)
        group32(x + 128 * g, out + 128 * g, words + g, a->bit, a->next, a->s, multiply, 4,
                straddles);
}

/* The call's last group g: 32 - h elements, of word g alone, the last 8 - h one at a time. */
FD_STATIC_FORCEINLINE void apply32_last(const apply32 *a, const uint32_t *words, size_t g,
                                        const char *x, char *out, float scale, int multiply)
{
    group32(x + 128 * g, out + 128 * g, words + g, a->bit, a->next, a->s, multiply, a->h ? 3 : 4,
            0);
    if (a->h)
        elements32(words[g] >> (24 + a->h), 8 - a->h, x + 128 * g + 96, out + 128 * g + 96, scale,
                   multiply);
}

/* The groups of 32-bit elements: the h elements before out's first 32-byte boundary one at a
 * time, then 4 aligned vectors a group, the last group's 32 - h elements in 3 vectors and 8 - h
 * one at a time. Always inlined, as groups_64 is. */
FD_STATIC_FORCEINLINE void groups_32(const uint32_t *words, size_t ngroups, const char *x,
                                     char *out, float scale, int multiply)
{
    apply32 a;
    if (ngroups == 0) return;
    apply32_setup(&a, out, scale);
    elements32(words[0], a.h, x, out, scale, multiply);
    x += 4 * a.h;
    out += 4 * a.h;
    if (a.h)
        apply32_groups(&a, words, 0, ngroups - 1, x, out, multiply, 1);
    else
        apply32_groups(&a, words, 0, ngroups - 1, x, out, multiply, 0);
    apply32_last(&a, words, ngroups - 1, x, out, scale, multiply);
}

/*
 * float32 dropout at p = 0.5 with its keep words made in the same pass: the words of blocks
 * [first, first + nblocks) into words (as keep_words), groups [g0, g0 + ngroups) of them applied
 * to x and out (as groups_32; x and out at group g0; `straddles`: out's head h > 0). Made first
 * and applied after, the rounds (chains of multiplies) and the pass over x (loads and stores)
 * add up, and the pass, with the memory's stream, stops while a window's bits are made; so each
 * step makes the words of HALF_STEP_BLOCKS blocks while the groups of the step before are
 * applied between its rounds, a few a round, and the out-of-order core runs both together. A
 * group straddling two words waits for the second, so the applied groups lag the made words by
 * one; the last nblocks % HALF_STEP_BLOCKS blocks are made first, apart.
 */
#define HALF_CHAINS 2 /* 8 of AVX2's 16 registers: the apply needs the rest */
#define HALF_STEP_BLOCKS (4 * HALF_CHAINS)
#define HALF_STEP_WORDS (4 * HALF_STEP_BLOCKS)
#define HALF_SLOTS (FD_PHILOX_ROUNDS - 2) /* after round 2 (the start) and rounds 3 to 9 */

FD_STATIC_FORCEINLINE void half_dropout(const fd_bernoulli *rule, uint64_t first, size_t nblocks,
                                        uint32_t *words, size_t g0, size_t ngroups, const char *x,
                                        char *out, float scale, int multiply, int straddles)
{
    const size_t steps = nblocks / HALF_STEP_BLOCKS, whole = HALF_STEP_WORDS * steps;
    const size_t last = ngroups ? ngroups - 1 : 0; /* the call's last group is applied apart */
    const uint32_t *w = words + g0;
    size_t made = 0, done = 0, step;
    apply32 a;
    apply32_setup(&a, out, scale);
    if (whole < 4 * nblocks)
        fdv_keep_words_half(rule, first + HALF_STEP_BLOCKS * steps, nblocks % HALF_STEP_BLOCKS,
                            words + whole);
    x += 4 * a.h; /* past the head elements, applied at the end */
    out += 4 * a.h;
    for (step = 0; step < steps; step++) {
        size_t ready = made > g0 + 1 ? made - g0 - 1 : 0; /* groups with both words made */
        fdv_philox s[HALF_CHAINS];
        if (ready > last) ready = last;
        half_start(rule, first + HALF_STEP_BLOCKS * step, HALF_CHAINS, s);
        if (ready - done >= HALF_STEP_WORDS) { /* a step's groups, spread over the rounds */
            uint32_t k0 = (uint32_t)rule->key + 2 * FD_PHILOX_W0;
            uint32_t k1 = (uint32_t)(rule->key >> 32) + 2 * FD_PHILOX_W1;
            int slot;
            /* a loop, not unrolled: unrolled, GCC kept more values live than AVX2's registers
             * hold and spilled them (1,123 stack accesses against 417), 5-10% slower */
            for (slot = 0; slot < HALF_SLOTS; slot++) {
                if (slot) {
                    fdv_round(s, HALF_CHAINS, k0, k1);
                    k0 += FD_PHILOX_W0;
                    k1 += FD_PHILOX_W1;
                }
                apply32_groups(&a, w, done, done + HALF_STEP_WORDS / HALF_SLOTS, x, out, multiply,
                               straddles);
                done += HALF_STEP_WORDS / HALF_SLOTS;
            }
        } else { /* the first steps, or the groups start late in the window */
            fdv_rounds_to(s, HALF_CHAINS, rule->key, NULL, FD_PHILOX_ROUNDS - 1);
            apply32_groups(&a, w, done, ready, x, out, multiply, straddles);
            done = ready;
        }
        half_finish(rule, s, HALF_CHAINS, words + made);
        made += HALF_STEP_WORDS;
    }
    if (ngroups == 0) return;
    elements32(w[0], a.h, x - 4 * a.h, out - 4 * a.h, scale, multiply);
    apply32_groups(&a, w, done, last, x, out, multiply, straddles);
    apply32_last(&a, w, last, x, out, scale, multiply);
}

static void half_dropout_32(const fd_bernoulli *rule, uint64_t first, size_t nblocks,
                            uint32_t *words, size_t g0, size_t ngroups, const char *x, char *out,
                            double scale, int multiply)
{
    const int straddles = head_elements(out, 4, 32) != 0;
    if (multiply && straddles)
        half_dropout(rule, first, nblocks, words, g0, ngroups, x, out, (float)scale, 1, 1);
    else if (multiply)
        half_dropout(rule, first, nblocks, words, g0, ngroups, x, out, (float)scale, 1, 0);
    else if (straddles)
        half_dropout(rule, first, nblocks, words, g0, ngroups, x, out, 1.0f, 0, 1);
    else
        half_dropout(rule, first, nblocks, words, g0, ngroups, x, out, 1.0f, 0, 0);
}

FD_STATIC_FORCEINLINE void groups_64(const uint32_t *words, size_t ngroups, const char *x,
                                     char *out, double scale, int multiply)
{
    const __m256d s = _mm256_set1_pd(scale);
    const unsigned h = head_elements(out, 8, 32);
    __m256i shift[8]; /* lane k of vector j: 63 - (4 j + k), which moves bit 4 j + k to the sign */
    size_t g;
    int j;
    if (ngroups == 0) return;
    for (j = 0; j < 8; j++)
        shift[j] = _mm256_sub_epi64(_mm256_set1_epi64x(63 - 4 * j), _mm256_setr_epi64x(0, 1, 2, 3));
    if (h)
        apply4(x, out, _mm256_sllv_epi64(_mm256_set1_epi64x(words[0]), shift[0]), lanes4((int)h),
               s, multiply, 0);
    for (g = 0; g < ngroups; g++) {
        const __m256i w = _mm256_set1_epi64x(word_from(words, ngroups, g, h));
        const size_t at = 8 * (32 * g + h);
        for (j = 0; j < 8; j++) {
            /* the call's last vector runs h lanes past its end */
            const int partial = g + 1 == ngroups && h && j == 7;
            apply4(x + at + 32 * j, out + at + 32 * j, _mm256_sllv_epi64(w, shift[j]),
                   partial ? lanes4(4 - (int)h) : _mm256_set1_epi64x(-1), s, multiply, !partial);
        }
    }
}

static void scale_groups_f32(const uint32_t *words, size_t ngroups, const char *x, char *out,
                             double scale)
{
    groups_32(words, ngroups, x, out, (float)scale, 1);
}

static void select_groups_32(const uint32_t *words, size_t ngroups, const char *x, char *out)
{
    groups_32(words, ngroups, x, out, 1.0f, 0);
}

static void scale_groups_f64(const uint32_t *words, size_t ngroups, const char *x, char *out,
                             double scale)
{
    groups_64(words, ngroups, x, out, scale, 1);
}

static void select_groups_64(const uint32_t *words, size_t ngroups, const char *x, char *out)
{
    groups_64(words, ngroups, x, out, 1.0, 0);
}

const fd_kernels fd_kernels_avx2 = FD_KERNEL_TABLE("avx2");

#if FD_MSVC
#elif defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif /* FD_X86_SIMD */
