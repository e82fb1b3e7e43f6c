/*
 * The portable kernel path ("scalar"): plain C loops over fixed-size blocks, written so that the
 * compiler vectorises them for the baseline ISA. The SIMD paths must give the same bytes.
 */
#include "fd_kernels.h"
#include "fd_philox.h"

/* Index of the lowest set bit of a nonzero word. */
static int lowest_set_bit(uint32_t v)
{
    int n = 0;
    while (!(v & 1u)) {
        v >>= 1;
        n++;
    }
    return n;
}

/* Philox4x32-10 of n counters laid out as four word arrays (structure of arrays, so the lanes
 * vectorise); the same rounds as fd_philox4x32_10, the output replaces the counters. */
static void philox_lanes(size_t n, uint32_t *x0, uint32_t *x1, uint32_t *x2, uint32_t *x3,
                         uint64_t key)
{
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    size_t i;
    int round;
    for (round = 0; round < FD_PHILOX_ROUNDS; round++) {
        for (i = 0; i < n; i++) {
            uint64_t p0 = (uint64_t)FD_PHILOX_M0 * x0[i];
            uint64_t p1 = (uint64_t)FD_PHILOX_M1 * x2[i];
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ x1[i] ^ k0;
            uint32_t n2 = (uint32_t)(p0 >> 32) ^ x3[i] ^ k1;
            x0[i] = n0;
            x1[i] = (uint32_t)p1;
            x2[i] = n2;
            x3[i] = (uint32_t)p0;
        }
        k0 += FD_PHILOX_W0;
        k1 += FD_PHILOX_W1;
    }
}

/* The bit-plane comparison U < T of fd_dropout.h, for the blocks still undecided after each plane
 * (a block drops out of the Philox work as soon as all of its 128 elements are decided). */
static void keep_words_scalar(const fd_bernoulli *rule, uint64_t first, size_t nblocks,
                              uint32_t *keep)
{
    uint32_t undecided[FD_CHUNK_WORDS];
    uint32_t r0[FD_CHUNK_BLOCKS], r1[FD_CHUNK_BLOCKS], r2[FD_CHUNK_BLOCKS], r3[FD_CHUNK_BLOCKS];
    size_t lane_block[FD_CHUNK_BLOCKS];
    size_t nlanes = nblocks, lane, b;
    const uint64_t t = rule->threshold;
    int plane, nplanes;

    if (t == 0 || t >= FD_THRESHOLD_ONE) {
        memset(keep, t ? 0xff : 0, 4 * nblocks * sizeof *keep);
        return;
    }
    nplanes = 32 - lowest_set_bit((uint32_t)t);
    for (b = 0; b < nblocks; b++) lane_block[b] = b;
    for (b = 0; b < 4 * nblocks; b++) {
        keep[b] = 0;
        undecided[b] = 0xffffffffu;
    }
    for (plane = 0; plane < nplanes && nlanes > 0; plane++) {
        /* all ones where T has a 1 in this plane's bit: there U's 0 bit decides "keep" */
        const uint32_t t_bit = 0u - (uint32_t)((t >> (31 - plane)) & 1u);
        size_t still = 0;
        for (lane = 0; lane < nlanes; lane++) {
            uint64_t counter = rule->offset + first + lane_block[lane];
            r0[lane] = (uint32_t)counter;
            r1[lane] = (uint32_t)(counter >> 32);
            r2[lane] = counter < rule->offset; /* carry into the counter's third word */
            r3[lane] = (uint32_t)plane;
        }
        philox_lanes(nlanes, r0, r1, r2, r3, rule->key);
        for (lane = 0; lane < nlanes; lane++) {
            const uint32_t r[4] = {r0[lane], r1[lane], r2[lane], r3[lane]};
            uint32_t *k = keep + 4 * lane_block[lane];
            uint32_t *u = undecided + 4 * lane_block[lane];
            int w;
            for (w = 0; w < 4; w++) {
                k[w] |= u[w] & ~r[w] & t_bit;
                u[w] &= ~(r[w] ^ t_bit);
            }
            if (u[0] | u[1] | u[2] | u[3]) lane_block[still++] = lane_block[lane];
        }
        nlanes = still;
    }
}

/*
 * Contiguous group loops: bit j of words[g] keeps element 32 * g + j. Each group is loaded into a
 * local array before anything is stored, so x == out (in place) cannot block vectorisation.
 */
#define FD_GROUP_LOOP(BYTES, UINT, LOAD_BITS, STORE)                                              \
    size_t g;                                                                                     \
    int j;                                                                                        \
    for (g = 0; g < ngroups; g++) {                                                               \
        const uint32_t w = words[g];                                                              \
        const char *xg = x + (size_t)32 * BYTES * g;                                              \
        char *og = out + (size_t)32 * BYTES * g;                                                  \
        UINT v[32];                                                                               \
        for (j = 0; j < 32; j++) v[j] = LOAD_BITS(xg + BYTES * j);                                \
        for (j = 0; j < 32; j++) STORE(og + BYTES * j, (UINT)(v[j] & (0u - (UINT)((w >> j) & 1u)))); \
    }

#define F32_SCALED_BITS(p) fd_f32_bits(fd_load_f32(p) * s)
#define F64_SCALED_BITS(p) fd_f64_bits(fd_load_f64(p) * scale)
#define F16_SCALED_BITS(p) fd_f32_to_f16(fd_f16_to_f32(fd_load_u16(p)) * s)

static void scale_groups_f16(const uint32_t *words, size_t ngroups, const char *x, char *out,
                             double scale)
{
    const float s = (float)scale;
    FD_GROUP_LOOP(2, uint16_t, F16_SCALED_BITS, fd_store_u16)
}

static void scale_groups_f32(const uint32_t *words, size_t ngroups, const char *x, char *out,
                             double scale)
{
    const float s = (float)scale;
    FD_GROUP_LOOP(4, uint32_t, F32_SCALED_BITS, fd_store_u32)
}

static void scale_groups_f64(const uint32_t *words, size_t ngroups, const char *x, char *out,
                             double scale)
{
    FD_GROUP_LOOP(8, uint64_t, F64_SCALED_BITS, fd_store_u64)
}

static void select_groups_16(const uint32_t *words, size_t ngroups, const char *x, char *out)
{
    FD_GROUP_LOOP(2, uint16_t, fd_load_u16, fd_store_u16)
}

static void select_groups_32(const uint32_t *words, size_t ngroups, const char *x, char *out)
{
    FD_GROUP_LOOP(4, uint32_t, fd_load_u32, fd_store_u32)
}

static void select_groups_64(const uint32_t *words, size_t ngroups, const char *x, char *out)
{
    FD_GROUP_LOOP(8, uint64_t, fd_load_u64, fd_store_u64)
}

const fd_kernels fd_kernels_scalar = {
    "scalar",
    keep_words_scalar,
    {scale_groups_f16, scale_groups_f32, scale_groups_f64},
    {select_groups_16, select_groups_32, select_groups_64},
};
