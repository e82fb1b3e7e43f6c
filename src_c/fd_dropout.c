/*
 * Dropout (fd_dropout, fd_dropout_box) and the masks of a box (fd_mask_bool_box,
 * fd_mask_packed_box): the argument checks, the walk over an n-d strided array, or a box of one, in
 * logical C order (fd_box.h) and the windows of keep bits that feed the kernels of the active path
 * (fd_kernels.h); and the small functions of fd_dropout.h around the calls (fd_threshold,
 * fd_blocks, fd_philox4x32_10_many, fd_status_message). The masks of whole calls are in fd_mask.c
 * and the normals in fd_normal.c; what those two share with this file is in fd_drivers.h, and
 * fd_normal_box walks its box as this file does, with fd_box.h.
 */
#include <math.h>

#include "fd_box.h"
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

/* Dropout of one element; used for strided runs and for the ends of contiguous ones. The value is
 * computed whether kept or not, so that keep selects it without a branch (its bits are random). */
static void dropout_one(fd_dtype dtype, int keep, double scale, int multiply, const char *x,
                        char *out)
{
    const float s = (float)scale;
    switch (dtype) {
    case FD_FLOAT16: {
        const uint16_t v = multiply ? fd_f16_scaled_bits(x, s) : fd_load_u16(x);
        fd_store_u16(out, keep ? v : 0);
        break;
    }
    case FD_FLOAT32: {
        const uint32_t v = multiply ? fd_f32_scaled_bits(x, s) : fd_load_u32(x);
        fd_store_u32(out, keep ? v : 0);
        break;
    }
    case FD_FLOAT64: {
        const uint64_t v = multiply ? fd_f64_scaled_bits(x, scale) : fd_load_u64(x);
        fd_store_u64(out, keep ? v : 0);
        break;
    }
    case FD_BFLOAT16: {
        const uint16_t v = multiply ? fd_bf16_scaled_bits(x, s) : fd_load_u16(x);
        fd_store_u16(out, keep ? v : 0);
        break;
    }
    }
}

/* What a walk over a box writes: dropout (with or without the bool mask), or a mask alone. */
typedef enum { WRITE_DROPOUT, WRITE_BOOL, WRITE_PACKED } box_output;

/* One box call, as its parts see it. */
typedef struct {
    const fd_kernels *kernels;
    const fd_bernoulli *rule;
    fd_box_walk box;
    box_output kind;
    fd_dtype dtype;
    double scale;
    int multiply; /* scale != 1: vanilla training and p = 0 copy bits unchanged */
    const char *x;
    char *out;
    uint8_t *mask; /* the bool or packed mask, in the box's C order */
} box_call;

/* Elements of a run of n from bit `bit` of its words before the first whole group of 32. */
static size_t run_head(size_t bit, size_t n)
{
    const size_t head = (32 - bit % 32) % 32;
    return head < n ? head : n;
}

/* Elements [0, n) of one run, whose keep bits start at bit `bit` of words. Whole groups of 32 go
 * to the path's kernels when the run is contiguous, unless `groups_done` (half_dropout_run). */
static void dropout_run(const box_call *call, const uint32_t *words, size_t bit, size_t n,
                        const char *x, int64_t sx, char *out, int64_t so, int groups_done)
{
    const int64_t size = (int64_t)item_size[call->dtype];
    const fd_dtype dtype = call->dtype;
    size_t i = 0;
    if (sx == size && so == size) {
        const size_t head = run_head(bit, n), groups = (n - head) / 32;
        const uint32_t *w = words + (bit + head) / 32;
        for (; i < head; i++)
            dropout_one(dtype, fd_keep_bit(words, bit + i), call->scale, call->multiply,
                        x + (size_t)size * i, out + (size_t)size * i);
        if (groups && !groups_done) {
            if (call->multiply)
                call->kernels->scale_groups[dtype](w, groups, x + (size_t)size * i,
                                                   out + (size_t)size * i, call->scale);
            else
                call->kernels->select_groups[dtype](w, groups, x + (size_t)size * i,
                                                    out + (size_t)size * i);
        }
        i += 32 * groups;
    }
    for (; i < n; i++)
        dropout_one(dtype, fd_keep_bit(words, bit + i), call->scale, call->multiply,
                    x + (ptrdiff_t)(sx * (int64_t)i), out + (ptrdiff_t)(so * (int64_t)i));
}

/* n <= 8 keep bits of words from bit `bit`, as the low bits of the result. */
static unsigned keep_bits(const uint32_t *words, size_t bit, size_t n)
{
    const unsigned shift = (unsigned)(bit % 32);
    uint32_t v = words[bit / 32] >> shift;
    if (shift + n > 32) v |= words[bit / 32 + 1] << (32 - shift);
    return (unsigned)(v & ((1u << n) - 1u));
}

/* Keep bits [bit, bit + n) of words as bits [at, at + n) of the packed mask. The bits below `at`
 * in its byte are an earlier run's of the same part (parts start at whole bytes); bits above the
 * last are cleared. */
static void write_packed_run(const uint32_t *words, size_t bit, size_t n, uint8_t *packed,
                             uint64_t at)
{
    uint8_t *dest = packed + at / 8;
    const unsigned used = (unsigned)(at % 8);
    size_t i = 0, bytes;
    if (used) { /* the rest of a byte begun by the run before */
        i = n < 8 - used ? n : 8 - used;
        *dest++ |= (uint8_t)(keep_bits(words, bit, i) << used);
    }
    bytes = (n - i) / 8;
    if ((bit + i) % 8 == 0 && fd_little_endian()) { /* the words are the bytes */
        memcpy(dest, (const uint8_t *)words + (bit + i) / 8, bytes);
    } else {
        size_t k;
        for (k = 0; k < bytes; k++) dest[k] = (uint8_t)keep_bits(words, bit + i + 8 * k, 8);
    }
    i += 8 * bytes;
    if (i < n) dest[bytes] = (uint8_t)keep_bits(words, bit + i, n - i);
}

/* The keep bits of blocks [window, window_end) into words, for the box's elements from `done`
 * (logical index `logical`, byte offset `at` in x) on: the kernel prefetches what is read or
 * written next (x when the walk is contiguous, else the mask) while it computes the bits. */
static void fill_window(const box_call *call, uint64_t window, uint64_t window_end,
                        uint64_t logical, uint64_t done, uint64_t end, int64_t at, int contiguous,
                        uint32_t *words)
{
    const char *next = NULL;
    size_t next_bytes = (size_t)(window_end * FD_BLOCK_ELEMENTS - logical);
    if (next_bytes > end - done) next_bytes = (size_t)(end - done);
    if (call->kind == WRITE_DROPOUT) {
        next = contiguous ? call->x + at : NULL;
        next_bytes *= item_size[call->dtype];
    } else if (call->kind == WRITE_BOOL) {
        next = (const char *)call->mask + done;
    } else {
        next = (const char *)call->mask + done / 8;
        next_bytes = (next_bytes + 7) / 8;
    }
    call->kernels->keep_words(call->rule, window, (size_t)(window_end - window), words, next,
                              next_bytes);
}

/* A run of n elements from the box's element `done` (byte offsets at0 in x, at1 in out, steps
 * sx and so), whose keep bits start at bit `bit` of words. */
static inline void write_run(const box_call *call, const uint32_t *words, size_t bit, size_t n,
                             uint64_t done, int64_t at0, int64_t at1, int64_t sx, int64_t so)
{
    if (call->kind == WRITE_DROPOUT) {
        dropout_run(call, words, bit, n, call->x + at0, sx, call->out + at1, so, 0);
        if (call->mask) fd_write_bool_mask(call->kernels, words, bit, n, call->mask + done);
    } else if (call->kind == WRITE_BOOL) {
        fd_write_bool_mask(call->kernels, words, bit, n, call->mask + done);
    } else {
        write_packed_run(words, bit, n, call->mask, done);
    }
}

/* Elements from which a call's float32 x streams from beyond L2 (4 MiB). */
#define FD_STREAM_ELEMENTS ((uint64_t)1 << 20)

/* Whether a one-run walk's windows go to the path's half_dropout_32: contiguous float32 dropout
 * at p = 0.5 without a mask (on the AVX2 path of a Zen 4, 1-15% faster than the bits and the
 * pass apart from 2^14 to 2^24 elements; BENCHMARKS.md §2). Its windows are a whole piece of a
 * call (FD_HALF_WINDOW_BLOCKS): the longer the pass, the less of it waits for its first bits or
 * applies its last ones alone (64-block windows were 5-10% slower). */
#define FD_HALF_WINDOW_BLOCKS (FD_PIECE_ELEMENTS / FD_BLOCK_ELEMENTS)
#if FD_HALF_WINDOW_BLOCKS < FD_CHUNK_BLOCKS
#error "box_part's words must hold a chunk's"
#endif
static int half_dropout_fits(const box_call *call, int contiguous)
{
    return call->kernels->half_dropout_32 && call->kind == WRITE_DROPOUT && !call->mask &&
           contiguous && call->box.logical[0] == 1 && call->dtype == FD_FLOAT32 &&
           call->rule->threshold == FD_THRESHOLD_ONE / 2;
}

/* Blocks of keep bits a window holds. The pass over x pauses while a window's bits are made:
 * with many planes the kernel prefetches x meanwhile, but a rule of few planes (fd_few_planes)
 * makes them too quickly for that. Where float32 x streams from beyond L2, half windows keep
 * the stream going (p = 0.25, 0.5 and 0.75, 2^20 to 2^24 elements: 0-16% faster). float64 x
 * of 32 MiB or more, twice the bytes a window, keeps streaming in quarter windows even behind
 * many planes (p = 0.1, 2^22 to 2^24 elements: 2-16% faster; slower below). BENCHMARKS.md §2.
 * half_dropout_32 takes windows of a whole piece. */
static uint64_t window_blocks(const box_call *call, int contiguous)
{
    if (half_dropout_fits(call, contiguous)) return FD_HALF_WINDOW_BLOCKS;
    if (call->dtype == FD_FLOAT32 && fd_few_planes(call->rule) &&
        call->box.count >= FD_STREAM_ELEMENTS)
        return FD_CHUNK_BLOCKS / 2;
    if (call->dtype == FD_FLOAT64 && !fd_few_planes(call->rule) &&
        call->box.count >= 4 * FD_STREAM_ELEMENTS)
        return FD_CHUNK_BLOCKS / 4;
    return FD_CHUNK_BLOCKS;
}

/* fill_window and write_run of a window in one pass (half_dropout_fits): the kernel makes the
 * keep words and applies the run's whole groups meanwhile, dropout_run the elements around them. */
static void half_dropout_run(const box_call *call, uint64_t window, uint64_t window_end, size_t bit,
                             size_t run, int64_t at0, int64_t at1, uint32_t *words)
{
    const size_t head = run_head(bit, run);
    call->kernels->half_dropout_32(call->rule, window, (size_t)(window_end - window), words,
                                   (bit + head) / 32, (run - head) / 32, call->x + at0 + 4 * head,
                                   call->out + at1 + 4 * head, call->scale, call->multiply);
    dropout_run(call, words, bit, run, call->x + at0, 4, call->out + at1, 4, 1);
}

/* Elements [begin, end) of a box call in the box's C order, begin at a chunk boundary: runs, cut
 * where a window of keep bits ends; the next window's bits are generated then (fd_box.h). Byte
 * offsets, not pointers, move along: pointers are formed only for elements that exist. */
static void box_part(void *arg, int part, int parts)
{
    const box_call *call = (const box_call *)arg;
    const fd_box_walk *w = &call->box;
    const int inner = w->ndim - 1;
    const int64_t size = (int64_t)item_size[call->dtype];
    const int64_t sx = w->strides[0][inner], so = w->strides[1][inner];
    const int contiguous = w->ndim == 1 && sx == size && so == size;
    uint32_t words[4 * FD_HALF_WINDOW_BLOCKS]; /* a window's: half_dropout_32's are the longest */
    uint64_t window = 0, window_end = 0; /* the blocks whose keep bits words holds */
    uint64_t begin, end, limit;
    fd_box_cursor cur;

    fd_part_range(w->count, part, parts, &begin, &end);
    if (begin >= end) return;
    limit = window_blocks(call, contiguous);
    if (w->ndim == 1 && w->logical[0] == 1) { /* one run (a whole array, whole rows): windows */
        const int half = half_dropout_fits(call, contiguous);
        uint64_t done = begin, logical = w->first + begin;
        int64_t at0 = (int64_t)begin * sx, at1 = (int64_t)begin * so;
        while (done < end) {
            const size_t bit = (size_t)(logical % FD_BLOCK_ELEMENTS);
            size_t run;
            window = logical / FD_BLOCK_ELEMENTS;
            window_end = (logical + (end - done) - 1) / FD_BLOCK_ELEMENTS + 1;
            if (window_end > window + limit) window_end = window + limit;
            run = (size_t)(window_end * FD_BLOCK_ELEMENTS - logical);
            if (run > end - done) run = (size_t)(end - done);
            if (half) {
                half_dropout_run(call, window, window_end, bit, run, at0, at1, words);
            } else {
                fill_window(call, window, window_end, logical, done, end, at0, contiguous, words);
                write_run(call, words, bit, run, done, at0, at1, sx, so);
            }
            done += run;
            logical += run;
            at0 += sx * (int64_t)run;
            at1 += so * (int64_t)run;
        }
        return;
    }
    fd_box_seek(w, &cur, begin);
    while (cur.done < end) {
        size_t run = fd_box_run(w, &cur, end);
        const uint64_t block = cur.logical / FD_BLOCK_ELEMENTS;
        if (block >= window_end) { /* logical indices only grow along a walk */
            window = block;
            window_end = fd_box_window_end(w, &cur, run, end, limit);
            fill_window(call, window, window_end, cur.logical, cur.done, end, cur.at[0],
                        contiguous, words);
        }
        if (run > window_end * FD_BLOCK_ELEMENTS - cur.logical)
            run = (size_t)(window_end * FD_BLOCK_ELEMENTS - cur.logical);
        write_run(call, words, (size_t)(cur.logical - window * FD_BLOCK_ELEMENTS), run, cur.done,
                  cur.at[0], cur.at[1], sx, so);
        fd_box_advance(w, &cur, run);
    }
}

/* The checks every box call makes, in order, and its walk; FD_OK with count 0: nothing to do. */
static fd_status prepare_box(box_call *call, const fd_bernoulli *rule, const fd_box *box,
                             const int64_t *x_strides, const int64_t *out_strides)
{
    fd_status status = fd_check_rule(rule);
    if (status != FD_OK) return status;
    if (box && box->ndim > 0 && box->ndim <= FD_MAX_NDIM && call->kind == WRITE_DROPOUT &&
        (!x_strides || !out_strides))
        return FD_ERR_NULL;
    status = fd_box_prepare(&call->box, box, x_strides, out_strides,
                            (int64_t)item_size[call->dtype]);
    call->kernels = fd_active_kernels();
    call->rule = rule;
    return status;
}

fd_status fd_dropout_box(fd_dtype dtype, const fd_bernoulli *rule, double scale, const fd_box *box,
                         const void *x, const int64_t *x_strides, void *out,
                         const int64_t *out_strides, uint8_t *mask)
{
    box_call call;
    fd_status status = fd_check_rule(rule);
    if (status != FD_OK) return status;
    if ((unsigned)dtype >= FD_DTYPES) return FD_ERR_DTYPE;
    if (scale != scale) return FD_ERR_SCALE; /* a NaN: x * NaN's payload depends on operand order */
    call.kind = WRITE_DROPOUT;
    call.dtype = dtype;
    status = prepare_box(&call, rule, box, x_strides, out_strides);
    if (status != FD_OK || call.box.count == 0) return status;
    if (!x || !out) return FD_ERR_NULL;
    call.scale = scale;
    call.multiply = scale != 1.0;
    call.x = (const char *)x;
    call.out = (char *)out;
    call.mask = mask;
    /* x == out in place: parts touch disjoint elements. Other overlaps are the caller's. */
    fd_run_split(box_part, &call, call.box.count);
    return FD_OK;
}

fd_status fd_dropout(fd_dtype dtype, const fd_bernoulli *rule, double scale, int ndim,
                     const int64_t *shape, const void *x, const int64_t *x_strides, void *out,
                     const int64_t *out_strides, uint8_t *mask)
{
    static const int64_t origin[FD_MAX_NDIM] = {0};
    fd_box whole;
    whole.ndim = ndim;
    whole.global = whole.shape = shape;
    whole.start = origin;
    return fd_dropout_box(dtype, rule, scale, &whole, x, x_strides, out, out_strides, mask);
}

static fd_status mask_box(const fd_bernoulli *rule, const fd_box *box, uint8_t *dest,
                          box_output kind)
{
    box_call call;
    fd_status status;
    call.kind = kind;
    call.dtype = FD_FLOAT16; /* unused */
    status = prepare_box(&call, rule, box, NULL, NULL);
    if (status != FD_OK || call.box.count == 0) return status;
    if (!dest) return FD_ERR_NULL;
    call.x = NULL;
    call.out = NULL;
    call.mask = dest;
    fd_run_split(box_part, &call, call.box.count);
    return FD_OK;
}

fd_status fd_mask_bool_box(const fd_bernoulli *rule, const fd_box *box, uint8_t *mask)
{
    return mask_box(rule, box, mask, WRITE_BOOL);
}

fd_status fd_mask_packed_box(const fd_bernoulli *rule, const fd_box *box, uint8_t *packed)
{
    return mask_box(rule, box, packed, WRITE_PACKED);
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
    case FD_ERR_BOX: return "a box starts before its array or ends beyond it";
    }
    return "unknown status";
}
