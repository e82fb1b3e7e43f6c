/*
 * The kernels of every path, written once in plain C: blocks of Philox lanes in structure-of-arrays
 * form and fixed-size group loops that the compiler vectorises. Each fd_kernels_<path>.c includes
 * this file once, under its own target ISA, and builds its table with FD_KERNEL_TABLE. Integer
 * work and single IEEE multiplications (no contraction possible) make every path give the same bytes.
 */
#ifndef FD_KERNELS_IMPL_H
#define FD_KERNELS_IMPL_H

#include "fd_kernels.h"
#include "fd_philox.h"

/* Index of the lowest set bit of a nonzero word (of 32 or 64 bits). */
static inline int lowest_set_bit(uint32_t v)
{
#if FD_MSVC
    unsigned long n;
    _BitScanForward(&n, v);
    return (int)n;
#elif defined(__GNUC__) || defined(__clang__)
    return __builtin_ctz(v);
#else
    int n = 0;
    while (!(v & 1u)) {
        v >>= 1;
        n++;
    }
    return n;
#endif
}

static inline int lowest_set_bit64(uint64_t v)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(v);
#else
    return (uint32_t)v ? lowest_set_bit((uint32_t)v) : 32 + lowest_set_bit((uint32_t)(v >> 32));
#endif
}

/* One plane's step of the comparison U < T on a word of 32 elements: where T's bit is 1
 * (t_bit all ones) an undecided element whose random bit r is 0 is now known to be below T (kept);
 * elements whose bit differs from T's are decided, the others stay undecided. */
static inline void compare_plane(uint32_t *keep, uint32_t *undecided, uint32_t r, uint32_t t_bit)
{
    *keep |= *undecided & ~r & t_bit;
    *undecided &= ~(r ^ t_bit);
}

/* Counter words of the call's block `block` with c3 = `word3` (fd_dropout.h). */
static inline void set_counter(const fd_bernoulli *rule, uint64_t block, uint32_t word3,
                               uint32_t *c0, uint32_t *c1, uint32_t *c2, uint32_t *c3)
{
    uint64_t counter = rule->offset + block;
    *c0 = (uint32_t)counter;
    *c1 = (uint32_t)(counter >> 32);
    *c2 = counter < rule->offset; /* carry into the counter's third word */
    *c3 = word3;
}

/*
 * Memory the caller touches after the keep bits (the chunk of x, or the mask bytes it writes),
 * prefetched a few lines at a time, spread over the planes' arithmetic: the memory traffic then
 * overlaps it. (A burst of prefetches stalls the arithmetic instead, as they wait for the core's
 * few line-fill buffers; and with few planes there is too little arithmetic to hide loads behind:
 * the hardware prefetcher does better alone.)
 */
#define FD_PREFETCH_LINES 12 /* per 16 lanes of a plane: 8 planes cover 3/4 of a float32 chunk */

typedef struct {
    const char *base;
    size_t done, bytes;
} prefetcher;

static inline void prefetch_some(prefetcher *pf, int lines)
{
    int line;
    for (line = 0; line < lines && pf->done < pf->bytes; line++, pf->done += 64)
        fd_prefetch_for_write(pf->base + pf->done); /* in place, and masks */
}

/* Elements of `size` bytes before out's first `boundary`-byte boundary (the SIMD paths align
 * their stores to it): 0 if out is on one, or not aligned to its element size. */
static inline unsigned head_elements(const void *out, unsigned size, unsigned boundary)
{
    const unsigned misaligned = (unsigned)((uintptr_t)out % boundary);
    return misaligned % size ? 0 : (boundary - misaligned) % boundary / size;
}

/* Philox lanes are generated in whole vectors of this many (the widest path's), padded with
 * unused lanes, so that short calls and the last lanes of a chunk do not take the slow scalar loop. */
#define FD_LANE_VECTOR 16
#define FD_ROUND_UP_LANES(n) (((n) + FD_LANE_VECTOR - 1) / FD_LANE_VECTOR * FD_LANE_VECTOR)
#if FD_CHUNK_BLOCKS % FD_LANE_VECTOR != 0
#error "a chunk must be whole lane vectors"
#endif

/*
 * Ties: the elements whose top FD_PLANES bits equal T's (their bits still set in u) take their
 * low 24 bits from a counter of their own, c3 = FD_PLANES + e / 4, output word e % 4. A tie is
 * about 1 element in 256, some 32 a chunk, so they are listed, each as its bit in the chunk's
 * keep words (128 * block + e), and their outputs generated together.
 */
#ifndef FD_TIE_LIST /* the C tests build with less, so that lists fill up and flush */
#define FD_TIE_LIST 128 /* listed ties at most */
#endif
#if FD_TIE_LIST < FD_CHUNK_BLOCKS
#error "the list must hold the first ties of a word of every block"
#endif
#define FD_TIE_PAD 32 /* list entries past the last that a path may read or write */

/* Generates the outputs of the n listed ties (entries [n, n + FD_TIE_PAD) may be overwritten)
 * and sets the keep bit of each whose low bits are < T's, prefetching through pf as the planes
 * do. A path may do it with its own instructions instead (FD_FLUSH_TIES). */
#ifdef FD_FLUSH_TIES
static void FD_FLUSH_TIES(const fd_bernoulli *rule, uint64_t first, uint32_t *items, size_t n,
                          uint32_t *keep, prefetcher *pf);
#else
#define FD_FLUSH_TIES flush_ties
static void flush_ties(const fd_bernoulli *rule, uint64_t first, uint32_t *items, size_t n,
                       uint32_t *keep, prefetcher *pf)
{
    const uint32_t low = (uint32_t)(rule->threshold & 0xffffffu);
    const size_t lanes = FD_ROUND_UP_LANES(n);
    uint32_t r[4][FD_ROUND_UP_LANES(FD_TIE_LIST)];
    size_t i;
    for (i = 0; i < lanes; i++) { /* padding lanes: any counter will do */
        const uint32_t item = i < n ? items[i] : 0;
        set_counter(rule, first + item / FD_BLOCK_ELEMENTS, FD_PLANES + item % FD_BLOCK_ELEMENTS / 4,
                    &r[0][i], &r[1][i], &r[2][i], &r[3][i]);
    }
    fd_philox_lanes(lanes, r[0], r[1], r[2], r[3], rule->key);
    for (i = 0; i < lanes; i += FD_LANE_VECTOR) prefetch_some(pf, FD_PREFETCH_LINES);
    for (i = 0; i < n; i++) /* no branch: it would go either way at random */
        keep[items[i] / 32] |= (uint32_t)((r[items[i] % 4][i] >> 8) < low) << (items[i] % 32);
}
#endif

/* A path may list the first tie of each tied word w of the chunk with its own instructions
 * (FD_FIRST_TIES): it returns how many it listed (at most FD_CHUNK_BLOCKS, and it may write
 * FD_TIE_PAD entries more), clears them from u[w], and clears from tied[w] the words left
 * without a tie. */
#ifdef FD_FIRST_TIES
static size_t FD_FIRST_TIES(size_t nblocks, uint32_t w, uint64_t *tied,
                            uint32_t u[FD_CHUNK_BLOCKS], uint32_t *items, prefetcher *pf);
#endif

/* Lists the ties of the words flagged in tied (their undecided bits in u) and resolves them; pf
 * goes on prefetching meanwhile. */
static void resolve_ties(const fd_bernoulli *rule, uint64_t first, size_t nblocks, uint64_t tied[4],
                         uint32_t u[4][FD_CHUNK_BLOCKS], uint32_t *keep, prefetcher *pf)
{
    uint32_t items[FD_TIE_LIST + FD_TIE_PAD];
    size_t n = 0;
    uint32_t w;
    for (w = 0; w < 4; w++) {
#ifdef FD_FIRST_TIES
        if (n + FD_CHUNK_BLOCKS > FD_TIE_LIST) {
            FD_FLUSH_TIES(rule, first, items, n, keep, pf);
            n = 0;
        }
        n += FD_FIRST_TIES(nblocks, w, &tied[w], u[w], items + n, pf);
#endif
        while (tied[w]) {
            const uint32_t block = (uint32_t)lowest_set_bit64(tied[w]);
            uint32_t undecided = u[w][block];
            tied[w] &= tied[w] - 1u;
            if (n + 32 > FD_TIE_LIST) {
                FD_FLUSH_TIES(rule, first, items, n, keep, pf);
                n = 0;
            }
            for (; undecided; undecided &= undecided - 1u)
                items[n++] = FD_BLOCK_ELEMENTS * block + 32 * w + (uint32_t)lowest_set_bit(undecided);
        }
    }
    (void)nblocks; /* only FD_FIRST_TIES needs it */
    if (n) FD_FLUSH_TIES(rule, first, items, n, keep, pf);
}

/* k and u before any plane: nothing known below T, everything still equal to its prefix. */
static inline void start_planes(uint32_t k[4][FD_CHUNK_BLOCKS], uint32_t u[4][FD_CHUNK_BLOCKS],
                                size_t lanes)
{
    int w;
    size_t b;
    for (w = 0; w < 4; w++)
        for (b = 0; b < lanes; b++) {
            k[w][b] = 0;
            u[w][b] = 0xffffffffu;
        }
}

/* Whether ties follow the planes: T (0 < T < 2^32) has bits below them. */
static inline int ties_follow(const fd_bernoulli *rule) { return (rule->threshold & 0xffffffu) != 0; }

/* Bit 31 - plane of T: whether plane `plane` keeps what it decides (else it drops it). */
static inline int plane_keeps(const fd_bernoulli *rule, int plane)
{
    return (int)((rule->threshold >> (31 - plane)) & 1u);
}

/* Bit b of tied[w]: u[w][b] has an element still undecided (about 1 word in 8 does). Only
 * when ties follow the planes. */
static inline void flag_ties(const fd_bernoulli *rule, uint32_t u[4][FD_CHUNK_BLOCKS], size_t nblocks,
                             uint64_t tied[4])
{
    int w;
    size_t b;
    if (!ties_follow(rule)) return;
    for (w = 0; w < 4; w++) {
        tied[w] = 0;
        for (b = 0; b < nblocks; b++) tied[w] |= (uint64_t)(u[w][b] != 0) << b;
    }
}

/* The keep words of nblocks blocks, 4 per block (keep[4 * b + w]), from k in lanes (k[w][b]). */
static inline void store_keep_words(uint32_t k[4][FD_CHUNK_BLOCKS], size_t nblocks, uint32_t *keep)
{
    int w;
    size_t b;
    for (b = 0; b < nblocks; b++)
        for (w = 0; w < 4; w++) keep[4 * b + (size_t)w] = k[w][b];
}

/*
 * What the Philox of a block computes the same for every c3, once (as the SIMD paths do): c3
 * enters round 1 only through an xor into word 2, which round 2 multiplies into words 0 and 1.
 * q[0]: word 2 after round 1 but the xor of c3; q[1]: word 1 after round 1, xor round 2's key
 * word 0; q[2], q[3]: words 2 and 3 after round 2. Each output then takes 8.5 rounds, not 10
 * (the portable planes 9% faster). planes_prefix gives q of the blocks [first, first + lanes),
 * from_prefix the state after round 2 for a c3.
 */
static inline void planes_prefix(const fd_bernoulli *rule, uint64_t first, size_t lanes,
                                 uint32_t q[4][FD_CHUNK_BLOCKS])
{
    const uint32_t k0 = (uint32_t)rule->key, k1 = (uint32_t)(rule->key >> 32);
    size_t b;
    for (b = 0; b < lanes; b++) {
        uint32_t c0, c1, c2, c3;
        uint64_t p0, p1, q0;
        set_counter(rule, first + b, 0, &c0, &c1, &c2, &c3);
        p0 = (uint64_t)FD_PHILOX_M0 * c0;
        p1 = (uint64_t)FD_PHILOX_M1 * c2;
        q0 = (uint64_t)FD_PHILOX_M0 * ((uint32_t)(p1 >> 32) ^ c1 ^ k0); /* round 2, word 0 */
        q[0][b] = (uint32_t)(p0 >> 32) ^ k1;
        q[1][b] = (uint32_t)p1 ^ (k0 + FD_PHILOX_W0);
        q[2][b] = (uint32_t)(q0 >> 32) ^ (uint32_t)p0 ^ (k1 + FD_PHILOX_W1);
        q[3][b] = (uint32_t)q0;
    }
}

static inline void from_prefix(uint32_t q0, uint32_t q1, uint32_t q2, uint32_t q3, uint32_t c3,
                               uint32_t *r0, uint32_t *r1, uint32_t *r2, uint32_t *r3)
{
    const uint64_t p1 = (uint64_t)FD_PHILOX_M1 * (q0 ^ c3);
    *r0 = (uint32_t)(p1 >> 32) ^ q1;
    *r1 = (uint32_t)p1;
    *r2 = q2;
    *r3 = q3;
}

/* The first nplanes planes of nblocks blocks from `first`: the bits of keep (4 words a block,
 * only those of the nblocks blocks written) are elements known to be below T; when ties follow,
 * bits of u are elements still equal to T's prefix and tied flags the words of u with any
 * (flag_ties), and otherwise neither need be written. (Lanes of u past nblocks may be written
 * too.) A path may fuse Philox and comparison in registers instead (FD_COMPARE_PLANES). */
#ifdef FD_COMPARE_PLANES
static void FD_COMPARE_PLANES(const fd_bernoulli *rule, uint64_t first, size_t nblocks, int nplanes,
                              uint32_t *keep, uint32_t u[4][FD_CHUNK_BLOCKS], uint64_t tied[4],
                              prefetcher *pf);
#else
#define FD_COMPARE_PLANES compare_planes
static void compare_planes(const fd_bernoulli *rule, uint64_t first, size_t nblocks, int nplanes,
                           uint32_t *keep, uint32_t u[4][FD_CHUNK_BLOCKS], uint64_t tied[4],
                           prefetcher *pf)
{
    const size_t lanes = FD_ROUND_UP_LANES(nblocks); /* <= FD_CHUNK_BLOCKS */
    uint32_t k[4][FD_CHUNK_BLOCKS], q[4][FD_CHUNK_BLOCKS], r[4][FD_CHUNK_BLOCKS];
    int plane, w;
    size_t b;
    start_planes(k, u, lanes);
    planes_prefix(rule, first, lanes, q);
    for (plane = 0; plane < nplanes; plane++) {
        const uint32_t t_bit = 0u - (uint32_t)plane_keeps(rule, plane);
        for (b = 0; b < lanes; b++) /* the rest of rounds 1 and 2, with c3 = plane */
            from_prefix(q[0][b], q[1][b], q[2][b], q[3][b], (uint32_t)plane, &r[0][b], &r[1][b],
                        &r[2][b], &r[3][b]);
        fd_philox_rounds_lanes(lanes, r[0], r[1], r[2], r[3], rule->key, 2);
        for (w = 0; w < 4; w++)
            for (b = 0; b < lanes; b++) compare_plane(&k[w][b], &u[w][b], r[w][b], t_bit);
        for (b = 0; b < lanes; b += FD_LANE_VECTOR) prefetch_some(pf, FD_PREFETCH_LINES);
    }
    store_keep_words(k, nblocks, keep);
    flag_ties(rule, u, nblocks, tied);
}
#endif

/* A path may make p = 0.5's keep words (T = 2^31: one plane, no ties) straight from its Philox
 * lanes (FD_KEEP_WORDS_HALF: fdv_keep_words_half of fd_kernels_vec.h); else its planes do. */
#ifdef FD_KEEP_WORDS_HALF
static void FD_KEEP_WORDS_HALF(const fd_bernoulli *rule, uint64_t first, size_t nblocks,
                               uint32_t *keep);
#endif

/*
 * Keep bits of the call's blocks [first, first + nblocks) by the rule of fd_dropout.h: the top
 * planes of every block in lanes that vectorise (lanes = blocks, state word-major), then the rare
 * ties. Planes below T's lowest set bit are never needed: an element still equal to T's prefix
 * there is >= T.
 */
static void keep_words(const fd_bernoulli *rule, uint64_t first, size_t nblocks, uint32_t *keep,
                       const char *next, size_t next_bytes)
{
    uint32_t u[4][FD_CHUNK_BLOCKS];
    uint64_t tied[4];
    const uint64_t t = rule->threshold;
    prefetcher pf;
    int nplanes, planes;

    if (t == 0 || t >= FD_THRESHOLD_ONE) {
        memset(keep, t ? 0xff : 0, 4 * nblocks * sizeof *keep);
        return;
    }
    nplanes = 32 - lowest_set_bit((uint32_t)t);
#ifdef FD_KEEP_WORDS_HALF
    if (nplanes == 1) { /* T's lowest set bit is bit 31: T = 2^31 */
        FD_KEEP_WORDS_HALF(rule, first, nblocks, keep);
        return;
    }
#endif
    planes = nplanes < FD_PLANES ? nplanes : FD_PLANES;
    pf.base = next;
    pf.done = 0;
    pf.bytes = next && !fd_few_planes(rule) ? next_bytes : 0;
    FD_COMPARE_PLANES(rule, first, nblocks, planes, keep, u, tied, &pf);
    if (ties_follow(rule)) resolve_ties(rule, first, nblocks, tied, u, keep, &pf);
}

/*
 * Contiguous group loops: bit j of words[g] keeps element 32 * g + j. Each group is loaded into a
 * local array before anything is stored, so x == out (in place) cannot block vectorisation, and
 * bits are tested against a table rather than shifted by j (SSE2 has no per-lane shifts). Scaling
 * masks as it stores; selecting masks as it loads, as a plain copy into the array would become a
 * memcpy of narrow stores that the wide loads after it cannot forward from (2.5x slower).
 */
static const uint32_t bit_of[32] = {
    1u << 0,  1u << 1,  1u << 2,  1u << 3,  1u << 4,  1u << 5,  1u << 6,  1u << 7,
    1u << 8,  1u << 9,  1u << 10, 1u << 11, 1u << 12, 1u << 13, 1u << 14, 1u << 15,
    1u << 16, 1u << 17, 1u << 18, 1u << 19, 1u << 20, 1u << 21, 1u << 22, 1u << 23,
    1u << 24, 1u << 25, 1u << 26, 1u << 27, 1u << 28, 1u << 29, 1u << 30, 1u << 31,
};

#define FD_KEEP_MASK(UINT, w, j) ((UINT)0 - (UINT)(((w) & bit_of[j]) != 0))
#define FD_GROUP_LOOP(BYTES, UINT, LOAD_BITS, STORE, MASK_ON_LOAD)                                \
    size_t g;                                                                                     \
    int j;                                                                                        \
    for (g = 0; g < ngroups; g++) {                                                               \
        const uint32_t w = words[g];                                                              \
        const char *xg = x + (size_t)32 * BYTES * g;                                              \
        char *og = out + (size_t)32 * BYTES * g;                                                  \
        UINT v[32];                                                                               \
        for (j = 0; j < 32; j++)                                                                  \
            v[j] = (UINT)(LOAD_BITS(xg + BYTES * j) & (MASK_ON_LOAD ? FD_KEEP_MASK(UINT, w, j)    \
                                                                     : (UINT)~(UINT)0));          \
        for (j = 0; j < 32; j++)                                                                  \
            STORE(og + BYTES * j, (UINT)(v[j] & (MASK_ON_LOAD ? (UINT)~(UINT)0                    \
                                                              : FD_KEEP_MASK(UINT, w, j))));      \
    }

#define F32_SCALED_BITS(p) fd_f32_scaled_bits(p, s)
#define F64_SCALED_BITS(p) fd_f64_scaled_bits(p, scale)
#define F16_SCALED_BITS(p) fd_f16_scaled_bits(p, s)
#define BF16_SCALED_BITS(p) fd_bf16_scaled_bits(p, s)

/* A path may scale float16 elements with its own instructions instead (FD_SCALE_GROUPS_F16:
 * hardware conversions, which round as fd_f32_to_f16 does). */
#ifdef FD_SCALE_GROUPS_F16
static void FD_SCALE_GROUPS_F16(const uint32_t *words, size_t ngroups, const char *x, char *out,
                                double scale);
#else
#define FD_SCALE_GROUPS_F16 scale_groups_f16
static void scale_groups_f16(const uint32_t *words, size_t ngroups, const char *x, char *out,
                             double scale)
{
    const float s = (float)scale;
    FD_GROUP_LOOP(2, uint16_t, F16_SCALED_BITS, fd_store_u16, 0)
}
#endif

/* bfloat16 on every path: integer conversions around one float32 multiply, which the compiler
 * vectorises for the path's ISA (GCC, 2^16 elements in place at p = 0.3 on the EPYC: 0.29 ns an
 * element on AVX-512 and 0.44 on AVX2, where float16's conversion instructions take 0.18 and
 * 0.27; a hand-written variant of the loop was no faster). */
static void scale_groups_bf16(const uint32_t *words, size_t ngroups, const char *x, char *out,
                              double scale)
{
    const float s = (float)scale;
    FD_GROUP_LOOP(2, uint16_t, BF16_SCALED_BITS, fd_store_u16, 0)
}

static void select_groups_16(const uint32_t *words, size_t ngroups, const char *x, char *out)
{
    FD_GROUP_LOOP(2, uint16_t, fd_load_u16, fd_store_u16, 1)
}

/* A path may apply the bits to 32-bit elements, or to 64-bit ones, with its own instructions
 * instead (FD_GROUPS_32, FD_GROUPS_64: it defines that size's two functions itself). */
#ifdef FD_GROUPS_32
static void scale_groups_f32(const uint32_t *words, size_t ngroups, const char *x, char *out,
                             double scale);
static void select_groups_32(const uint32_t *words, size_t ngroups, const char *x, char *out);
#else
static void scale_groups_f32(const uint32_t *words, size_t ngroups, const char *x, char *out,
                             double scale)
{
    const float s = (float)scale;
    FD_GROUP_LOOP(4, uint32_t, F32_SCALED_BITS, fd_store_u32, 0)
}

static void select_groups_32(const uint32_t *words, size_t ngroups, const char *x, char *out)
{
    FD_GROUP_LOOP(4, uint32_t, fd_load_u32, fd_store_u32, 1)
}
#endif

#ifdef FD_GROUPS_64
static void scale_groups_f64(const uint32_t *words, size_t ngroups, const char *x, char *out,
                             double scale);
static void select_groups_64(const uint32_t *words, size_t ngroups, const char *x, char *out);
#else
static void scale_groups_f64(const uint32_t *words, size_t ngroups, const char *x, char *out,
                             double scale)
{
    FD_GROUP_LOOP(8, uint64_t, F64_SCALED_BITS, fd_store_u64, 0)
}

static void select_groups_64(const uint32_t *words, size_t ngroups, const char *x, char *out)
{
    FD_GROUP_LOOP(8, uint64_t, fd_load_u64, fd_store_u64, 1)
}
#endif

/* Bool mask bytes of 32 * ngroups elements: 1 where kept. A path may expand the bits with its
 * own instructions instead (FD_BOOL_GROUPS). */
#ifdef FD_BOOL_GROUPS
static void FD_BOOL_GROUPS(const uint32_t *words, size_t ngroups, uint8_t *mask);
#else
#define FD_BOOL_GROUPS bool_groups
static void bool_groups(const uint32_t *words, size_t ngroups, uint8_t *mask)
{
    const int little_endian = fd_little_endian();
    size_t g;
    int j;
    for (g = 0; g < ngroups; g++)
        for (j = 0; j < 32; j += 4) {
            /* n * 0x00204081 has bit k of the nibble n at bit 8k (and no carries: its shifted
             * copies are 7 bits apart, the nibble 4 bits wide): 4 mask bytes in one word */
            uint32_t bytes = ((words[g] >> j) & 15u) * 0x00204081u & 0x01010101u;
            if (!little_endian)
                bytes = bytes << 24 | (bytes & 0xff00u) << 8 | (bytes >> 8 & 0xff00u) | bytes >> 24;
            memcpy(mask + 32 * g + (size_t)j, &bytes, 4);
        }
}
#endif

/* The RNG floor (fd_kernels.h's philox_floor): the Philox outputs at c3 = c3 .. c3 + count - 1 of
 * nblocks blocks from `first`, generated as the planes generate them (lanes = blocks, from each
 * block's prefix) and folded by xor. A path may generate them with its own instructions instead
 * (FD_PHILOX_FLOOR), and keep this one for some of them (FD_PLAIN_PHILOX_FLOOR). */
#ifdef FD_PHILOX_FLOOR
static uint32_t FD_PHILOX_FLOOR(uint64_t key, uint64_t offset, uint64_t first, size_t nblocks,
                                uint32_t c3, unsigned count);
#else
#define FD_PHILOX_FLOOR philox_floor
#define FD_PLAIN_PHILOX_FLOOR
#endif
#ifdef FD_PLAIN_PHILOX_FLOOR
static uint32_t philox_floor(uint64_t key, uint64_t offset, uint64_t first, size_t nblocks,
                             uint32_t c3, unsigned count)
{
    const fd_bernoulli rule = {key, offset, 0};
    uint32_t q[4][FD_CHUNK_BLOCKS], r[4][FD_CHUNK_BLOCKS], fold = 0;
    size_t g, b;
    unsigned i;
    for (g = 0; g < nblocks; g += FD_CHUNK_BLOCKS) {
        const size_t blocks = nblocks - g < FD_CHUNK_BLOCKS ? nblocks - g : FD_CHUNK_BLOCKS;
        const size_t lanes = FD_ROUND_UP_LANES(blocks);
        planes_prefix(&rule, first + g, lanes, q);
        for (i = 0; i < count; i++) {
            for (b = 0; b < lanes; b++)
                from_prefix(q[0][b], q[1][b], q[2][b], q[3][b], c3 + i, &r[0][b], &r[1][b],
                            &r[2][b], &r[3][b]);
            fd_philox_rounds_lanes(lanes, r[0], r[1], r[2], r[3], key, 2);
            for (b = 0; b < blocks; b++) fold ^= r[0][b] ^ r[1][b] ^ r[2][b] ^ r[3][b];
        }
    }
    return fold;
}
#endif

#include "fd_normal_impl.h"

/* A path may make p = 0.5's float32 dropout in one pass with its bits (FD_HALF_DROPOUT_32). */
#ifndef FD_HALF_DROPOUT_32
#define FD_HALF_DROPOUT_32 NULL
#endif

/* Indexed by fd_dtype; bfloat16 selects as float16 does (16-bit copies). */
#define FD_KERNEL_TABLE(NAME)                                                         \
    {                                                                                 \
        NAME, keep_words, FD_BOOL_GROUPS,                                             \
        {FD_SCALE_GROUPS_F16, scale_groups_f32, scale_groups_f64, scale_groups_bf16}, \
        {select_groups_16, select_groups_32, select_groups_64, select_groups_16},     \
        FD_HALF_DROPOUT_32, normal_blocks, FD_PHILOX_FLOOR,                           \
    }

#endif /* FD_KERNELS_IMPL_H */
