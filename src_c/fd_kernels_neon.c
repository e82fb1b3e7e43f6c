/*
 * The NEON path (little-endian AArch64, where NEON is part of the baseline ISA, so this file needs
 * no target flags and fd_dispatch.c no run-time check): the kernels of the scalar path, with
 * Philox fused into the plane comparison, 4 blocks a vector, the ties' Philox in the same lanes,
 * p = 0.5's keep words straight from its lanes, bool masks by table lookups, and float16 through
 * the ISA's conversions (not with MSVC, whose headers lack them: the scalar path's float16 loop).
 *
 * How the hand-written paths share their structure: the Philox lanes, the plane comparison, the
 * ties, the normals' Philox and the RNG floor are written once, in fd_kernels_vec.h, against a
 * vector layer of one-line operations that each path defines (here, below); each path's
 * file keeps only its layer, its driver (how many chains its registers hold) and what only its
 * ISA does well; everything that the compiler vectorises by itself (the float32 and float64 group
 * loops here, the normals' Box-Muller arithmetic) stays in fd_kernels_impl.h. A full
 * portable-SIMD layer (SIMDe, Highway) would bring a dependency and hide the one operation that
 * differs, the 32x32 -> 64-bit multiply: x86 keeps a word in the low half of a 64-bit lane, as
 * vpmuludq reads it; NEON keeps 4 words a vector and takes their products with umull and umull2
 * and de-interleaves the high and low words (uzp2, uzp1).
 * benchmarks/NEON.md has the figures behind the choice and the model's estimates for this path.
 */
#include "fd_kernels.h"

#if FD_ARM_NEON
#include <arm_neon.h>

#define FD_COMPARE_PLANES compare_planes_neon
#define FD_BOOL_GROUPS bool_groups_neon
#define FD_FLUSH_TIES fdv_flush_ties
#define FD_KEEP_WORDS_HALF fdv_keep_words_half
#if !FD_MSVC /* MSVC's arm64_neon.h has no float16 vectors nor their conversions */
#define FD_SCALE_GROUPS_F16 scale_groups_f16_neon
#endif
#define FD_NORMAL_PHILOX fdv_normal_philox
#define FD_PHILOX_FLOOR fdv_philox_floor
#include "fd_kernels_impl.h"

/* The vector layer of fd_kernels_vec.h: 4 lanes of 32-bit words. */
typedef uint32x4_t fdv;
#define FDV_LANES 4
#define fdv_shr(a, n) vshrq_n_u32((a), (n)) /* an immediate: a macro, not a function */
#define FDV_UNROLL_ROUNDS FD_UNROLL8
#define FDV_UNROLL_CHAINS FD_UNROLL4 /* else Clang keeps the four chains in memory */

FD_STATIC_FORCEINLINE fdv fdv_set1(uint32_t w) { return vdupq_n_u32(w); }
FD_STATIC_FORCEINLINE fdv fdv_load_words(const uint32_t *p) { return vld1q_u32(p); }
FD_STATIC_FORCEINLINE void fdv_store_words(uint32_t *p, fdv v) { vst1q_u32(p, v); }
FD_STATIC_FORCEINLINE void fdv_store_joined(uint64_t *p, fdv lo, fdv hi)
{
    vst1q_u64(p, vreinterpretq_u64_u32(vzip1q_u32(lo, hi)));
    vst1q_u64(p + 2, vreinterpretq_u64_u32(vzip2q_u32(lo, hi)));
}
#define fdv_store_blocks fdv_store_blocks /* this layer has it: p = 0.5 from fd_kernels_vec.h */
FD_STATIC_FORCEINLINE void fdv_store_blocks(uint32_t *p, const fdv x[4])
{
    const uint32x4x4_t words = {{x[0], x[1], x[2], x[3]}}; /* st4: word w of lane j at 4 j + w */
    vst4q_u32(p, words);
}
FD_STATIC_FORCEINLINE fdv fdv_iota(void)
{
    static const uint32_t lanes[4] = {0, 1, 2, 3};
    return vld1q_u32(lanes);
}
FD_STATIC_FORCEINLINE fdv fdv_xor(fdv a, fdv b) { return veorq_u32(a, b); }
FD_STATIC_FORCEINLINE fdv fdv_xor3(fdv a, fdv b, fdv c) { return veorq_u32(veorq_u32(a, b), c); }
FD_STATIC_FORCEINLINE fdv fdv_and(fdv a, fdv b) { return vandq_u32(a, b); }
FD_STATIC_FORCEINLINE fdv fdv_add(fdv a, fdv b) { return vaddq_u32(a, b); }
FD_STATIC_FORCEINLINE fdv fdv_andnot(fdv a, fdv b) { return vbicq_u32(b, a); }
FD_STATIC_FORCEINLINE fdv fdv_or_andnot(fdv k, fdv u, fdv r)
{
    return vorrq_u32(k, vbicq_u32(u, r));
}
FD_STATIC_FORCEINLINE fdv fdv_shl(fdv a, fdv v) { return vshlq_u32(a, vreinterpretq_s32_u32(v)); }
FD_STATIC_FORCEINLINE fdv fdv_select_eq(fdv x, fdv y, fdv a, fdv b)
{
    return vbslq_u32(vceqq_u32(x, y), a, b);
}
FD_STATIC_FORCEINLINE fdv fdv_bit_if_lt(fdv a, fdv b, fdv bit)
{
    return vandq_u32(vcltq_u32(a, b), bit);
}

/* Products of lanes 0, 1 and of lanes 2, 3 as 64-bit numbers (umull, umull2 by a scalar), then
 * their high words and their low words gathered (uzp2, uzp1): 4 instructions for 4 lanes. */
FD_STATIC_FORCEINLINE void fdv_mulhilo(fdv a, uint32_t m, fdv *hi, fdv *lo)
{
    const uint32x4_t p01 = vreinterpretq_u32_u64(vmull_n_u32(vget_low_u32(a), m));
    const uint32x4_t p23 = vreinterpretq_u32_u64(vmull_high_n_u32(a, m));
    *hi = vuzp2q_u32(p01, p23);
    *lo = vuzp1q_u32(p01, p23);
}

/* Counter words of blocks first + blocks (each below 2^32): first's counter once, then each lane's
 * low word, its carry into the high word and from there into c2 (at most one carry in all:
 * first + blocks < 2^64). */
FD_STATIC_FORCEINLINE void fdv_counters(const fd_bernoulli *rule, uint64_t first, fdv blocks,
                                        fdv counter[3])
{
    const uint64_t base = rule->offset + first;
    const fdv c0 = vaddq_u32(vdupq_n_u32((uint32_t)base), blocks);
    const fdv wrapped = vcltq_u32(c0, blocks); /* all ones where c0 carried */
    const fdv c1 = vsubq_u32(vdupq_n_u32((uint32_t)(base >> 32)), wrapped);
    counter[0] = c0;
    counter[1] = c1;
    counter[2] = vorrq_u32(vdupq_n_u32(base < rule->offset),
                           vshrq_n_u32(vandq_u32(wrapped, vceqzq_u32(c1)), 31));
}

#include "fd_kernels_vec.h"

/* Bit j set in the result where lane j is not zero. */
static inline uint32_t nonzero_lanes(fdv v)
{
    static const uint32_t bits[4] = {1, 2, 4, 8};
    return vaddvq_u32(vandq_u32(vtstq_u32(v, v), vld1q_u32(bits)));
}

/*
 * compare_planes with Philox and the comparison fused: one vector of 4 blocks at a time, its
 * planes four side by side (four independent chains; kept, undecided, the prefix and four states
 * fill 28 of the 32 registers), then two or one; the rounds that do not depend on the plane done
 * once. Blocks past nblocks in the last vector are computed too, but neither stored in keep nor
 * flagged as tied (p = 0.5 never comes here: FD_KEEP_WORDS_HALF). Always inlined into
 * keep_words: Clang once left it apart, and llvm-mca's models then had the planes' loop 3-8%
 * slower.
 */
FD_STATIC_FORCEINLINE void compare_planes_neon(const fd_bernoulli *rule, uint64_t first,
                                               size_t nblocks, int nplanes, uint32_t *keep,
                                               uint32_t u[4][FD_CHUNK_BLOCKS], uint64_t tied[4],
                                               prefetcher *pf)
{
    const uint64_t in_call = nblocks < 64 ? ((uint64_t)1 << nblocks) - 1u : ~(uint64_t)0;
    const int ties = ties_follow(rule); /* else u and tied are not read */
    const fd_bernoulli held = *rule; /* copies that the stores below cannot alias: */
    prefetcher ahead = *pf;          /* Clang would reload the rule and store pf->done */
    size_t b;
    rule = &held;
    tied[0] = tied[1] = tied[2] = tied[3] = 0;
    for (b = 0; b < nblocks; b += 4) {
        uint32x4x4_t kept;
        fdv undecided[4], counter[3];
        fdv_prefix prefix;
        int plane = 0, w;
        fdv_counters(rule, first + b, fdv_iota(), counter);
        fdv_prefix_of(&prefix, counter, rule->key);
        for (w = 0; w < 4; w++) {
            kept.val[w] = vdupq_n_u32(0);
            undecided[w] = vdupq_n_u32(0xffffffffu);
        }
        for (; plane + 3 < nplanes; plane += 4) {
            fdv_planes(rule, &prefix, plane, 4, kept.val, undecided, NULL);
            prefetch_some(&ahead, FD_PREFETCH_LINES); /* the memory of 16 lanes of a plane */
        }
        for (; plane + 1 < nplanes; plane += 2)
            fdv_planes(rule, &prefix, plane, 2, kept.val, undecided, NULL);
        if (plane < nplanes) fdv_planes(rule, &prefix, plane, 1, kept.val, undecided, NULL);
        if (nblocks - b >= 4) { /* word w of block j from lane j of kept[w]: interleaved */
            vst4q_u32(keep + 4 * b, kept);
        } else {
            uint32_t tail[16];
            vst4q_u32(tail, kept);
            memcpy(keep + 4 * b, tail, 4 * (nblocks - b) * sizeof *keep);
        }
        for (w = 0; w < 4 && ties; w++) {
            vst1q_u32(&u[w][b], undecided[w]);
            tied[w] |= ((uint64_t)nonzero_lanes(undecided[w]) << b) & in_call;
        }
    }
    *pf = ahead;
}

/* bool_groups: each byte of a keep word copied to the 8 mask bytes it covers (a table lookup),
 * then one bit tested per byte. */
static void bool_groups_neon(const uint32_t *words, size_t ngroups, uint8_t *mask)
{
    static const uint8_t spread[2][16] = {{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},
                                          {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3}};
    static const uint8_t bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t low = vld1q_u8(spread[0]), high = vld1q_u8(spread[1]), bits = vld1q_u8(bit);
    const uint8x16_t one = vdupq_n_u8(1);
    size_t g;
    for (g = 0; g < ngroups; g++) {
        const uint8x16_t bytes = vreinterpretq_u8_u32(vdupq_n_u32(words[g]));
        vst1q_u8(mask + 32 * g, vandq_u8(vtstq_u8(vqtbl1q_u8(bytes, low), bits), one));
        vst1q_u8(mask + 32 * g + 16, vandq_u8(vtstq_u8(vqtbl1q_u8(bytes, high), bits), one));
    }
}

/* scale_groups_f16, 8 elements a vector: fcvtl, one float32 multiply and fcvtn (rounding to
 * nearest even, FPCR's default) are exactly fd_f16_to_f32, the multiply and fd_f32_to_f16, NaNs
 * too: the multiply quiets them either way and both conversions keep a quiet NaN's payload (the
 * C tests compare every float16 value). Loads and stores by bytes: x and out need not be aligned
 * to 2. Each group's 8 keep bits of a vector spread to 16-bit lanes by a bit test. */
#if !FD_MSVC
static void scale_groups_f16_neon(const uint32_t *words, size_t ngroups, const char *x, char *out,
                                  double scale)
{
    static const uint16_t bit[8] = {1, 2, 4, 8, 16, 32, 64, 128};
    const float32x4_t s = vdupq_n_f32((float)scale);
    const uint16x8_t bits = vld1q_u16(bit);
    size_t g, j;
    for (g = 0; g < ngroups; g++)
        for (j = 0; j < 4; j++) {
            const size_t at = 64 * g + 16 * j;
            const float16x8_t h = vreinterpretq_f16_u8(vld1q_u8((const uint8_t *)x + at));
            const float32x4_t lo = vmulq_f32(vcvt_f32_f16(vget_low_f16(h)), s);
            const float32x4_t hi = vmulq_f32(vcvt_high_f32_f16(h), s);
            const uint16x8_t r = vreinterpretq_u16_f16(vcvt_high_f16_f32(vcvt_f16_f32(lo), hi));
            const uint16x8_t kept =
                vtstq_u16(vdupq_n_u16((uint16_t)(words[g] >> 8 * j & 0xffu)), bits);
            vst1q_u8((uint8_t *)out + at, vreinterpretq_u8_u16(vandq_u16(r, kept)));
        }
}
#endif

const fd_kernels fd_kernels_neon = FD_KERNEL_TABLE("neon");

#endif /* FD_ARM_NEON */
