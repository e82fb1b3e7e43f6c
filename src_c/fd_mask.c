/*
 * The keep-masks (fd_mask_bool, fd_mask_packed): a call's keep bits chunk by chunk from the kernels
 * of the active path (fd_kernels.h), written as bytes 0/1 or packed 8 a byte.
 */
#include "fd_drivers.h"

/* Writes the mask of elements [first, first + n), first at a chunk boundary, from their words. */
typedef void (*chunk_writer)(const fd_kernels *kernels, const uint32_t *words, uint64_t first,
                             size_t n, uint8_t *dest);

/* One mask call, as its parts see it. */
typedef struct {
    const fd_kernels *kernels;
    const fd_bernoulli *rule;
    uint64_t count;
    uint8_t *dest;
    chunk_writer emit;
    size_t per_byte; /* elements per mask byte: 1 bool, 8 packed */
} mask_call;

static void mask_part(void *arg, int part, int parts)
{
    const mask_call *call = (const mask_call *)arg;
    uint32_t words[FD_CHUNK_WORDS];
    uint64_t first, end;
    fd_part_range(call->count, part, parts, &first, &end);
    for (; first < end; first += FD_CHUNK_ELEMENTS) {
        const uint64_t left = end - first;
        const size_t len = left < FD_CHUNK_ELEMENTS ? (size_t)left : FD_CHUNK_ELEMENTS;
        const size_t bytes = (len + call->per_byte - 1) / call->per_byte;
        uint8_t *at = call->dest + first / call->per_byte;
        /* A whole chunk of a packed mask is its keep words' bytes (little-endian): the kernel
         * writes them in place, with no copy (p = 0.5 on AVX2: 8% of the mask's time). */
        uint32_t *keep = call->per_byte == 8 && len == FD_CHUNK_ELEMENTS &&
                                 (uintptr_t)at % sizeof(uint32_t) == 0 && fd_little_endian()
                             ? (uint32_t *)(void *)at
                             : words;
        /* the kernel prefetches the chunk's mask bytes while it computes them: the stores that
         * follow then hit the cache instead of waiting on each line */
        call->kernels->keep_words(call->rule, first / FD_BLOCK_ELEMENTS, (size_t)fd_blocks(len),
                                  keep, (const char *)at, bytes);
        if (keep == words) call->emit(call->kernels, words, first, len, call->dest);
    }
}

static fd_status write_mask(const fd_bernoulli *rule, uint64_t n, uint8_t *dest, chunk_writer emit,
                            size_t per_byte)
{
    mask_call call;
    fd_status status = fd_check_rule(rule);
    if (status != FD_OK) return status;
    if (n > ((uint64_t)1 << 62)) return FD_ERR_SHAPE;
    if (n == 0) return FD_OK;
    if (!dest) return FD_ERR_NULL;
    call.kernels = fd_active_kernels();
    call.rule = rule;
    call.count = n;
    call.dest = dest;
    call.emit = emit;
    call.per_byte = per_byte;
    fd_run_split(mask_part, &call, n);
    return FD_OK;
}

static void emit_bool(const fd_kernels *kernels, const uint32_t *words, uint64_t first, size_t n,
                      uint8_t *mask)
{
    fd_write_bool_mask(kernels, words, 0, n, mask + first);
}

static void emit_packed(const fd_kernels *kernels, const uint32_t *words, uint64_t first, size_t n,
                        uint8_t *packed)
{
    size_t nbytes = (n + 7) / 8, i = 0;
    uint8_t *dest = packed + first / 8;
    (void)kernels;
    if (fd_little_endian()) { /* the words are the bytes */
        i = nbytes / 4 * 4;
        memcpy(dest, words, i);
    }
    for (; i < nbytes; i++) dest[i] = (uint8_t)(words[i / 4] >> (8 * (i % 4)));
    if (n % 8) dest[nbytes - 1] &= (uint8_t)((1u << (n % 8)) - 1u); /* bits past the end */
}

fd_status fd_mask_bool(const fd_bernoulli *rule, uint64_t n, uint8_t *mask)
{
    return write_mask(rule, n, mask, emit_bool, 1);
}

fd_status fd_mask_packed(const fd_bernoulli *rule, uint64_t n, uint8_t *packed)
{
    return write_mask(rule, n, packed, emit_packed, 8);
}

fd_status fd_floor_mask(const fd_bernoulli *rule, uint64_t n)
{
    const fd_status status = fd_check_rule(rule);
    const uint32_t t = rule ? (uint32_t)rule->threshold : 0; /* 0 for T = 0 and 2^32 */
    unsigned planes = 0; /* 32 - the index of T's lowest set bit, at most FD_PLANES (keep_words) */
    if (status != FD_OK) return status;
    while (planes < FD_PLANES && (uint32_t)(t << planes) != 0) planes++;
    return fd_run_floor(rule->key, rule->offset, n, 0, planes, (t & 0xffffffu) != 0);
}
