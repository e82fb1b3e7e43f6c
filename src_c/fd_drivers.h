/*
 * Internal: what the drivers of fd_dropout.h share, in one copy: fd_dropout.c (dropout), fd_mask.c
 * (the keep-masks) and fd_normal.c (the normals). They check a rule, read keep bits and write a
 * bool mask alike, and split a call into parts across the helper threads (fd_threads.h) alike.
 */
#ifndef FD_DRIVERS_H
#define FD_DRIVERS_H

#include "fd_kernels.h"
#include "fd_threads.h"

static inline fd_status fd_check_rule(const fd_bernoulli *rule)
{
    if (!rule) return FD_ERR_NULL;
    return rule->threshold > FD_THRESHOLD_ONE ? FD_ERR_THRESHOLD : FD_OK;
}

/* Keep bit i of keep words laid out as fd_kernels.h's keep_words writes them (1 = kept). */
static inline int fd_keep_bit(const uint32_t *words, size_t i)
{
    return (words[i / 32] >> (i % 32)) & 1u;
}

/* Writes keep bits [bit, bit + n) of words as bytes 0/1, whole words through the kernels: the
 * bool mask of fd_mask_bool and the optional one of fd_dropout. */
static inline void fd_write_bool_mask(const fd_kernels *kernels, const uint32_t *words, size_t bit,
                                      size_t n, uint8_t *mask)
{
    size_t i = 0;
    for (; i < n && (bit + i) % 32 != 0; i++) mask[i] = (uint8_t)fd_keep_bit(words, bit + i);
    if (n - i >= 32) {
        size_t groups = (n - i) / 32;
        kernels->bool_groups(words + (bit + i) / 32, groups, mask + i);
        i += 32 * groups;
    }
    for (; i < n; i++) mask[i] = (uint8_t)fd_keep_bit(words, bit + i);
}

/* chunks * part / parts, exactly: the product itself passes 2^64 for calls of 2^61 elements. */
static inline uint64_t fd_share(uint64_t chunks, int part, int parts)
{
    const uint64_t whole = chunks / (uint64_t)parts, rest = chunks % (uint64_t)parts;
    return whole * (uint64_t)part + rest * (uint64_t)part / (uint64_t)parts;
}

/* Element range [begin, end) of piece `part` of `parts`, cut at chunk boundaries. */
static inline void fd_part_range(uint64_t count, int part, int parts, uint64_t *begin,
                                 uint64_t *end)
{
    const uint64_t chunks = count / FD_CHUNK_ELEMENTS + (count % FD_CHUNK_ELEMENTS != 0);
    *begin = fd_share(chunks, part, parts) * FD_CHUNK_ELEMENTS;
    *end = fd_share(chunks, part + 1, parts) * FD_CHUNK_ELEMENTS;
    if (*begin > count) *begin = count;
    if (*end > count) *end = count;
}

/*
 * How fd_run_parts splits a call of count elements: a thread per FD_MIN_PART_ELEMENTS at most,
 * so small calls stay whole, on the caller; pieces of FD_PIECE_ELEMENTS (4 chunks), which the
 * threads take in turn: a helper that wakes late, or runs on a busy core, takes fewer. fn finds
 * its elements with fd_part_range.
 */
#define FD_PIECE_ELEMENTS (1 << 15)
#define FD_MAX_PIECES 65536
static inline void fd_run_split(fd_part_fn fn, void *arg, uint64_t count)
{
    const uint64_t threads = count / FD_MIN_PART_ELEMENTS, pieces = count / FD_PIECE_ELEMENTS;
    if (threads < 2)
        fn(arg, 0, 1);
    else
        fd_run_parts(fn, arg, pieces > FD_MAX_PIECES ? FD_MAX_PIECES : (int)pieces,
                     threads > FD_MAX_THREADS ? FD_MAX_THREADS : (int)threads);
}

/* One RNG floor call (fd_floor_mask, fd_floor_normal) of n elements, as its parts see it: per
 * block, `count` Philox outputs from c3 = `c3`, and if `ties`, one at c3 = FD_PLANES per two
 * blocks (the count of ties the planes leave, on average: 128 / 2^FD_PLANES a block). */
typedef struct {
    const fd_kernels *kernels;
    uint64_t key, offset, n;
    uint32_t c3;
    unsigned count;
    int ties;
} fd_floor_call;

static inline void fd_floor_part(void *arg, int part, int parts)
{
    const fd_floor_call *call = (const fd_floor_call *)arg;
    volatile uint32_t sink; /* the outputs' xor, stored: so they are computed */
    uint32_t fold = 0;
    uint64_t i, end;
    fd_part_range(call->n, part, parts, &i, &end);
    for (; i < end; i += FD_CHUNK_ELEMENTS) {
        const uint64_t left = end - i;
        const size_t blocks =
            (size_t)fd_blocks(left < FD_CHUNK_ELEMENTS ? left : FD_CHUNK_ELEMENTS);
        const uint64_t first = i / FD_BLOCK_ELEMENTS;
        if (call->count)
            fold ^= call->kernels->philox_floor(call->key, call->offset, first, blocks, call->c3,
                                                call->count);
        if (call->ties)
            fold ^= call->kernels->philox_floor(call->key, call->offset, first, blocks / 2,
                                                FD_PLANES, 1);
    }
    sink = fold;
    (void)sink;
}

static inline fd_status fd_run_floor(uint64_t key, uint64_t offset, uint64_t n, uint32_t c3,
                                     unsigned count, int ties)
{
    fd_floor_call call = {fd_active_kernels(), key, offset, n, c3, count, ties};
    if (n > ((uint64_t)1 << 62)) return FD_ERR_SHAPE;
    if (n) fd_run_split(fd_floor_part, &call, n);
    return FD_OK;
}

#endif /* FD_DRIVERS_H */
