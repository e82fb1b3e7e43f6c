/*
 * Philox in vector lanes, written once for the hand-written paths (AVX2, AVX-512, NEON) against a
 * small vector layer that each path's file defines before it includes this one, as NumPy's
 * universal intrinsics do on a larger scale: the planes, the ties, the normals' Philox and the RNG
 * floor. A lane is one Philox instance (one counter block for the planes and the floor, one tie
 * for the ties, one Box-Muller pair for the normals); what differs between the ISAs is only how a
 * lane holds its 32-bit words and how they are multiplied, and that is the layer:
 *
 *   fdv                     FDV_LANES lanes of one 32-bit word each (x86: the low half of a 64-bit
 *                           lane, as its widening multiply reads them; the high halves are junk
 *                           that nothing below reads: the layer's operations never carry it down)
 *   fdv_set1(w)             w in every lane
 *   fdv_iota()              lane j holds j
 *   fdv_load_words(p)       lane j holds p[j];  fdv_store_words(p, v): p[j] = lane j
 *   fdv_store_joined(p, lo, hi)  p[j] = the 64-bit number hi:lo of lane j (uint64_t *p)
 *   fdv_store_blocks(p, x)  p[4 j + w] = lane j of x[w] (x[4]: the words of FDV_LANES blocks,
 *                           stored block by block, as keep words are; only for fdv_half_words,
 *                           and optional: see there)
 *   fdv_xor(a, b), fdv_xor3(a, b, c), fdv_and(a, b), fdv_add(a, b)
 *   fdv_andnot(a, b)        ~a & b
 *   fdv_or_andnot(k, u, r)  k | (u & ~r)
 *   fdv_shr(a, n)           each word shifted right by the constant n
 *   fdv_shl(a, v)           each word shifted left by its lane of v (0 .. 31)
 *   fdv_select_eq(x, y, a, b)   a where x == y, else b
 *   fdv_bit_if_lt(a, b, bit)    bit where a < b (both below 2^31), else 0
 *   fdv_mulhilo(a, m, &hi, &lo) high and low words of each word times the constant m
 *   fdv_counters(rule, first, blocks, counter)  counter words c0, c1, c2 of the call's blocks
 *                           first + blocks (fd_dropout.h; blocks small, from fdv_iota or words)
 *   FDV_UNROLL_ROUNDS, FDV_UNROLL_CHAINS   empty, or an unroll pragma for fdv_rounds' loops over
 *                           rounds and chains, as measured best for the path
 *
 * Each operation is one or a few instructions, always inlined; the paths' drivers (the loops over
 * blocks and planes, which differ in how many chains each ISA's registers hold) and what only one
 * ISA can do stay in the paths' files. A path takes p = 0.5's keep words from
 * fdv_keep_words_half with #define FD_KEEP_WORDS_HALF fdv_keep_words_half (fd_kernels_impl.h).
 */
#ifndef FD_KERNELS_VEC_H
#define FD_KERNELS_VEC_H

#include "fd_kernels_impl.h"

/* FDV_LANES Philox4x32-10 states: word w of lane j is lane j of x[w]. */
typedef struct {
    fdv x[4];
} fdv_philox;

/* The rounds of a plane's Philox that do not depend on the plane, done once for all planes:
 * c3 = plane enters round 1 only through an xor into word 2, which round 2 multiplies into
 * words 0 and 1; words 2 and 3 of round 2, and the rest of round 1, are the same for every plane
 * (planes_prefix in fd_kernels_impl.h is the same for the portable path). */
typedef struct {
    fdv word2;     /* word 2 after round 1 but the xor of c3 */
    fdv word1;     /* word 1 after round 1, xor round 2's key word 0 */
    fdv after2[2]; /* words 2 and 3 after round 2 */
} fdv_prefix;

FD_STATIC_FORCEINLINE void fdv_prefix_of(fdv_prefix *q, const fdv counter[3], uint64_t key)
{
    const uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    fdv hi0, lo0, hi1, lo1, hi2, lo2;
    fdv_mulhilo(counter[0], FD_PHILOX_M0, &hi0, &lo0);
    fdv_mulhilo(counter[2], FD_PHILOX_M1, &hi1, &lo1);
    fdv_mulhilo(fdv_xor3(hi1, counter[1], fdv_set1(k0)), FD_PHILOX_M0, &hi2, &lo2); /* round 2 */
    q->word2 = fdv_xor(hi0, fdv_set1(k1));
    q->word1 = fdv_xor(lo1, fdv_set1(k0 + FD_PHILOX_W0));
    q->after2[0] = fdv_xor3(hi2, lo0, fdv_set1(k1 + FD_PHILOX_W1));
    q->after2[1] = lo2;
}

/* The state after round 2 for counter word c3 (each lane's own). */
FD_STATIC_FORCEINLINE void fdv_from_prefix(fdv_philox *s, const fdv_prefix *q, fdv c3)
{
    fdv hi, lo;
    fdv_mulhilo(fdv_xor(q->word2, c3), FD_PHILOX_M1, &hi, &lo);
    s->x[0] = fdv_xor(hi, q->word1);
    s->x[1] = lo;
    s->x[2] = q->after2[0];
    s->x[3] = q->after2[1];
}

/* One round of `chains` states at once, with round keys k0 and k1. */
FD_STATIC_FORCEINLINE void fdv_round(fdv_philox *s, int chains, uint32_t k0, uint32_t k1)
{
    int h;
    FDV_UNROLL_CHAINS for (h = 0; h < chains; h++) {
        fdv hi0, lo0, hi1, lo1;
        fdv_mulhilo(s[h].x[0], FD_PHILOX_M0, &hi0, &lo0);
        fdv_mulhilo(s[h].x[2], FD_PHILOX_M1, &hi1, &lo1);
        s[h].x[0] = fdv_xor3(hi1, s[h].x[1], fdv_set1(k0));
        s[h].x[1] = lo1;
        s[h].x[2] = fdv_xor3(hi0, s[h].x[3], fdv_set1(k1));
        s[h].x[3] = lo0;
    }
}

/* Rounds 3 to `end` of `chains` states at once: independent chains for the out-of-order core (a
 * constant count, so that the loop over them unrolls). After each round pf, if not NULL,
 * prefetches FD_PREFETCH_LINES per 16 lanes of the rounds, spread out. (A path may do the last
 * round itself, to leave its outputs as it needs them.) */
FD_STATIC_FORCEINLINE void fdv_rounds_to(fdv_philox *s, int chains, uint64_t key, prefetcher *pf,
                                         int end)
{
    uint32_t k0 = (uint32_t)key + 2 * FD_PHILOX_W0, k1 = (uint32_t)(key >> 32) + 2 * FD_PHILOX_W1;
    int round;
    FDV_UNROLL_ROUNDS for (round = 2; round < FD_PHILOX_ROUNDS; round++) {
        if (round == end) { /* a test in the loop, whose constant count Clang unrolls only */
            break;
        }
        fdv_round(s, chains, k0, k1);
        k0 += FD_PHILOX_W0;
        k1 += FD_PHILOX_W1;
        if (pf) prefetch_some(pf, FD_PREFETCH_LINES * chains * FDV_LANES / 128);
    }
}

/* Rounds 3 to 10: the outputs. */
FD_STATIC_FORCEINLINE void fdv_rounds(fdv_philox *s, int chains, uint64_t key, prefetcher *pf)
{
    fdv_rounds_to(s, chains, key, pf, FD_PHILOX_ROUNDS);
}

/* compare_plane (fd_kernels_impl.h) on the lanes of a state: plane `plane`'s bits are its
 * outputs, word w of lane j the bits of word w of that lane's block. */
FD_STATIC_FORCEINLINE void fdv_compare_plane(fdv kept[4], fdv undecided[4], const fdv_philox *s,
                                             const fd_bernoulli *rule, int plane)
{
    int w;
    if (plane_keeps(rule, plane))
        for (w = 0; w < 4; w++) {
            kept[w] = fdv_or_andnot(kept[w], undecided[w], s->x[w]);
            undecided[w] = fdv_and(undecided[w], s->x[w]);
        }
    else
        for (w = 0; w < 4; w++) undecided[w] = fdv_andnot(s->x[w], undecided[w]);
}

/* `chains` planes from `plane` of one vector of blocks side by side (independent chains), compared
 * into kept and undecided. */
FD_STATIC_FORCEINLINE void fdv_planes(const fd_bernoulli *rule, const fdv_prefix *prefix, int plane,
                                      int chains, fdv kept[4], fdv undecided[4], prefetcher *pf)
{
    fdv_philox s[4];
    int i;
    for (i = 0; i < chains; i++) fdv_from_prefix(&s[i], prefix, fdv_set1((uint32_t)(plane + i)));
    fdv_rounds(s, chains, rule->key, pf);
    for (i = 0; i < chains; i++) fdv_compare_plane(kept, undecided, &s[i], rule, plane + i);
}

/* The keep words of `chains` (1 to 4) vectors of blocks from `block` when T = 2^31 (p = 0.5, one
 * plane): an element is kept where its bit of plane 0 is 0, so a block's words are that plane's
 * outputs inverted, stored straight from the lanes. For the layers that have fdv_store_blocks
 * (and say so with #define fdv_store_blocks fdv_store_blocks); a path may instead name its own
 * (#define FDV_HALF_WORDS and declare it before including this file). */
#ifdef fdv_store_blocks
#define FDV_HALF_WORDS fdv_half_words
FD_STATIC_FORCEINLINE void fdv_half_words(const fd_bernoulli *rule, uint64_t block, int chains,
                                          uint32_t *keep)
{
    fdv_philox s[4];
    int h, w;
    for (h = 0; h < chains; h++) {
        fdv counter[3];
        fdv_prefix prefix;
        fdv_counters(rule, block + FDV_LANES * (size_t)h, fdv_iota(), counter);
        fdv_prefix_of(&prefix, counter, rule->key);
        fdv_from_prefix(&s[h], &prefix, fdv_set1(0));
    }
    fdv_rounds(s, chains, rule->key, NULL);
    for (h = 0; h < chains; h++) {
        for (w = 0; w < 4; w++) s[h].x[w] = fdv_xor(s[h].x[w], fdv_set1(0xffffffffu));
        fdv_store_blocks(keep + 4 * FDV_LANES * h, s[h].x);
    }
}
#endif

#ifdef FDV_HALF_WORDS
/* compare_planes for T = 2^31: the keep words of nblocks blocks from `first`, four vectors of
 * blocks side by side (four independent chains, where the planes' loop would have one), the last
 * 1 to 4 vectors through a buffer. Neither u nor tied is needed: no ties follow. */
static void fdv_keep_words_half(const fd_bernoulli *rule, uint64_t first, size_t nblocks,
                                uint32_t *keep)
{
    uint32_t tail[4 * 4 * FDV_LANES];
    size_t b;
    for (b = 0; b + 4 * FDV_LANES <= nblocks; b += 4 * FDV_LANES)
        FDV_HALF_WORDS(rule, first + b, 4, keep + 4 * b);
    switch ((nblocks - b + FDV_LANES - 1) / FDV_LANES) { /* constant chain counts: loops unroll */
    case 4: FDV_HALF_WORDS(rule, first + b, 4, tail); break;
    case 3: FDV_HALF_WORDS(rule, first + b, 3, tail); break;
    case 2: FDV_HALF_WORDS(rule, first + b, 2, tail); break;
    case 1: FDV_HALF_WORDS(rule, first + b, 1, tail); break;
    default: return;
    }
    memcpy(keep + 4 * b, tail, 4 * (nblocks - b) * sizeof *keep);
}
#endif

/* flush_ties for `chains` (1 to 4) vectors of listed ties side by side: the bit of each kept
 * tie into bits. */
FD_STATIC_FORCEINLINE void fdv_tie_groups(const fd_bernoulli *rule, uint64_t first,
                                          const uint32_t *items, uint32_t *bits, int chains,
                                          prefetcher *pf)
{
    const fdv low = fdv_set1((uint32_t)(rule->threshold & 0xffffffu));
    fdv_philox s[4];
    fdv e[4];
    int h, k;
    for (h = 0; h < chains; h++) {
        const fdv item = fdv_load_words(items + FDV_LANES * h);
        fdv counter[3];
        fdv_prefix prefix;
        fdv_counters(rule, first, fdv_shr(item, 7), counter); /* block: item / 128 */
        e[h] = fdv_and(item, fdv_set1(FD_BLOCK_ELEMENTS - 1));
        fdv_prefix_of(&prefix, counter, rule->key);
        /* c3 = FD_PLANES + e / 4 (fd_dropout.h) */
        fdv_from_prefix(&s[h], &prefix, fdv_add(fdv_set1(FD_PLANES), fdv_shr(e[h], 2)));
    }
    fdv_rounds(s, chains, rule->key, pf);
    for (h = 0; h < chains; h++) { /* output word e % 4's top 24 bits < T's low 24: kept */
        const fdv word = fdv_and(e[h], fdv_set1(3));
        fdv r = s[h].x[0];
        for (k = 1; k < 4; k++) r = fdv_select_eq(word, fdv_set1((uint32_t)k), s[h].x[k], r);
        fdv_store_words(bits + FDV_LANES * h,
                        fdv_bit_if_lt(fdv_shr(r, 8), low,
                                      fdv_shl(fdv_set1(1), fdv_and(e[h], fdv_set1(31)))));
    }
}

/* flush_ties, four vectors of ties at a time in four chains, and the last in as few as will do
 * (a path takes it with #define FD_FLUSH_TIES fdv_flush_ties). */
static void fdv_flush_ties(const fd_bernoulli *rule, uint64_t first, uint32_t *items, size_t n,
                           uint32_t *keep, prefetcher *pf)
{
    uint32_t bits[FD_TIE_LIST + FD_TIE_PAD];
    size_t i;
#if 4 * FDV_LANES > FD_TIE_PAD
#error "the padding of the list must hold a vector of four chains"
#endif
    memset(items + n, 0, 4 * FDV_LANES * sizeof *items); /* padding: any counter will do */
    for (i = 0; i + 3 * FDV_LANES < n; i += 4 * FDV_LANES)
        fdv_tie_groups(rule, first, items + i, bits + i, 4, pf);
    switch ((n - i + FDV_LANES - 1) / FDV_LANES) { /* constant chain counts, so the loops unroll */
    case 3: fdv_tie_groups(rule, first, items + i, bits + i, 3, pf); break;
    case 2: fdv_tie_groups(rule, first, items + i, bits + i, 2, pf); break;
    case 1: fdv_tie_groups(rule, first, items + i, bits + i, 1, pf); break;
    default: break;
    }
    for (i = 0; i < n; i++) keep[items[i] / 32] |= bits[i];
}

/* normal_philox (fd_normal_impl.h): the block's prefix once, then its 64 pairs' c3 = 64 + j in
 * lanes, four chains at a time (a path takes it with #define FD_NORMAL_PHILOX
 * fdv_normal_philox). */
static void fdv_normal_philox(uint64_t key, uint64_t offset, uint64_t block, uint64_t lo[FD_PAIRS],
                              uint64_t hi[FD_PAIRS])
{
    const fd_bernoulli rule = {key, offset, 0};
    fdv counter[3];
    fdv_prefix prefix;
    int j, h;
    fdv_counters(&rule, block, fdv_set1(0), counter);
    fdv_prefix_of(&prefix, counter, key);
    for (j = 0; j < FD_PAIRS; j += 4 * FDV_LANES) {
        fdv_philox s[4];
        for (h = 0; h < 4; h++)
            fdv_from_prefix(&s[h], &prefix,
                            fdv_add(fdv_set1((uint32_t)(64 + j + FDV_LANES * h)), fdv_iota()));
        fdv_rounds(s, 4, key, NULL);
        for (h = 0; h < 4; h++) {
            fdv_store_joined(lo + j + FDV_LANES * h, s[h].x[0], s[h].x[1]);
            fdv_store_joined(hi + j + FDV_LANES * h, s[h].x[2], s[h].x[3]);
        }
    }
}

/* philox_floor (fd_kernels_impl.h) as the planes generate their outputs: four chains of blocks in
 * lanes, each from its blocks' prefix, one c3 after another, folded by xor (a path takes it with
 * #define FD_PHILOX_FLOOR fdv_philox_floor). */
static uint32_t fdv_philox_floor(uint64_t key, uint64_t offset, uint64_t first, size_t nblocks,
                                 uint32_t c3, unsigned count)
{
    const fd_bernoulli rule = {key, offset, 0};
    uint32_t fold = 0;
    size_t g, b;
    for (g = 0; g < nblocks; g += 4 * FDV_LANES) {
        uint32_t words[4 * FDV_LANES];
        fdv_prefix prefix[4];
        fdv sum[4];
        unsigned i;
        int h;
        for (h = 0; h < 4; h++) {
            fdv counter[3];
            fdv_counters(&rule, first + g + FDV_LANES * (size_t)h, fdv_iota(), counter);
            fdv_prefix_of(&prefix[h], counter, key);
            sum[h] = fdv_set1(0);
        }
        for (i = 0; i < count; i++) {
            fdv_philox s[4];
            for (h = 0; h < 4; h++) fdv_from_prefix(&s[h], &prefix[h], fdv_set1(c3 + i));
            fdv_rounds(s, 4, key, NULL);
            for (h = 0; h < 4; h++)
                sum[h] = fdv_xor3(sum[h], fdv_xor(s[h].x[0], s[h].x[1]),
                                  fdv_xor(s[h].x[2], s[h].x[3]));
        }
        for (h = 0; h < 4; h++) fdv_store_words(words + FDV_LANES * h, sum[h]);
        for (b = 0; b < 4 * FDV_LANES && g + b < nblocks; b++) /* the call's blocks only */
            fold ^= words[b];
    }
    return fold;
}

#endif /* FD_KERNELS_VEC_H */
