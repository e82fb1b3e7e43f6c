/*
 * Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror and Shaw, "Parallel random
 * numbers: as easy as 1, 2, 3" (SC'11), as published in Random123. Written from the paper; checked
 * against Random123's known-answer vectors in src_c/tests/test_core.c and tests/test_philox.py.
 *
 * A 128-bit counter and a 64-bit key map to 128 random bits. The output is a pure function of
 * (counter, key), which is what lets every element of an array get its random bits independently of
 * SIMD width, block size and thread count.
 */
#ifndef FD_PHILOX_H
#define FD_PHILOX_H

#include <stddef.h>
#include <stdint.h>

#define FD_PHILOX_M0 0xD2511F53u /* multiplier of counter word 0 */
#define FD_PHILOX_M1 0xCD9E8D57u /* multiplier of counter word 2 */
#define FD_PHILOX_W0 0x9E3779B9u /* key schedule: golden ratio */
#define FD_PHILOX_W1 0xBB67AE85u /* key schedule: sqrt(3) - 1 */
#define FD_PHILOX_ROUNDS 10

/* One Philox4x32 round on counter c with round key (k0, k1). */
static inline void fd_philox_round(uint32_t c[4], uint32_t k0, uint32_t k1)
{
    uint64_t p0 = (uint64_t)FD_PHILOX_M0 * c[0];
    uint64_t p1 = (uint64_t)FD_PHILOX_M1 * c[2];
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
    c[0] = n0;
    c[1] = (uint32_t)p1;
    c[2] = n2;
    c[3] = (uint32_t)p0;
}

/* Philox4x32-10 of one counter: the key is bumped by (W0, W1) between rounds. */
static inline void fd_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
    uint32_t k0 = key[0], k1 = key[1];
    int r;
    for (r = 0; r < FD_PHILOX_ROUNDS; r++) {
        if (r > 0) {
            k0 += FD_PHILOX_W0;
            k1 += FD_PHILOX_W1;
        }
        fd_philox_round(c, k0, k1);
    }
    out[0] = c[0];
    out[1] = c[1];
    out[2] = c[2];
    out[3] = c[3];
}

/* Rounds from + 1 to 10 of n Philox4x32-10 states laid out as four word arrays (structure of
 * arrays, so the lanes vectorise): the state is replaced by the output. */
static inline void fd_philox_rounds_lanes(size_t n, uint32_t *x0, uint32_t *x1, uint32_t *x2,
                                          uint32_t *x3, uint64_t key, int from)
{
    uint32_t k0 = (uint32_t)key + (uint32_t)from * FD_PHILOX_W0;
    uint32_t k1 = (uint32_t)(key >> 32) + (uint32_t)from * FD_PHILOX_W1;
    size_t i;
    int round;
    for (round = from; round < FD_PHILOX_ROUNDS; round++) {
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

/* Philox4x32-10 of n counters laid out as four word arrays; the same rounds as
 * fd_philox4x32_10, the output replaces the counters. */
static inline void fd_philox_lanes(size_t n, uint32_t *x0, uint32_t *x1, uint32_t *x2, uint32_t *x3,
                                   uint64_t key)
{
    fd_philox_rounds_lanes(n, x0, x1, x2, x3, key, 0);
}

#endif /* FD_PHILOX_H */
