/*
 * The AVX2 path: the kernels of the scalar path compiled for AVX2 inside this file only (nothing
 * else is built with AVX2 flags), with Philox fused into the plane comparison (4 lanes of 64
 * bits), the ties' Philox in the same lanes in up to four chains, p = 0.5's keep words straight
 * from them, bool masks by byte shuffles, float64 dropout in vectors aligned to out, and float16
 * through F16C's conversions. fd_dispatch.c selects it only on CPUs (with F16C) and operating
 * systems that run it. MSVC needs no target for intrinsics: it builds the intrinsics as they are
 * and the plain C parts for the baseline ISA.
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
#define FD_FLUSH_TIES flush_ties_avx2
#define FD_SCALE_GROUPS_F16 scale_groups_f16_avx2
#define FD_GROUPS_64
#define FD_NORMAL_PHILOX normal_philox_vec
#define FD_PHILOX_FLOOR philox_floor_vec
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

/* An odd count's last plane, of the lanes (blocks) from `first`, through philox_lanes_avx2 in
 * memory, compared into k and u (see compare_planes). */
static void last_plane_lanes(const fd_bernoulli *rule, uint64_t first, size_t lanes, int plane,
                             uint32_t k[4][FD_CHUNK_BLOCKS], uint32_t u[4][FD_CHUNK_BLOCKS],
                             prefetcher *pf)
{
    const uint32_t t_bit = 0u - (uint32_t)((rule->threshold >> (31 - plane)) & 1u);
    uint32_t r[4][FD_CHUNK_BLOCKS];
    int w;
    size_t b;
    for (b = 0; b < lanes; b++)
        set_counter(rule, first + b, (uint32_t)plane, &r[0][b], &r[1][b], &r[2][b], &r[3][b]);
    philox_lanes_avx2(lanes, r[0], r[1], r[2], r[3], rule->key);
    for (w = 0; w < 4; w++)
        for (b = 0; b < lanes; b++) compare_plane(&k[w][b], &u[w][b], r[w][b], t_bit);
    for (b = 0; b < lanes; b += FD_LANE_VECTOR) prefetch_some(pf, FD_PREFETCH_LINES);
}

/* Four Philox4x32-10 lanes in the low halves of 64-bit lanes (the high halves are ignored:
 * the widening multiply reads only the low ones, and xor never carries between halves). */
typedef struct {
    __m256i x[4];
} philox4;

/* The rounds of a plane's Philox that do not depend on the plane, done once for all planes:
 * c3 = plane enters round 1 only through an xor into word 2, which round 2 multiplies into
 * words 0 and 1; words 2 and 3 of round 2, and the rest of round 1, are the same for every plane. */
typedef struct {
    __m256i word2;     /* word 2 after round 1 but the xor of c3 */
    __m256i word1;     /* word 1 after round 1, xor round 2's key word 0 */
    __m256i after2[2]; /* words 2 and 3 after round 2 */
} philox4_prefix;

static inline __m256i xor3(__m256i a, __m256i b, __m256i c)
{
    return _mm256_xor_si256(_mm256_xor_si256(a, b), c);
}

static inline void philox4_prefix_of(philox4_prefix *q, const __m256i counter[3], uint64_t key)
{
    const __m256i m0 = _mm256_set1_epi64x(FD_PHILOX_M0), m1 = _mm256_set1_epi64x(FD_PHILOX_M1);
    const uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    const __m256i p0 = _mm256_mul_epu32(counter[0], m0), p1 = _mm256_mul_epu32(counter[2], m1);
    const __m256i word0 = xor3(_mm256_srli_epi64(p1, 32), counter[1], _mm256_set1_epi64x(k0));
    const __m256i q0 = _mm256_mul_epu32(word0, m0); /* round 2 */
    q->word2 = _mm256_xor_si256(_mm256_srli_epi64(p0, 32), _mm256_set1_epi64x(k1));
    q->word1 = _mm256_xor_si256(p1, _mm256_set1_epi64x((uint32_t)(k0 + FD_PHILOX_W0)));
    q->after2[0] = xor3(_mm256_srli_epi64(q0, 32), p0,
                        _mm256_set1_epi64x((uint32_t)(k1 + FD_PHILOX_W1)));
    q->after2[1] = q0;
}

/* The state after round 2 for counter word c3 (each lane's own, in its low half). */
static inline void philox4_from_prefix(philox4 *s, const philox4_prefix *q, __m256i c3)
{
    const __m256i m1 = _mm256_set1_epi64x(FD_PHILOX_M1);
    const __m256i p1 = _mm256_mul_epu32(_mm256_xor_si256(q->word2, c3), m1);
    s->x[0] = _mm256_xor_si256(_mm256_srli_epi64(p1, 32), q->word1);
    s->x[1] = p1;
    s->x[2] = q->after2[0];
    s->x[3] = q->after2[1];
}

/* Rounds 3 to 10 of `chains` philox4 states at once: independent chains for the out-of-order core
 * (a constant count, so that the loop over them unrolls). */
static inline void philox4_rounds(philox4 *s, int chains, uint64_t key)
{
    const __m256i m0 = _mm256_set1_epi64x(FD_PHILOX_M0), m1 = _mm256_set1_epi64x(FD_PHILOX_M1);
    uint32_t k0 = (uint32_t)key + 2 * FD_PHILOX_W0, k1 = (uint32_t)(key >> 32) + 2 * FD_PHILOX_W1;
    int round, h;
    for (round = 2; round < FD_PHILOX_ROUNDS; round++) {
        for (h = 0; h < chains; h++) {
            const __m256i p0 = _mm256_mul_epu32(s[h].x[0], m0), p1 = _mm256_mul_epu32(s[h].x[2], m1);
            s[h].x[0] = xor3(_mm256_srli_epi64(p1, 32), s[h].x[1], _mm256_set1_epi64x(k0));
            s[h].x[1] = p1;
            s[h].x[2] = xor3(_mm256_srli_epi64(p0, 32), s[h].x[3], _mm256_set1_epi64x(k1));
            s[h].x[3] = p0;
        }
        k0 += FD_PHILOX_W0;
        k1 += FD_PHILOX_W1;
    }
}

/* Counter words c0, c1, c2 (fd_dropout.h) of the call's blocks `block` (64-bit lanes), made in
 * registers: set_counter's scalar stores, read back as vectors, cost the planes 17% in
 * store-forwarding stalls. */
static inline void counters_of(const fd_bernoulli *rule, __m256i block, __m256i counter[3])
{
    const __m256i offset = _mm256_set1_epi64x((long long)rule->offset);
    const __m256i sign = _mm256_set1_epi64x(INT64_MIN); /* AVX2 compares signed: flip both */
    const __m256i c = _mm256_add_epi64(offset, block);
    counter[0] = c;
    counter[1] = _mm256_srli_epi64(c, 32);
    counter[2] = _mm256_srli_epi64( /* the carry: c < offset */
        _mm256_cmpgt_epi64(_mm256_xor_si256(offset, sign), _mm256_xor_si256(c, sign)), 63);
}

/* compare_plane on the 4 blocks of a philox4: plane `plane`'s bits are its outputs. */
static inline void compare_plane4(__m256i kept[4], __m256i undecided[4], const philox4 *s,
                                  const fd_bernoulli *rule, int plane)
{
    int w;
    if ((rule->threshold >> (31 - plane)) & 1u)
        for (w = 0; w < 4; w++) {
            kept[w] = _mm256_or_si256(kept[w], _mm256_andnot_si256(s->x[w], undecided[w]));
            undecided[w] = _mm256_and_si256(undecided[w], s->x[w]);
        }
    else
        for (w = 0; w < 4; w++) undecided[w] = _mm256_andnot_si256(s->x[w], undecided[w]);
}

/* The low halves of four 64-bit lanes, as four 32-bit words. */
static inline __m128i low_halves(__m256i v)
{
    const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0);
    return _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, even));
}

/* Blocks block to block + 3, in 64-bit lanes. */
static inline __m256i blocks_from(uint64_t block)
{
    return _mm256_add_epi64(_mm256_set1_epi64x((long long)block), _mm256_setr_epi64x(0, 1, 2, 3));
}

/* The keep words of `chains` (1 to 4) groups of 4 blocks from `block` when T = 2^31 (p = 0.5): an
 * element is kept where its bit of plane 0 is 0, so the words are that plane's outputs inverted,
 * written to keep (4 per block) straight from the lanes. */
FD_STATIC_FORCEINLINE void half_words(const fd_bernoulli *rule, uint64_t block, int chains,
                                      uint32_t *keep)
{
    const __m256i ones = _mm256_set1_epi64x(-1);
    philox4 s[4];
    int h;
    for (h = 0; h < chains; h++) {
        __m256i counter[3];
        philox4_prefix prefix;
        counters_of(rule, blocks_from(block + 4 * (size_t)h), counter);
        philox4_prefix_of(&prefix, counter, rule->key);
        philox4_from_prefix(&s[h], &prefix, _mm256_setzero_si256());
    }
    philox4_rounds(s, chains, rule->key);
    for (h = 0; h < chains; h++) { /* lanes (blocks) to words 0 to 3 of each block in turn */
        const __m256i w01 = _mm256_blend_epi32(s[h].x[0], _mm256_slli_epi64(s[h].x[1], 32), 0xAA);
        const __m256i w23 = _mm256_blend_epi32(s[h].x[2], _mm256_slli_epi64(s[h].x[3], 32), 0xAA);
        const __m256i even = _mm256_unpacklo_epi64(w01, w23), odd = _mm256_unpackhi_epi64(w01, w23);
        _mm256_storeu_si256((__m256i *)(keep + 16 * h),
                            _mm256_xor_si256(_mm256_permute2x128_si256(even, odd, 0x20), ones));
        _mm256_storeu_si256((__m256i *)(keep + 16 * h + 8),
                            _mm256_xor_si256(_mm256_permute2x128_si256(even, odd, 0x31), ones));
    }
}

/* half_words for nblocks blocks from `first`: 16 at a time, the last 1 to 15 through a buffer. */
static void keep_words_half(const fd_bernoulli *rule, uint64_t first, size_t nblocks,
                            uint32_t *keep)
{
    uint32_t tail[4 * 16];
    size_t b;
    for (b = 0; b + 16 <= nblocks; b += 16) half_words(rule, first + b, 4, keep + 4 * b);
    switch ((nblocks - b + 3) / 4) { /* constant chain counts, so that the loops unroll */
    case 4: half_words(rule, first + b, 4, tail); break;
    case 3: half_words(rule, first + b, 3, tail); break;
    case 2: half_words(rule, first + b, 2, tail); break;
    case 1: half_words(rule, first + b, 1, tail); break;
    default: return;
    }
    memcpy(keep + 4 * b, tail, 4 * (nblocks - b) * sizeof *keep);
}

/* compare_planes with Philox and the comparison fused: the planes of 8 blocks at a time in pairs,
 * both planes of both halves side by side (four independent chains: the out-of-order core finds
 * too little in fewer), the rounds that do not depend on the plane done once. p = 0.5 (T = 2^31)
 * takes keep_words_half; an odd count's last plane last_plane_lanes, whose wide lanes keep more
 * chains going (as fast as four chains of a lone plane here, and simpler). */
static void compare_planes_avx2(const fd_bernoulli *rule, uint64_t first, size_t nblocks,
                                int nplanes, uint32_t *keep, uint32_t u[4][FD_CHUNK_BLOCKS],
                                uint64_t tied[4], prefetcher *pf)
{
    uint32_t k[4][FD_CHUNK_BLOCKS];
    const __m256i ones = _mm256_set1_epi64x(-1), zero = _mm256_setzero_si256();
    size_t g;
    if (nplanes == 1) { /* T's lowest set bit is bit 31: T = 2^31 */
        keep_words_half(rule, first, nblocks, keep);
        return;
    }
    for (g = 0; g < nblocks; g += 8) {
        __m256i counter[2][3], kept[2][4], undecided[2][4];
        philox4_prefix prefix[2];
        int h, w, plane;
        for (h = 0; h < 2; h++) {
            counters_of(rule, blocks_from(first + g + 4 * (size_t)h), counter[h]);
            for (w = 0; w < 4; w++) {
                kept[h][w] = zero;
                undecided[h][w] = ones;
            }
            philox4_prefix_of(&prefix[h], counter[h], rule->key);
        }
        for (plane = 0; plane + 1 < nplanes; plane += 2) {
            philox4 s[4];
            for (h = 0; h < 2; h++) {
                philox4_from_prefix(&s[2 * h], &prefix[h], _mm256_set1_epi64x(plane));
                philox4_from_prefix(&s[2 * h + 1], &prefix[h], _mm256_set1_epi64x(plane + 1));
            }
            philox4_rounds(s, 4, rule->key);
            for (h = 0; h < 2; h++) {
                compare_plane4(kept[h], undecided[h], &s[2 * h], rule, plane);
                compare_plane4(kept[h], undecided[h], &s[2 * h + 1], rule, plane + 1);
            }
            prefetch_some(pf, FD_PREFETCH_LINES); /* the memory of 8 lanes of two planes */
        }
        for (h = 0; h < 2; h++)
            for (w = 0; w < 4; w++) {
                _mm_storeu_si128((__m128i *)&k[w][g + 4 * (size_t)h], low_halves(kept[h][w]));
                _mm_storeu_si128((__m128i *)&u[w][g + 4 * (size_t)h], low_halves(undecided[h][w]));
            }
    }
    if (nplanes % 2)
        last_plane_lanes(rule, first, FD_ROUND_UP_LANES(nblocks), nplanes - 1, k, u, pf);
    store_keep_words(k, nblocks, keep);
    flag_ties(rule, u, nblocks, tied);
}

/* flush_ties for `chains` (1 to 4) groups of 4 listed ties side by side: the bit of each kept
 * tie into bits. */
FD_STATIC_FORCEINLINE void tie_groups(const fd_bernoulli *rule, uint64_t first,
                                      const uint32_t *items, uint32_t *bits, int chains)
{
    const __m256i low = _mm256_set1_epi64x((long long)(rule->threshold & 0xffffffu));
    philox4 s[4];
    __m256i e[4];
    int h, k;
    for (h = 0; h < chains; h++) {
        const __m256i item =
            _mm256_cvtepu32_epi64(_mm_loadu_si128((const __m128i *)(items + 4 * h)));
        const __m256i block =
            _mm256_add_epi64(_mm256_set1_epi64x((long long)first), _mm256_srli_epi64(item, 7));
        __m256i counter[3];
        philox4_prefix prefix;
        counters_of(rule, block, counter);
        e[h] = _mm256_and_si256(item, _mm256_set1_epi64x(FD_BLOCK_ELEMENTS - 1));
        philox4_prefix_of(&prefix, counter, rule->key);
        /* c3 = FD_PLANES + e / 4 (fd_dropout.h) */
        philox4_from_prefix(&s[h], &prefix, _mm256_add_epi64(_mm256_set1_epi64x(FD_PLANES),
                                                             _mm256_srli_epi64(e[h], 2)));
    }
    philox4_rounds(s, chains, rule->key);
    for (h = 0; h < chains; h++) { /* output word e % 4's top 24 bits < T's low 24: kept */
        const __m256i word = _mm256_and_si256(e[h], _mm256_set1_epi64x(3));
        __m256i r = s[h].x[0];
        for (k = 1; k < 4; k++)
            r = _mm256_blendv_epi8(r, s[h].x[k], _mm256_cmpeq_epi64(word, _mm256_set1_epi64x(k)));
        r = _mm256_srli_epi64(_mm256_and_si256(r, _mm256_set1_epi64x(0xffffffff)), 8);
        _mm_storeu_si128((__m128i *)(bits + 4 * h),
                         low_halves(_mm256_sllv_epi64(
                             _mm256_and_si256(_mm256_cmpgt_epi64(low, r), _mm256_set1_epi64x(1)),
                             _mm256_and_si256(e[h], _mm256_set1_epi64x(31)))));
    }
}

/* flush_ties, 16 ties at a time in four chains, and the last 1 to 15 in as few as will do. */
static void flush_ties_avx2(const fd_bernoulli *rule, uint64_t first, uint32_t *items, size_t n,
                            uint32_t *keep, prefetcher *pf)
{
    uint32_t bits[FD_TIE_LIST + FD_TIE_PAD];
    size_t i;
    _mm256_storeu_si256((__m256i *)(items + n), _mm256_setzero_si256()); /* padding: any will do */
    _mm256_storeu_si256((__m256i *)(items + n + 8), _mm256_setzero_si256());
    for (i = 0; i + 12 < n; i += 16) {
        tie_groups(rule, first, items + i, bits + i, 4);
        prefetch_some(pf, FD_PREFETCH_LINES);
    }
    switch ((n - i + 3) / 4) { /* constant chain counts, so that the loops over them unroll */
    case 3: tie_groups(rule, first, items + i, bits + i, 3); break;
    case 2: tie_groups(rule, first, items + i, bits + i, 2); break;
    case 1: tie_groups(rule, first, items + i, bits + i, 1); break;
    default: break;
    }
    prefetch_some(pf, FD_PREFETCH_LINES);
    for (i = 0; i < n; i++) keep[items[i] / 32] |= bits[i];
}

/* bool_groups: each byte of a keep word copied to the 8 mask bytes it covers (vpshufb works within
 * 128-bit halves, so each half indexes its own copy of the word), then one bit tested per byte. */
static void bool_groups_avx2(const uint32_t *words, size_t ngroups, uint8_t *mask)
{
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, /**/
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64,
                                         -128, 1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32,
                                         64, -128);
    const __m256i one = _mm256_set1_epi8(1);
    size_t g;
    for (g = 0; g < ngroups; g++) {
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
 * Dropout of 64-bit elements in 32-byte vectors aligned to out, so that none straddles two cache
 * lines (NumPy's arrays start 16 bytes past one here); the h elements before the first boundary
 * and the last 4 - h take masked ones. One variable shift moves each lane's keep bit to its sign
 * and a compare spreads it over the lane: 4,096 elements in L1 take 1.6 cycles a vector (1.8
 * where NumPy puts them), where GCC's vectorised group loop took 2.2. (For 32-bit elements the
 * same took longer than that loop, which keeps them.)
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
 * (whole: all four, with plain loads and stores). Always inlined, as groups_64 is, so that
 * `multiply` is a constant in each kernel (see apply16 in fd_kernels_avx512.c: Clang turns a
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

static void scale_groups_f64(const uint32_t *words, size_t ngroups, const char *x, char *out,
                             double scale)
{
    groups_64(words, ngroups, x, out, scale, 1);
}

static void select_groups_64(const uint32_t *words, size_t ngroups, const char *x, char *out)
{
    groups_64(words, ngroups, x, out, 1.0, 0);
}

/* The vocabulary of fd_philox_vec.h: philox4's lanes, 64 bits wide. */
#define FD_VEC_LANES 4
typedef __m256i fd_vec;
typedef philox4 fd_vphilox;
typedef philox4_prefix fd_vprefix;
#define fd_v_counters counters_of
#define fd_v_prefix_of philox4_prefix_of
#define fd_v_from_prefix philox4_from_prefix
#define fd_v_rounds philox4_rounds
#define fd_v_lanes blocks_from
#define fd_v_xor _mm256_xor_si256
static inline fd_vec fd_v_set(uint64_t v) { return _mm256_set1_epi64x((long long)v); }
static inline void fd_v_store(uint64_t *p, fd_vec v) { _mm256_storeu_si256((void *)p, v); }
static inline fd_vec fd_v_joined(fd_vec low, fd_vec high)
{
    return _mm256_blend_epi32(low, _mm256_slli_epi64(high, 32), 0xAA);
}
static inline fd_vec fd_v_below(fd_vec v, uint64_t first, uint64_t n)
{
    return _mm256_and_si256(v, _mm256_cmpgt_epi64(fd_v_set(n), blocks_from(first)));
}
static inline uint32_t fd_v_fold(fd_vec v)
{
    uint64_t lanes[4];
    _mm256_storeu_si256((void *)lanes, v);
    return (uint32_t)(lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3]);
}
#include "fd_philox_vec.h"

const fd_kernels fd_kernels_avx2 = FD_KERNEL_TABLE("avx2");

#if FD_MSVC
#elif defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif /* FD_X86_SIMD */
