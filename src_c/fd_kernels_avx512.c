/*
 * The AVX-512 path (F, BW, DQ, VL: every AVX-512 CPU since Skylake-SP): the kernels of the scalar
 * path compiled for AVX-512 inside this file only, with Philox fused into the plane comparison
 * (8 lanes of 64 bits), the ties' Philox in the same lanes, in up to four chains (the first tie of
 * each word listed in vectors), bool masks and the dropout of 32- and 64-bit elements from mask
 * registers, stored in whole cache lines, and float16 through the ISA's conversions.
 * fd_dispatch.c selects it only on CPUs and operating systems that run it. (MSVC, as for AVX2,
 * builds the intrinsics with no target and the plain C parts for the baseline ISA.)
 */
#include "fd_kernels.h"

#if FD_X86_SIMD
#if FD_MSVC /* compiles the intrinsics as they are */
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl")
#endif

#include <immintrin.h>

#define FD_COMPARE_PLANES compare_planes_avx512
#define FD_BOOL_GROUPS bool_groups_avx512
#define FD_GROUPS_32
#define FD_GROUPS_64
#define FD_FIRST_TIES first_ties_avx512
#define FD_FLUSH_TIES flush_ties_avx512
#define FD_SCALE_GROUPS_F16 scale_groups_f16_avx512
#define FD_NORMAL_PHILOX normal_philox_vec
#define FD_PHILOX_FLOOR philox_floor_vec
#include "fd_kernels_impl.h"

/* Eight Philox4x32-10 lanes in the low halves of 64-bit lanes (the high halves are ignored:
 * the widening multiply reads only the low ones, and xor never carries between halves). */
typedef struct {
    __m512i x[4];
} philox8;

/* The rounds of a plane's Philox that do not depend on the plane, done once for all planes:
 * c3 = plane enters round 1 only through an xor into word 2, which round 2 multiplies into
 * words 0 and 1; words 2 and 3 of round 2, and the rest of round 1, are the same for every plane. */
typedef struct {
    __m512i word2; /* word 2 after round 1 but the xor of c3 */
    __m512i word1; /* word 1 after round 1, xor round 2's key word 0 */
    __m512i after2[2]; /* words 2 and 3 after round 2 */
} philox8_prefix;

static inline void philox8_prefix_of(philox8_prefix *q, const __m512i counter[3], uint64_t key)
{
    const __m512i m0 = _mm512_set1_epi64(FD_PHILOX_M0), m1 = _mm512_set1_epi64(FD_PHILOX_M1);
    const uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    const __m512i p0 = _mm512_mul_epu32(counter[0], m0), p1 = _mm512_mul_epu32(counter[2], m1);
    const __m512i word0 = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1, 32), counter[1],
                                                    _mm512_set1_epi64(k0), 0x96);
    const __m512i q0 = _mm512_mul_epu32(word0, m0); /* round 2 */
    q->word2 = _mm512_xor_si512(_mm512_srli_epi64(p0, 32), _mm512_set1_epi64(k1));
    q->word1 = _mm512_xor_si512(p1, _mm512_set1_epi64((uint32_t)(k0 + FD_PHILOX_W0)));
    q->after2[0] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(q0, 32), p0,
                                             _mm512_set1_epi64((uint32_t)(k1 + FD_PHILOX_W1)), 0x96);
    q->after2[1] = q0;
}

/* The state after round 2 for counter word c3 (each lane's own, in its low half). */
static inline void philox8_from_prefix(philox8 *s, const philox8_prefix *q, __m512i c3)
{
    const __m512i m1 = _mm512_set1_epi64(FD_PHILOX_M1);
    const __m512i p1 = _mm512_mul_epu32(_mm512_xor_si512(q->word2, c3), m1);
    s->x[0] = _mm512_xor_si512(_mm512_srli_epi64(p1, 32), q->word1);
    s->x[1] = p1;
    s->x[2] = q->after2[0];
    s->x[3] = q->after2[1];
}

/* Rounds 3 to 10 of `chains` philox8 states at once: independent chains for the out-of-order
 * core (a constant count, so that the loop over them unrolls). After each round pf, if not NULL,
 * prefetches 3 lines per four chains: FD_PREFETCH_LINES per 16 lanes of a plane, spread out. */
static inline void philox8_rounds(philox8 *s, int chains, uint64_t key, prefetcher *pf)
{
    const __m512i m0 = _mm512_set1_epi64(FD_PHILOX_M0), m1 = _mm512_set1_epi64(FD_PHILOX_M1);
    uint32_t k0 = (uint32_t)key + 2 * FD_PHILOX_W0, k1 = (uint32_t)(key >> 32) + 2 * FD_PHILOX_W1;
    int round, h;
    for (round = 2; round < FD_PHILOX_ROUNDS; round++) {
        for (h = 0; h < chains; h++) {
            const __m512i p0 = _mm512_mul_epu32(s[h].x[0], m0), p1 = _mm512_mul_epu32(s[h].x[2], m1);
            s[h].x[0] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1, 32), s[h].x[1],
                                                  _mm512_set1_epi64(k0), 0x96);
            s[h].x[1] = p1;
            s[h].x[2] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0, 32), s[h].x[3],
                                                  _mm512_set1_epi64(k1), 0x96);
            s[h].x[3] = p0;
        }
        k0 += FD_PHILOX_W0;
        k1 += FD_PHILOX_W1;
        if (pf) prefetch_some(pf, FD_PREFETCH_LINES * chains / 16);
    }
}

/* Counter words c0, c1, c2 (fd_dropout.h) of the call's blocks `block` (64-bit lanes). */
static inline void counters_of(const fd_bernoulli *rule, __m512i block, __m512i counter[3])
{
    const __m512i offset = _mm512_set1_epi64((long long)rule->offset);
    const __m512i c = _mm512_add_epi64(offset, block);
    counter[0] = c;
    counter[1] = _mm512_srli_epi64(c, 32);
    counter[2] = _mm512_maskz_set1_epi64(_mm512_cmplt_epu64_mask(c, offset), 1); /* the carry */
}

/* compare_plane on the 8 blocks of a philox8: plane `plane`'s bits are its outputs. */
static inline void compare_plane8(__m512i kept[4], __m512i undecided[4], const philox8 *s,
                                  const fd_bernoulli *rule, int plane)
{
    int w;
    if ((rule->threshold >> (31 - plane)) & 1u)
        for (w = 0; w < 4; w++) {
            /* k | (u & ~r) */
            kept[w] = _mm512_ternarylogic_epi64(kept[w], undecided[w], s->x[w], 0xF4);
            undecided[w] = _mm512_and_si512(undecided[w], s->x[w]);
        }
    else
        for (w = 0; w < 4; w++) undecided[w] = _mm512_andnot_si512(s->x[w], undecided[w]);
}

/* `chains` planes from `plane` of 8 blocks side by side (independent chains). Always inlined:
 * a call would keep kept and undecided in memory. */
FD_STATIC_FORCEINLINE void planes_of_half(const fd_bernoulli *rule, const philox8_prefix *prefix,
                                          int plane, int chains, __m512i kept[4],
                                          __m512i undecided[4], prefetcher *pf)
{
    philox8 s[4];
    int i;
    for (i = 0; i < chains; i++) philox8_from_prefix(&s[i], prefix, _mm512_set1_epi64(plane + i));
    philox8_rounds(s, chains, rule->key, pf);
    for (i = 0; i < chains; i++) compare_plane8(kept, undecided, &s[i], rule, plane + i);
}

/* The planes of a short call's lone half (8 blocks): in fours, then two or one side by side. Not
 * inlined: in the same function as the loop over two halves, it costs that loop registers. */
FD_STATIC_NOINLINE void lone_half_planes(const fd_bernoulli *rule, int nplanes,
                                         const philox8_prefix *prefix, __m512i kept[4],
                                         __m512i undecided[4])
{
    int plane = 0;
    for (; plane + 3 < nplanes; plane += 4)
        planes_of_half(rule, prefix, plane, 4, kept, undecided, NULL);
    for (; plane + 1 < nplanes; plane += 2)
        planes_of_half(rule, prefix, plane, 2, kept, undecided, NULL);
    if (plane < nplanes) planes_of_half(rule, prefix, plane, 1, kept, undecided, NULL);
}

/* Keep words of 8 blocks from kept (kept[w]: word w of each block, in the lanes' low halves)
 * into keep (4 words a block); only the first `blocks`. */
static inline void put_keep8(const __m512i kept[4], size_t blocks, uint32_t *keep)
{
    const __m512i low_pairs = _mm512_setr_epi32(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28,
                                                14, 30);
    /* qword b of w01: words 0 and 1 of block b; of w23: words 2 and 3 */
    const __m512i w01 = _mm512_permutex2var_epi32(kept[0], low_pairs, kept[1]);
    const __m512i w23 = _mm512_permutex2var_epi32(kept[2], low_pairs, kept[3]);
    const __m512i words[2] = {
        _mm512_permutex2var_epi64(w01, _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), w23),
        _mm512_permutex2var_epi64(w01, _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15), w23)};
    const unsigned count = blocks < 8 ? 4 * (unsigned)blocks : 32;
    unsigned v;
    for (v = 0; v < 2; v++) { /* 16 words, 4 blocks, a vector */
        const unsigned here = count > 16 * v ? count - 16 * v : 0;
        uint32_t *at = keep + 16 * v;
        if (here >= 16)
            _mm512_storeu_si512(at, words[v]);
        else
            _mm512_mask_storeu_epi32(at, (__mmask16)((1u << here) - 1u), words[v]);
    }
}

/*
 * compare_planes with Philox and the comparison fused: the planes of 16 blocks at a time never
 * leave registers, and the rounds that do not depend on the plane are done once for all planes.
 * A multiple of four planes (8, the usual count) runs four chains of one half (8 blocks) at a
 * time, other counts the two halves side by side (two chains). Blocks past nblocks in the last
 * 16 are computed too but neither stored in keep nor flagged as tied; a last group of at most 8
 * blocks runs its planes as one half.
 */
static void compare_planes_avx512(const fd_bernoulli *rule, uint64_t first, size_t nblocks,
                                  int nplanes, uint32_t *keep, uint32_t u[4][FD_CHUNK_BLOCKS],
                                  uint64_t tied[4], prefetcher *pf)
{
    const __m512i ones = _mm512_set1_epi64(-1), low_halves = _mm512_set1_epi64(0xffffffff);
    const __m512i lanes = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    const uint64_t in_call = nblocks < 64 ? ((uint64_t)1 << nblocks) - 1u : ~(uint64_t)0;
    const int ties = ties_follow(rule); /* else u and tied are not read */
    size_t g;
    tied[0] = tied[1] = tied[2] = tied[3] = 0;
    for (g = 0; g < nblocks; g += 16) {
        __m512i kept[2][4], undecided[2][4];
        philox8_prefix prefix[2];
        int h, w, plane;
        for (h = 0; h < 2; h++) {
            __m512i counter[3];
            const uint64_t block = first + g + 8 * (size_t)h;
            counters_of(rule, _mm512_add_epi64(_mm512_set1_epi64((long long)block), lanes), counter);
            philox8_prefix_of(&prefix[h], counter, rule->key);
            for (w = 0; w < 4; w++) {
                kept[h][w] = _mm512_setzero_si512();
                undecided[h][w] = ones;
            }
        }
        if (nblocks - g <= 8) {
            lone_half_planes(rule, nplanes, &prefix[0], kept[0], undecided[0]);
        } else if (nplanes % 4 == 0) { /* one half at a time, four planes side by side */
            for (h = 0; h < 2; h++)
                for (plane = 0; plane < nplanes; plane += 4)
                    planes_of_half(rule, &prefix[h], plane, 4, kept[h], undecided[h], pf);
        } else { /* the two halves side by side */
            for (plane = 0; plane < nplanes; plane++) {
                philox8 s[2];
                for (h = 0; h < 2; h++)
                    philox8_from_prefix(&s[h], &prefix[h], _mm512_set1_epi64(plane));
                philox8_rounds(s, 2, rule->key, NULL);
                for (h = 0; h < 2; h++) compare_plane8(kept[h], undecided[h], &s[h], rule, plane);
                prefetch_some(pf, FD_PREFETCH_LINES);
            }
        }
        for (h = 0; h < 2 && g + 8 * (size_t)h < nblocks; h++) {
            const size_t at = g + 8 * (size_t)h;
            put_keep8(kept[h], nblocks - at, keep + 4 * at);
            for (w = 0; w < 4 && ties; w++) {
                _mm256_storeu_si256((void *)&u[w][at], _mm512_cvtepi64_epi32(undecided[h][w]));
                tied[w] |= ((uint64_t)_mm512_test_epi64_mask(undecided[h][w], low_halves) << at) &
                           in_call;
            }
        }
    }
}

/* The set bits of a lane mask (every AVX-512 CPU has POPCNT). */
static inline size_t bit_count(__mmask16 m)
{
#if FD_MSVC
    return (size_t)_mm_popcnt_u32(m);
#else
    return (size_t)__builtin_popcount(m);
#endif
}

/*
 * The first tie of every tied word (its lowest undecided element), listed in vectors: the loop of
 * branches that resolve_ties takes per tie costs several times as much. A tied word has another
 * in about 1 of 16: those stay in u and tied for it.
 */
static size_t first_ties_avx512(size_t nblocks, uint32_t w, uint64_t *tied,
                                uint32_t u[FD_CHUNK_BLOCKS], uint32_t *items, prefetcher *pf)
{
    const size_t vectors = (nblocks + 15) / 16;
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const uint64_t listed = *tied;
    size_t n = 0, j;
    *tied = 0; /* now the words with a tie left */
    for (j = 0; j < vectors; j++) {
        const __mmask16 m = (__mmask16)(listed >> 16 * j);
        const __m512i v = _mm512_maskz_loadu_epi32(m, &u[16 * j]); /* tied lanes only */
        const __m512i lowest = _mm512_and_si512(v, _mm512_sub_epi32(_mm512_setzero_si512(), v));
        /* 128 * block + 32 * w + the bit's index, the exponent of lowest as a float (exact) */
        const __m512i base = _mm512_add_epi32(_mm512_slli_epi32(lanes, 7),
                                              _mm512_set1_epi32((int)(2048 * j + 32 * w) - 127));
        const __m512i item = _mm512_add_epi32(
            base, _mm512_srli_epi32(_mm512_castps_si512(_mm512_cvtepu32_ps(lowest)), 23));
        const __m512i rest = _mm512_xor_si512(v, lowest);
        _mm512_storeu_si512(items + n, _mm512_maskz_compress_epi32(m, item));
        n += bit_count(m);
        _mm512_mask_storeu_epi32(&u[16 * j], m, rest);
        *tied |= (uint64_t)_mm512_test_epi32_mask(rest, rest) << 16 * j;
        prefetch_some(pf, 2); /* as many as the planes' rounds take in about as long */
    }
    return n;
}

/* flush_ties for `chains` (1 to 4) groups of 8 listed ties side by side: the bit of each kept
 * tie into bits. */
FD_STATIC_FORCEINLINE void tie_groups(const fd_bernoulli *rule, uint64_t first,
                                      const uint32_t *items, uint32_t *bits, int chains,
                                      prefetcher *pf)
{
    const __m512i low = _mm512_set1_epi64((long long)(rule->threshold & 0xffffffu));
    philox8 s[4];
    __m512i e[4];
    int h, k;
    for (h = 0; h < chains; h++) {
        const __m512i item =
            _mm512_cvtepu32_epi64(_mm256_loadu_si256((const void *)(items + 8 * h)));
        const __m512i block = _mm512_add_epi64(_mm512_set1_epi64((long long)first),
                                               _mm512_srli_epi64(item, 7));
        __m512i counter[3];
        philox8_prefix prefix;
        counters_of(rule, block, counter);
        e[h] = _mm512_and_si512(item, _mm512_set1_epi64(FD_BLOCK_ELEMENTS - 1));
        philox8_prefix_of(&prefix, counter, rule->key);
        /* c3 = FD_PLANES + e / 4 (fd_dropout.h) */
        philox8_from_prefix(&s[h], &prefix, _mm512_add_epi64(_mm512_set1_epi64(FD_PLANES),
                                                             _mm512_srli_epi64(e[h], 2)));
    }
    philox8_rounds(s, chains, rule->key, pf);
    for (h = 0; h < chains; h++) { /* output word e % 4's top 24 bits < T's low 24: kept */
        const __m512i word = _mm512_and_si512(e[h], _mm512_set1_epi64(3));
        __m512i r = s[h].x[0];
        for (k = 1; k < 4; k++)
            r = _mm512_mask_mov_epi64(r, _mm512_cmpeq_epi64_mask(word, _mm512_set1_epi64(k)),
                                      s[h].x[k]);
        r = _mm512_srli_epi64(_mm512_and_si512(r, _mm512_set1_epi64(0xffffffff)), 8);
        _mm256_storeu_si256((void *)(bits + 8 * h),
                            _mm512_cvtepi64_epi32(_mm512_maskz_sllv_epi64(
                                _mm512_cmplt_epu64_mask(r, low), _mm512_set1_epi64(1),
                                _mm512_and_si512(e[h], _mm512_set1_epi64(31)))));
    }
}

/* flush_ties, 32 ties at a time in four chains, and the last 1 to 31 in as few as will do. */
static void flush_ties_avx512(const fd_bernoulli *rule, uint64_t first, uint32_t *items, size_t n,
                              uint32_t *keep, prefetcher *pf)
{
    uint32_t bits[FD_TIE_LIST + FD_TIE_PAD];
    size_t i;
    _mm512_storeu_si512(items + n, _mm512_setzero_si512()); /* padding: any counter will do */
    _mm512_storeu_si512(items + n + 16, _mm512_setzero_si512());
    for (i = 0; i + 24 < n; i += 32) tie_groups(rule, first, items + i, bits + i, 4, pf);
    switch ((n - i + 7) / 8) { /* constant chain counts, so that the loops over them unroll */
    case 3: tie_groups(rule, first, items + i, bits + i, 3, pf); break;
    case 2: tie_groups(rule, first, items + i, bits + i, 2, pf); break;
    case 1: tie_groups(rule, first, items + i, bits + i, 1, pf); break;
    default: break;
    }
    for (i = 0; i < n; i++) keep[items[i] / 32] |= bits[i];
}

/*
 * The kernels that write the caller's memory store whole 64-byte lines when they can: NumPy's
 * arrays start 16 bytes past a line here, and a 64-byte access across two lines costs about two
 * (8% of in-place dropout at 2^22 float32, 20% of float64 at 2^24). The h elements up to out's
 * first line boundary take one partial vector; each vector after them takes its keep bits from
 * wherever they start in the words (bool masks with a 64-bit load and a shift; dropout from
 * words shifted once per call). Masked lanes are neither read nor written.
 */

/* The keep bits of elements [e, min(e + 64, n)) of n (a multiple of 32) from bit 0 on. On x86
 * the words are a little-endian bit stream: element e is bit e % 8 of byte e / 8. */
static inline uint64_t bits_from(const uint32_t *words, size_t n, size_t e)
{
    const uint8_t *bytes = (const uint8_t *)words;
    const size_t first = e / 8;
    const unsigned shift = (unsigned)(e % 8);
    uint64_t bits = 0;
    size_t i;
    if (e + 64 <= n) { /* 8 bytes, and a ninth (still below n) if e is inside a byte */
        memcpy(&bits, bytes + first, sizeof bits);
        return shift ? bits >> shift | (uint64_t)bytes[first + 8] << (64 - shift) : bits;
    }
    for (i = first; i < n / 8; i++) bits |= (uint64_t)bytes[i] << 8 * (i - first);
    return bits >> shift;
}

/* bool_groups: 64 keep bits select 64 bytes of ones in one masked move. */
static void bool_groups_avx512(const uint32_t *words, size_t ngroups, uint8_t *mask)
{
    const __m512i one = _mm512_set1_epi8(1);
    const size_t n = 32 * ngroups;
    size_t e = head_elements(mask, 1, 64);
    if (e > n) e = n;
    if (e)
        _mm512_mask_storeu_epi8(mask, _cvtu64_mask64(((uint64_t)1 << e) - 1u),
                                _mm512_maskz_mov_epi8(_cvtu64_mask64(bits_from(words, n, 0)), one));
    for (; e + 64 <= n; e += 64)
        _mm512_storeu_si512(mask + e,
                            _mm512_maskz_mov_epi8(_cvtu64_mask64(bits_from(words, n, e)), one));
    if (e < n)
        _mm512_mask_storeu_epi8(mask + e, _cvtu64_mask64(((uint64_t)1 << (n - e)) - 1u),
                                _mm512_maskz_mov_epi8(_cvtu64_mask64(bits_from(words, n, e)), one));
}

/* One vector of elements; the lanes outside `lanes` are neither read nor written. These and the
 * loops below are always inlined, so that `multiply` is a constant in each kernel: left a
 * run-time argument, Clang -O3 turned the select into a multiply by 1.0 (select(c, x * s, x)
 * became x * select(c, s, 1)), which quiets the signaling NaNs that vanilla dropout copies. */
FD_STATIC_FORCEINLINE void apply16(const char *x, char *out, __mmask16 keep, __mmask16 lanes,
                                   __m512 s, int multiply)
{
    const __m512 v = _mm512_maskz_loadu_ps(lanes, x);
    _mm512_mask_storeu_ps(out, lanes, multiply ? _mm512_maskz_mul_ps(keep, v, s)
                                               : _mm512_maskz_mov_ps(keep, v));
}

FD_STATIC_FORCEINLINE void apply8(const char *x, char *out, __mmask8 keep, __mmask8 lanes,
                                  __m512d s, int multiply)
{
    const __m512d v = _mm512_maskz_loadu_pd(lanes, x);
    _mm512_mask_storeu_pd(out, lanes, multiply ? _mm512_maskz_mul_pd(keep, v, s)
                                               : _mm512_maskz_mov_pd(keep, v));
}

/* Bits [h + 32 i, h + 32 i + 32) of the bit stream `words` (32 * n bits, those past it 0) into
 * shifted[i], i < n: the mask of each vector aligned to out's lines then starts on a whole byte
 * and is loaded as it is. (Shifting each mask into place in general registers made the loops
 * below take 1.9 cycles a vector in L1; with the masks loaded, 1.2, or 1.4 with this shift.) */
static void shift_words(const uint32_t *words, size_t n, unsigned h, uint32_t *shifted)
{
    const __m128i right = _mm_cvtsi32_si128((int)h), left = _mm_cvtsi32_si128((int)(32 - h));
    size_t i;
    for (i = 0; i < n; i += 16) {
        const unsigned here = n - i < 16 ? (unsigned)(n - i) : 16u;
        const __mmask16 lanes = (__mmask16)((1u << here) - 1u);
        const __mmask16 next = (__mmask16)(i + 16 < n ? 0xffffu : lanes >> 1); /* word i + j + 1 */
        const __m512i a = _mm512_maskz_loadu_epi32(lanes, words + i);
        const __m512i b = _mm512_maskz_loadu_epi32(next, words + i + 1);
        _mm512_mask_storeu_epi32(shifted + i, lanes,
                                 _mm512_or_si512(_mm512_srl_epi32(a, right), _mm512_sll_epi32(b, left)));
    }
}

/* bits, passed through a general register. Left to itself, GCC loads a mask straight into a mask
 * register (kmovw from memory) or not depending on what else is in the file, and the loops below
 * then took 1.37 cycles a vector in L1 instead of 1.20. */
static inline unsigned through_register(unsigned bits)
{
#if !FD_MSVC
    __asm__("" : "+r"(bits));
#endif
    return bits;
}

/* The groups loops, SIZE-byte elements, LANES a vector: a masked vector for the elements before
 * out's first line boundary, then whole lines (the last vector masked to the end), each with its
 * mask loaded from shifted words; in pieces of FD_CHUNK_WORDS groups (the driver passes one
 * chunk's words, so one piece). */
#define FD_GROUPS_LOOP(SIZE, LANES, APPLY, MASK_T)                                                \
    const unsigned h = head_elements(out, SIZE, 64);                                              \
    uint32_t shifted[FD_CHUNK_WORDS];                                                             \
    while (ngroups) {                                                                             \
        const size_t piece = ngroups < FD_CHUNK_WORDS ? ngroups : FD_CHUNK_WORDS;                 \
        const size_t last = 32 / (LANES) * piece - 1; /* the last vector */                       \
        const MASK_T *m = (const MASK_T *)(h ? shifted : words);                                  \
        size_t v, at;                                                                             \
        if (h) {                                                                                  \
            APPLY(x, out, (MASK_T)words[0], (MASK_T)((1u << h) - 1u), s, multiply);               \
            shift_words(words, piece, h, shifted);                                                \
        }                                                                                         \
        FD_UNROLL4 for (v = 0; v < last; v++) {                                                   \
            at = 64 * v + (SIZE) * h;                                                             \
            APPLY(x + at, out + at, (MASK_T)through_register(m[v]), (MASK_T)~0u, s, multiply);    \
        }                                                                                         \
        at = 64 * last + (SIZE) * h; /* to the piece's end: h lanes short of a line */            \
        APPLY(x + at, out + at, m[last], (MASK_T)((1u << ((LANES) - h)) - 1u), s, multiply);      \
        words += piece;                                                                           \
        x += 32 * (SIZE) * piece;                                                                 \
        out += 32 * (SIZE) * piece;                                                               \
        ngroups -= piece;                                                                         \
    }

FD_STATIC_FORCEINLINE void groups_32(const uint32_t *words, size_t ngroups, const char *x,
                                     char *out, float scale, int multiply)
{
    const __m512 s = _mm512_set1_ps(scale);
    FD_GROUPS_LOOP(4, 16, apply16, uint16_t)
}

FD_STATIC_FORCEINLINE void groups_64(const uint32_t *words, size_t ngroups, const char *x,
                                     char *out, double scale, int multiply)
{
    const __m512d s = _mm512_set1_pd(scale);
    FD_GROUPS_LOOP(8, 8, apply8, uint8_t)
}

/* scale_groups_f16, 16 elements a vector: vcvtph2ps, one float32 multiply and vcvtps2ph rounding
 * to nearest even are exactly fd_f16_to_f32, the multiply and fd_f32_to_f16 (NaNs too: the
 * multiply quiets them either way, and both conversions keep a quiet NaN's payload). Unlike the
 * kernels below, its 32-byte stores are not aligned to lines (not measured whether it would pay). */
static void scale_groups_f16_avx512(const uint32_t *words, size_t ngroups, const char *x,
                                    char *out, double scale)
{
    const __m512 s = _mm512_set1_ps((float)scale);
    size_t g, j;
    for (g = 0; g < ngroups; g++)
        for (j = 0; j < 2; j++) {
            const size_t at = 64 * g + 32 * j;
            const __m512 v = _mm512_cvtph_ps(_mm256_loadu_si256((const void *)(x + at)));
            const __m256i h =
                _mm512_cvtps_ph(_mm512_mul_ps(v, s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            _mm256_storeu_si256((void *)(out + at),
                                _mm256_maskz_mov_epi16((__mmask16)(words[g] >> 16 * j), h));
        }
}

static void scale_groups_f32(const uint32_t *words, size_t ngroups, const char *x, char *out,
                             double scale)
{
    groups_32(words, ngroups, x, out, (float)scale, 1);
}

static void scale_groups_f64(const uint32_t *words, size_t ngroups, const char *x, char *out,
                             double scale)
{
    groups_64(words, ngroups, x, out, scale, 1);
}

static void select_groups_32(const uint32_t *words, size_t ngroups, const char *x, char *out)
{
    groups_32(words, ngroups, x, out, 1.0f, 0);
}

static void select_groups_64(const uint32_t *words, size_t ngroups, const char *x, char *out)
{
    groups_64(words, ngroups, x, out, 1.0, 0);
}

/* The vocabulary of fd_philox_vec.h: philox8's lanes, 64 bits wide. */
#define FD_VEC_LANES 8
typedef __m512i fd_vec;
typedef philox8 fd_vphilox;
typedef philox8_prefix fd_vprefix;
#define fd_v_counters counters_of
#define fd_v_prefix_of philox8_prefix_of
#define fd_v_from_prefix philox8_from_prefix
#define fd_v_rounds(s, chains, key) philox8_rounds(s, chains, key, NULL)
#define fd_v_xor _mm512_xor_si512
static inline fd_vec fd_v_set(uint64_t v) { return _mm512_set1_epi64((long long)v); }
static inline void fd_v_store(uint64_t *p, fd_vec v) { _mm512_storeu_si512(p, v); }
static inline fd_vec fd_v_lanes(uint64_t first)
{
    return _mm512_add_epi64(fd_v_set(first), _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline fd_vec fd_v_joined(fd_vec low, fd_vec high)
{
    return _mm512_mask_blend_epi32(0xAAAA, low, _mm512_slli_epi64(high, 32));
}
static inline fd_vec fd_v_below(fd_vec v, uint64_t first, uint64_t n)
{
    return _mm512_maskz_mov_epi64(_mm512_cmplt_epu64_mask(fd_v_lanes(first), fd_v_set(n)), v);
}
static inline uint32_t fd_v_fold(fd_vec v)
{
    uint64_t lanes[8];
    int i;
    _mm512_storeu_si512(lanes, v);
    for (i = 1; i < 8; i++) lanes[0] ^= lanes[i];
    return (uint32_t)lanes[0];
}
#include "fd_philox_vec.h"

const fd_kernels fd_kernels_avx512 = FD_KERNEL_TABLE("avx512");

#if FD_MSVC
#elif defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif /* FD_X86_SIMD */
