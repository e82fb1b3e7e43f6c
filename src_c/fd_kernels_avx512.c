/*
 * The AVX-512 path (F, BW, DQ, VL: every AVX-512 CPU since Skylake-SP): the kernels of the scalar
 * path compiled for AVX-512 inside this file only, with Philox fused into the plane comparison
 * and the ties' Philox (fd_kernels_vec.h, over the vector layer below: 8 lanes of 64 bits; the
 * first tie of each word listed in vectors), bool masks and the dropout of 32- and 64-bit
 * elements from mask registers, stored in whole cache lines, and float16 through the ISA's
 * conversions.
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
#define FD_FLUSH_TIES fdv_flush_ties
#define FD_KEEP_WORDS_HALF fdv_keep_words_half
#define FD_SCALE_GROUPS_F16 scale_groups_f16_avx512
#define FD_NORMAL_PHILOX fdv_normal_philox
#define FD_PHILOX_FLOOR fdv_philox_floor
#include "fd_kernels_impl.h"

/* The vector layer of fd_kernels_vec.h: 8 lanes of 64 bits, each word in a lane's low half (the
 * widening multiply reads only those; 32-bit operations leave them apart from the high halves). */
typedef __m512i fdv;
#define FDV_LANES 8
#define FDV_UNROLL_ROUNDS
#define FDV_UNROLL_CHAINS
#define fdv_shr(a, n) _mm512_srli_epi32((a), (n))

FD_STATIC_FORCEINLINE fdv fdv_set1(uint32_t w) { return _mm512_set1_epi32((int)w); }
FD_STATIC_FORCEINLINE fdv fdv_iota(void) { return _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7); }
FD_STATIC_FORCEINLINE fdv fdv_load_words(const uint32_t *p)
{
    return _mm512_cvtepu32_epi64(_mm256_loadu_si256((const void *)p));
}
FD_STATIC_FORCEINLINE void fdv_store_words(uint32_t *p, fdv v)
{
    _mm256_storeu_si256((void *)p, _mm512_cvtepi64_epi32(v));
}
FD_STATIC_FORCEINLINE void fdv_store_joined(uint64_t *p, fdv lo, fdv hi)
{
    _mm512_storeu_si512(p, _mm512_mask_blend_epi32(0xAAAA, lo, _mm512_slli_epi64(hi, 32)));
}
FD_STATIC_FORCEINLINE fdv fdv_xor(fdv a, fdv b) { return _mm512_xor_si512(a, b); }
FD_STATIC_FORCEINLINE fdv fdv_xor3(fdv a, fdv b, fdv c)
{
    return _mm512_ternarylogic_epi64(a, b, c, 0x96);
}
FD_STATIC_FORCEINLINE fdv fdv_and(fdv a, fdv b) { return _mm512_and_si512(a, b); }
FD_STATIC_FORCEINLINE fdv fdv_add(fdv a, fdv b) { return _mm512_add_epi32(a, b); }
FD_STATIC_FORCEINLINE fdv fdv_andnot(fdv a, fdv b) { return _mm512_andnot_si512(a, b); }
FD_STATIC_FORCEINLINE fdv fdv_or_andnot(fdv k, fdv u, fdv r)
{
    return _mm512_ternarylogic_epi64(k, u, r, 0xF4); /* k | (u & ~r) */
}
FD_STATIC_FORCEINLINE fdv fdv_shl(fdv a, fdv v) { return _mm512_sllv_epi32(a, v); }
FD_STATIC_FORCEINLINE fdv fdv_select_eq(fdv x, fdv y, fdv a, fdv b)
{
    return _mm512_mask_mov_epi32(b, _mm512_cmpeq_epi32_mask(x, y), a);
}
FD_STATIC_FORCEINLINE fdv fdv_bit_if_lt(fdv a, fdv b, fdv bit)
{
    return _mm512_maskz_mov_epi32(_mm512_cmplt_epu32_mask(a, b), bit);
}
FD_STATIC_FORCEINLINE void fdv_mulhilo(fdv a, uint32_t m, fdv *hi, fdv *lo)
{
    *lo = _mm512_mul_epu32(a, _mm512_set1_epi32((int)m));
    *hi = _mm512_srli_epi64(*lo, 32);
}

/* Counter words c0, c1, c2 (fd_dropout.h) of blocks first + blocks. */
FD_STATIC_FORCEINLINE void fdv_counters(const fd_bernoulli *rule, uint64_t first, fdv blocks,
                                        fdv counter[3])
{
    const __m512i offset = _mm512_set1_epi64((long long)rule->offset);
    const __m512i c = _mm512_add_epi64(
        offset, _mm512_add_epi64(_mm512_set1_epi64((long long)first),
                                 _mm512_and_si512(blocks, _mm512_set1_epi64(0xffffffff))));
    counter[0] = c;
    counter[1] = _mm512_srli_epi64(c, 32);
    counter[2] = _mm512_maskz_set1_epi64(_mm512_cmplt_epu64_mask(c, offset), 1); /* the carry */
}

static inline void put_keep8(const __m512i kept[4], size_t blocks, uint32_t *keep);
#define fdv_store_blocks fdv_store_blocks /* this layer has it: p = 0.5 from fd_kernels_vec.h */
FD_STATIC_FORCEINLINE void fdv_store_blocks(uint32_t *p, const fdv x[4]) { put_keep8(x, 8, p); }

#include "fd_kernels_vec.h"

/* The planes of a short call's lone half (8 blocks): in fours, then two or one side by side. Not
 * inlined: in the same function as the loop over two halves, it costs that loop registers. */
FD_STATIC_NOINLINE void lone_half_planes(const fd_bernoulli *rule, int nplanes,
                                         const fdv_prefix *prefix, __m512i kept[4],
                                         __m512i undecided[4])
{
    int plane = 0;
    for (; plane + 3 < nplanes; plane += 4)
        fdv_planes(rule, prefix, plane, 4, kept, undecided, NULL);
    for (; plane + 1 < nplanes; plane += 2)
        fdv_planes(rule, prefix, plane, 2, kept, undecided, NULL);
    if (plane < nplanes) fdv_planes(rule, prefix, plane, 1, kept, undecided, NULL);
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
 * blocks runs its planes as one half. (p = 0.5 never comes here: FD_KEEP_WORDS_HALF.)
 */
static void compare_planes_avx512(const fd_bernoulli *rule, uint64_t first, size_t nblocks,
                                  int nplanes, uint32_t *keep, uint32_t u[4][FD_CHUNK_BLOCKS],
                                  uint64_t tied[4], prefetcher *pf)
{
    const __m512i ones = _mm512_set1_epi64(-1), low_halves = _mm512_set1_epi64(0xffffffff);
    const uint64_t in_call = nblocks < 64 ? ((uint64_t)1 << nblocks) - 1u : ~(uint64_t)0;
    const int ties = ties_follow(rule); /* else u and tied are not read */
    size_t g;
    tied[0] = tied[1] = tied[2] = tied[3] = 0;
    for (g = 0; g < nblocks; g += 16) {
        __m512i kept[2][4], undecided[2][4];
        fdv_prefix prefix[2];
        int h, w, plane;
        for (h = 0; h < 2; h++) {
            __m512i counter[3];
            fdv_counters(rule, first + g + 8 * (size_t)h, fdv_iota(), counter);
            fdv_prefix_of(&prefix[h], counter, rule->key);
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
                    fdv_planes(rule, &prefix[h], plane, 4, kept[h], undecided[h], pf);
        } else { /* the two halves side by side */
            for (plane = 0; plane < nplanes; plane++) {
                fdv_philox s[2];
                for (h = 0; h < 2; h++)
                    fdv_from_prefix(&s[h], &prefix[h], _mm512_set1_epi64(plane));
                fdv_rounds(s, 2, rule->key, NULL);
                for (h = 0; h < 2; h++)
                    fdv_compare_plane(kept[h], undecided[h], &s[h], rule, plane);
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

const fd_kernels fd_kernels_avx512 = FD_KERNEL_TABLE("avx512");

#if FD_MSVC
#elif defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif /* FD_X86_SIMD */
