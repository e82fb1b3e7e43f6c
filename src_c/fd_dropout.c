/*
 * Dropout (fd_dropout): the argument checks, the walk over an n-d strided array in logical C order
 * and the chunking that feeds the kernels of the active path (fd_kernels.h); and the small
 * functions of fd_dropout.h around the calls (fd_threshold, fd_blocks, fd_philox4x32_10_many,
 * fd_status_message). The masks are in fd_mask.c and the normals in fd_normal.c; what those two
 * share with this file is in fd_drivers.h.
 */
#include <math.h>

#include "fd_drivers.h"
#include "fd_philox.h"

uint64_t fd_threshold(double p)
{
    /* p * 2^32 and its distance to its floor are exact, so the one rounding here (halves up)
     * bounds the error by 2^-33. floor(x + 0.5) would not: for x just below 0.5 the sum rounds. */
    double x, whole;
    if (!(p > 0.0)) return FD_THRESHOLD_ONE; /* also NaN: callers reject it before */
    if (p >= 1.0) return 0;
    x = p * 4294967296.0;
    whole = floor(x);
    if (x - whole >= 0.5) whole += 1.0;
    return FD_THRESHOLD_ONE - (uint64_t)whole;
}

uint64_t fd_blocks(uint64_t n) { return n / FD_BLOCK_ELEMENTS + (n % FD_BLOCK_ELEMENTS != 0); }

void fd_philox4x32_10_many(size_t n, const uint32_t *ctr, const uint32_t key[2], uint32_t *out)
{
    size_t i;
    for (i = 0; i < n; i++) fd_philox4x32_10(ctr + 4 * i, key, out + 4 * i);
}

static const size_t item_size[FD_DTYPES] = {2, 4, 8, 2}; /* indexed by fd_dtype */

/* Dropout of one element; used for strided runs and for the ends of contiguous ones. */
static void dropout_one(fd_dtype dtype, int keep, double scale, int multiply, const char *x,
                        char *out)
{
    switch (dtype) {
    case FD_FLOAT16: {
        uint16_t v = fd_load_u16(x);
        if (multiply) v = fd_f32_to_f16(fd_f16_to_f32(v) * (float)scale);
        fd_store_u16(out, keep ? v : 0);
        break;
    }
    case FD_FLOAT32: {
        uint32_t v = fd_load_u32(x);
        if (multiply) v = fd_f32_bits(fd_load_f32(x) * (float)scale);
        fd_store_u32(out, keep ? v : 0);
        break;
    }
    case FD_FLOAT64: {
        uint64_t v = fd_load_u64(x);
        if (multiply) v = fd_f64_bits(fd_load_f64(x) * scale);
        fd_store_u64(out, keep ? v : 0);
        break;
    }
    case FD_BFLOAT16: {
        uint16_t v = fd_load_u16(x);
        if (multiply) v = fd_f32_to_bf16(fd_bf16_to_f32(v) * (float)scale);
        fd_store_u16(out, keep ? v : 0);
        break;
    }
    }
}

/* One call's fixed state while it walks the array. */
typedef struct {
    const fd_kernels *kernels;
    fd_dtype dtype;
    double scale;
    int multiply; /* scale != 1: vanilla training and p = 0 copy bits unchanged */
    int ndim;     /* after merging dimensions; at least 1 */
    int64_t shape[FD_MAX_NDIM];
    int64_t x_strides[FD_MAX_NDIM];
    int64_t out_strides[FD_MAX_NDIM];
} walk;

/* Elements [start, start + n) of one inner-dimension run, whose keep bits start at bit `bit` of
 * words. Whole groups of 32 go to the path's kernels when the run is contiguous. */
static void dropout_run(const walk *wk, const uint32_t *words, size_t bit, size_t n, const char *x,
                        int64_t sx, char *out, int64_t so)
{
    const int64_t size = (int64_t)item_size[wk->dtype];
    size_t i = 0;
    if (sx == size && so == size) {
        for (; i < n && (bit + i) % 32 != 0; i++)
            dropout_one(wk->dtype, fd_keep_bit(words, bit + i), wk->scale, wk->multiply,
                        x + (size_t)size * i, out + (size_t)size * i);
        if (n - i >= 32) {
            size_t groups = (n - i) / 32;
            const uint32_t *w = words + (bit + i) / 32;
            if (wk->multiply)
                wk->kernels->scale_groups[wk->dtype](w, groups, x + (size_t)size * i,
                                                     out + (size_t)size * i, wk->scale);
            else
                wk->kernels->select_groups[wk->dtype](w, groups, x + (size_t)size * i,
                                                      out + (size_t)size * i);
            i += 32 * groups;
        }
    }
    for (; i < n; i++)
        dropout_one(wk->dtype, fd_keep_bit(words, bit + i), wk->scale, wk->multiply,
                    x + (ptrdiff_t)(sx * (int64_t)i), out + (ptrdiff_t)(so * (int64_t)i));
}

/* Merges dimensions that step through both arrays as one and drops extents of 1; returns ndim. */
static int merge_dimensions(walk *wk, int ndim, const int64_t *shape, const int64_t *xs,
                            const int64_t *os)
{
    int d, n = 0;
    for (d = 0; d < ndim; d++) {
        if (shape[d] == 1) continue;
        if (n > 0 && wk->x_strides[n - 1] == xs[d] * shape[d] &&
            wk->out_strides[n - 1] == os[d] * shape[d]) {
            wk->shape[n - 1] *= shape[d];
            wk->x_strides[n - 1] = xs[d];
            wk->out_strides[n - 1] = os[d];
            continue;
        }
        wk->shape[n] = shape[d];
        wk->x_strides[n] = xs[d];
        wk->out_strides[n] = os[d];
        n++;
    }
    if (n == 0) { /* 0-d, or every extent 1: one element */
        wk->shape[0] = 1;
        wk->x_strides[0] = wk->out_strides[0] = (int64_t)item_size[wk->dtype];
        n = 1;
    }
    return n;
}

/* Element count of a shape, or -1 if an extent is negative or the count passes 2^62. */
static int64_t element_count(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    int d;
    for (d = 0; d < ndim; d++)
        if (shape[d] < 0) return -1; /* anywhere, even after a zero extent */
    for (d = 0; d < ndim; d++)
        if (shape[d] == 0) return 0;
    for (d = 0; d < ndim; d++) {
        if (shape[d] > ((int64_t)1 << 62) / n) return -1;
        n *= shape[d];
    }
    return n;
}

/* One fd_dropout call, as its parts see it. */
typedef struct {
    walk wk;
    const fd_bernoulli *rule;
    const char *x;
    char *out;
    uint8_t *mask;
    uint64_t count;
} dropout_call;

/* Elements [begin, end) of a dropout call in logical C order, begin at a chunk boundary: runs of
 * the innermost dimension, cut where a chunk of keep bits ends; the next chunk's bits are
 * generated then. Byte offsets, not pointers, move along: pointers are formed only for elements
 * that exist. */
static void dropout_part(void *arg, int part, int parts)
{
    const dropout_call *call = (const dropout_call *)arg;
    const walk *wk = &call->wk;
    const int inner = wk->ndim - 1;
    const int64_t size = (int64_t)item_size[wk->dtype];
    const int contiguous = wk->ndim == 1 && wk->x_strides[0] == size && wk->out_strides[0] == size;
    uint32_t words[FD_CHUNK_WORDS];
    int64_t index[FD_MAX_NDIM];
    int64_t x_at = 0, out_at = 0;
    uint64_t done, end, chunk_end, rest;
    int d;

    fd_part_range(call->count, part, parts, &done, &end);
    chunk_end = done;
    for (rest = done, d = inner; d >= 0; d--) { /* the multi-index of element `done` */
        index[d] = (int64_t)(rest % (uint64_t)wk->shape[d]);
        rest /= (uint64_t)wk->shape[d];
        x_at += index[d] * wk->x_strides[d];
        out_at += index[d] * wk->out_strides[d];
    }
    while (done < end) {
        size_t run = (size_t)(wk->shape[inner] - index[inner]);
        size_t bit;
        if (done == chunk_end) {
            const uint64_t first = done / FD_BLOCK_ELEMENTS;
            const uint64_t left = end - done;
            const size_t n = left < FD_CHUNK_ELEMENTS ? (size_t)left : FD_CHUNK_ELEMENTS;
            /* the kernel prefetches the chunk of x these bits are for while it computes them */
            wk->kernels->keep_words(call->rule, first, (size_t)fd_blocks(n), words,
                                    contiguous ? call->x + x_at : NULL, n * (size_t)size);
            chunk_end = done + FD_CHUNK_ELEMENTS;
        }
        if (run > chunk_end - done) run = (size_t)(chunk_end - done);
        if (run > end - done) run = (size_t)(end - done);
        bit = (size_t)(done % FD_CHUNK_ELEMENTS);
        dropout_run(wk, words, bit, run, call->x + x_at, wk->x_strides[inner], call->out + out_at,
                    wk->out_strides[inner]);
        if (call->mask) fd_write_bool_mask(wk->kernels, words, bit, run, call->mask + done);
        done += run;
        /* advance the multi-index and the two offsets past the run */
        index[inner] += (int64_t)run;
        x_at += wk->x_strides[inner] * (int64_t)run;
        out_at += wk->out_strides[inner] * (int64_t)run;
        for (d = inner; d > 0 && index[d] == wk->shape[d]; d--) {
            x_at += wk->x_strides[d - 1] - wk->x_strides[d] * wk->shape[d];
            out_at += wk->out_strides[d - 1] - wk->out_strides[d] * wk->shape[d];
            index[d] = 0;
            index[d - 1]++;
        }
    }
}

fd_status fd_dropout(fd_dtype dtype, const fd_bernoulli *rule, double scale, int ndim,
                     const int64_t *shape, const void *x, const int64_t *x_strides, void *out,
                     const int64_t *out_strides, uint8_t *mask)
{
    dropout_call call;
    int64_t count;
    fd_status status = fd_check_rule(rule);

    if (status != FD_OK) return status;
    if ((unsigned)dtype >= FD_DTYPES) return FD_ERR_DTYPE;
    if (scale != scale) return FD_ERR_SCALE; /* a NaN: x * NaN's payload depends on operand order */
    if (ndim < 0 || ndim > FD_MAX_NDIM) return FD_ERR_NDIM;
    if (ndim > 0 && (!shape || !x_strides || !out_strides)) return FD_ERR_NULL;
    count = element_count(ndim, shape);
    if (count < 0) return FD_ERR_SHAPE;
    if (count == 0) return FD_OK;
    if (!x || !out) return FD_ERR_NULL;

    call.wk.kernels = fd_active_kernels();
    call.wk.dtype = dtype;
    call.wk.scale = scale;
    call.wk.multiply = scale != 1.0;
    call.wk.ndim = merge_dimensions(&call.wk, ndim, shape, x_strides, out_strides);
    call.rule = rule;
    call.x = (const char *)x;
    call.out = (char *)out;
    call.mask = mask;
    call.count = (uint64_t)count;
    /* x == out in place: parts touch disjoint elements. Other overlaps are the caller's. */
    fd_run_split(dropout_part, &call, call.count);
    return FD_OK;
}

const char *fd_status_message(fd_status status)
{
    switch (status) {
    case FD_OK: return "success";
    case FD_ERR_NULL: return "a data pointer is NULL";
    case FD_ERR_NDIM: return "the number of dimensions is negative or above 64";
    case FD_ERR_SHAPE: return "an extent is negative or the array has more than 2**62 elements";
    case FD_ERR_THRESHOLD: return "the keep threshold is above 2**32";
    case FD_ERR_DTYPE: return "the dtype is not float16, float32, float64 or bfloat16";
    case FD_ERR_SIMD: return "unknown SIMD path, or one this CPU cannot run";
    case FD_ERR_SCALE: return "the scale is NaN";
    }
    return "unknown status";
}
