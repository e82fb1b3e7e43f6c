/*
 * The Philox of a SIMD path's normals and RNG floor, written once against a small vocabulary of
 * the path's own vector Philox (its lanes 64 bits wide, the words in their low halves), which the
 * path defines before it includes this file at its end, having named these functions
 * FD_NORMAL_PHILOX and FD_PHILOX_FLOOR before fd_kernels_impl.h:
 *   FD_VEC_LANES, fd_vec, fd_vphilox (a state x[4]) and fd_vprefix (what a block's Philox computes
 *   the same for every c3); fd_v_counters(rule, blocks, counter[3]), fd_v_prefix_of(q, counter,
 *   key), fd_v_from_prefix(s, q, c3s) and fd_v_rounds(s, chains, key) (rounds 3 to 10 of `chains`
 *   states); fd_v_set(v), fd_v_lanes(v) (v, v + 1, ...), fd_v_xor, fd_v_store(p, v),
 *   fd_v_joined(low, high) (the 64-bit numbers high:low), fd_v_below(v, first, n) (v in the lanes
 *   where first + lane < n, else 0) and fd_v_fold(v) (the xor of the lanes' words).
 */
#ifndef FD_PHILOX_VEC_H
#define FD_PHILOX_VEC_H

/* normal_philox (fd_normal_impl.h): the block's prefix once, then its 64 c3 in lanes, four
 * chains at a time. */
static void normal_philox_vec(uint64_t key, uint64_t offset, uint64_t block, uint64_t lo[FD_PAIRS],
                              uint64_t hi[FD_PAIRS])
{
    const fd_bernoulli rule = {key, offset, 0};
    fd_vec counter[3];
    fd_vprefix prefix;
    int j, h;
    fd_v_counters(&rule, fd_v_set(block), counter);
    fd_v_prefix_of(&prefix, counter, key);
    for (j = 0; j < FD_PAIRS; j += 4 * FD_VEC_LANES) {
        fd_vphilox s[4];
        for (h = 0; h < 4; h++) /* c3 = 64 + pair */
            fd_v_from_prefix(&s[h], &prefix, fd_v_lanes(64u + (uint64_t)(j + FD_VEC_LANES * h)));
        fd_v_rounds(s, 4, key);
        for (h = 0; h < 4; h++) {
            fd_v_store(lo + j + FD_VEC_LANES * h, fd_v_joined(s[h].x[0], s[h].x[1]));
            fd_v_store(hi + j + FD_VEC_LANES * h, fd_v_joined(s[h].x[2], s[h].x[3]));
        }
    }
}

/* philox_floor (fd_kernels_impl.h) as the planes generate their outputs: four chains of blocks in
 * lanes, each from its blocks' prefix, one c3 after another. */
static uint32_t philox_floor_vec(uint64_t key, uint64_t offset, uint64_t first, size_t nblocks,
                                 uint32_t c3, unsigned count)
{
    const fd_bernoulli rule = {key, offset, 0};
    fd_vec fold = fd_v_set(0);
    size_t g;
    unsigned i;
    int h;
    for (g = 0; g < nblocks; g += 4 * FD_VEC_LANES) {
        fd_vprefix prefix[4];
        fd_vec sum[4];
        for (h = 0; h < 4; h++) {
            fd_vec counter[3];
            fd_v_counters(&rule, fd_v_lanes(first + g + FD_VEC_LANES * (size_t)h), counter);
            fd_v_prefix_of(&prefix[h], counter, key);
            sum[h] = fd_v_set(0);
        }
        for (i = 0; i < count; i++) {
            const fd_vec word3 = fd_v_set(c3 + i);
            fd_vphilox s[4];
            for (h = 0; h < 4; h++) fd_v_from_prefix(&s[h], &prefix[h], word3);
            fd_v_rounds(s, 4, key);
            for (h = 0; h < 4; h++)
                sum[h] = fd_v_xor(fd_v_xor(sum[h], fd_v_xor(s[h].x[0], s[h].x[1])),
                                  fd_v_xor(s[h].x[2], s[h].x[3]));
        }
        for (h = 0; h < 4; h++) /* only the lanes of blocks before nblocks */
            fold = fd_v_xor(fold, fd_v_below(sum[h], g + FD_VEC_LANES * (size_t)h, nblocks));
    }
    return fd_v_fold(fold);
}

#endif /* FD_PHILOX_VEC_H */
