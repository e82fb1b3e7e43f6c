/*
 * The drivers of fd_dropout.h: argument checks, the walk over an n-d strided array in logical
 * C order, and the chunking that feeds the kernels of the active path (fd_kernels.h).
 */
#include <math.h>

#include "fd_kernels.h"
#include "fd_philox.h"
#include "fd_threads.h"

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

static const size_t item_size[3] = {2, 4, 8};

static int keep_bit(const uint32_t *words, size_t i) { return (words[i / 32] >> (i % 32)) & 1u; }

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
            dropout_one(wk->dtype, keep_bit(words, bit + i), wk->scale, wk->multiply,
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
        dropout_one(wk->dtype, keep_bit(words, bit + i), wk->scale, wk->multiply,
                    x + (ptrdiff_t)(sx * (int64_t)i), out + (ptrdiff_t)(so * (int64_t)i));
}

/* Writes keep bits [bit, bit + n) of words as bytes 0/1, whole words through the kernels. */
static void write_bool_mask(const fd_kernels *kernels, const uint32_t *words, size_t bit, size_t n,
                            uint8_t *mask)
{
    size_t i = 0;
    for (; i < n && (bit + i) % 32 != 0; i++) mask[i] = (uint8_t)keep_bit(words, bit + i);
    if (n - i >= 32) {
        size_t groups = (n - i) / 32;
        kernels->bool_groups(words + (bit + i) / 32, groups, mask + i);
        i += 32 * groups;
    }
    for (; i < n; i++) mask[i] = (uint8_t)keep_bit(words, bit + i);
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

static fd_status check_rule(const fd_bernoulli *rule)
{
    if (!rule) return FD_ERR_NULL;
    return rule->threshold > FD_THRESHOLD_ONE ? FD_ERR_THRESHOLD : FD_OK;
}

/* chunks * part / parts, exactly: the product itself passes 2^64 for calls of 2^61 elements. */
static uint64_t share(uint64_t chunks, int part, int parts)
{
    const uint64_t whole = chunks / (uint64_t)parts, rest = chunks % (uint64_t)parts;
    return whole * (uint64_t)part + rest * (uint64_t)part / (uint64_t)parts;
}

/* Element range [begin, end) of piece `part` of `parts`, cut at chunk boundaries. */
static void part_range(uint64_t count, int part, int parts, uint64_t *begin, uint64_t *end)
{
    const uint64_t chunks = count / FD_CHUNK_ELEMENTS + (count % FD_CHUNK_ELEMENTS != 0);
    *begin = share(chunks, part, parts) * FD_CHUNK_ELEMENTS;
    *end = share(chunks, part + 1, parts) * FD_CHUNK_ELEMENTS;
    if (*begin > count) *begin = count;
    if (*end > count) *end = count;
}

/*
 * How fd_run_parts splits a call of count elements: a thread per FD_MIN_PART_ELEMENTS at most,
 * so small calls stay whole, on the caller; pieces of FD_PIECE_ELEMENTS (4 chunks), which the
 * threads take in turn: a helper that wakes late, or runs on a busy core, takes fewer.
 */
#define FD_PIECE_ELEMENTS (1 << 15)
#define FD_MAX_PIECES 65536
static void run_split(fd_part_fn fn, void *arg, uint64_t count)
{
    const uint64_t threads = count / FD_MIN_PART_ELEMENTS, pieces = count / FD_PIECE_ELEMENTS;
    if (threads < 2)
        fn(arg, 0, 1);
    else
        fd_run_parts(fn, arg, pieces > FD_MAX_PIECES ? FD_MAX_PIECES : (int)pieces,
                     threads > FD_MAX_THREADS ? FD_MAX_THREADS : (int)threads);
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

    part_range(call->count, part, parts, &done, &end);
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
        if (call->mask) write_bool_mask(wk->kernels, words, bit, run, call->mask + done);
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
    fd_status status = check_rule(rule);

    if (status != FD_OK) return status;
    if ((unsigned)dtype > FD_FLOAT64) return FD_ERR_DTYPE;
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
    run_split(dropout_part, &call, call.count);
    return FD_OK;
}

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
    part_range(call->count, part, parts, &first, &end);
    for (; first < end; first += FD_CHUNK_ELEMENTS) {
        const uint64_t left = end - first;
        const size_t len = left < FD_CHUNK_ELEMENTS ? (size_t)left : FD_CHUNK_ELEMENTS;
        /* the kernel prefetches the chunk's mask bytes while it computes them: the stores that
         * follow then hit the cache instead of waiting on each line */
        call->kernels->keep_words(call->rule, first / FD_BLOCK_ELEMENTS, (size_t)fd_blocks(len),
                                  words, (const char *)call->dest + first / call->per_byte,
                                  (len + call->per_byte - 1) / call->per_byte);
        call->emit(call->kernels, words, first, len, call->dest);
    }
}

static fd_status write_mask(const fd_bernoulli *rule, uint64_t n, uint8_t *dest, chunk_writer emit,
                            size_t per_byte)
{
    mask_call call;
    fd_status status = check_rule(rule);
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
    run_split(mask_part, &call, n);
    return FD_OK;
}

static void emit_bool(const fd_kernels *kernels, const uint32_t *words, uint64_t first, size_t n,
                      uint8_t *mask)
{
    write_bool_mask(kernels, words, 0, n, mask + first);
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

/*
 * Box-Muller in plain arithmetic. The logarithm and the sine and cosine are Taylor series on
 * reduced ranges (truncation below 2^-54, so a few ulps of rounding in all), written with + - * /
 * and sqrt only: IEEE arithmetic makes them the same bits on every platform (the C library's
 * differ between platforms, and cos(2 pi u) of the textbook formula loses digits near its zeros).
 * The Philox rounds over a block's 64 pairs vectorise; the math is branch-free, but GCC does not
 * yet vectorise it (32/64-bit conversions of mixed widths). Nothing may fuse a * b + c into
 * an FMA (that rounds once instead of twice): setup.py passes -ffp-contract=off, the pragma
 * tells Clang too, and MSVC does not contract under its default /fp:precise.
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define PAIRS_PER_BLOCK (FD_BLOCK_ELEMENTS / 2)

/* ln u for u in (0, 1] with 53-bit mantissa: u = m 2^e with m in [sqrt(1/2), sqrt(2)), and
 * ln m = 2 atanh(s) = 2 (s + s^3/3 + ... + s^19/19) with s = (m - 1) / (m + 1), |s| < 0.172. */
static double log_unit(double u)
{
    static const double ln2_high = 0.6931467056274414; /* ln 2 to 20 bits: e * ln2_high is exact */
    static const double ln2_low = 4.7493250390316726e-07; /* ln 2 - ln2_high */
    uint64_t bits;
    double m, s, s2, series;
    int32_t e, big;
    memcpy(&bits, &u, sizeof bits);
    e = (int32_t)(bits >> 52) - 1023;
    bits = (bits & 0x000fffffffffffffu) | 0x3ff0000000000000u; /* m in [1, 2) */
    memcpy(&m, &bits, sizeof m);
    big = m > 1.4142135623730951;
    m = big ? 0.5 * m : m;
    e += big;
    s = (m - 1.0) / (m + 1.0); /* m - 1 is exact */
    s2 = s * s;
    series = 0.10526315789473684;
    series = 0.11764705882352941 + s2 * series;
    series = 0.13333333333333333 + s2 * series;
    series = 0.15384615384615385 + s2 * series;
    series = 0.18181818181818182 + s2 * series;
    series = 0.22222222222222222 + s2 * series;
    series = 0.2857142857142857 + s2 * series;
    series = 0.4 + s2 * series;
    series = 0.6666666666666666 + s2 * series; /* 2/3 + 2/5 s^2 + ... + 2/19 s^16 */
    return (double)e * ln2_high + ((double)e * ln2_low + (2.0 * s + s * (s2 * series)));
}

/* sin and cos of 2 pi t for t = k / 2^53 in [0, 1): quadrant q and fraction f of 4t are exact;
 * the angle a = min(f, 1 - f) pi/2 lies in [0, pi/4], where sin a to a^15/15! and cos a to
 * a^16/16! are exact to 2^-54; the octant and quadrant symmetries give the rest. */
static void sincos_turns(double t, double *sine, double *cosine)
{
    const double t4 = 4.0 * t;
    const int q = (int)t4;
    const double f = t4 - (double)q;
    const int flip = f > 0.5;
    const double a = (flip ? 1.0 - f : f) * 1.5707963267948966, a2 = a * a;
    double sin_a = -7.647163731819816e-13, cos_a = 4.779477332387385e-14, s, c;
    sin_a = 1.6059043836821613e-10 + a2 * sin_a;
    sin_a = -2.505210838544172e-08 + a2 * sin_a;
    sin_a = 2.7557319223985893e-06 + a2 * sin_a;
    sin_a = -0.0001984126984126984 + a2 * sin_a;
    sin_a = 0.008333333333333333 + a2 * sin_a;
    sin_a = -0.16666666666666666 + a2 * sin_a;
    sin_a = a + a * (a2 * sin_a);
    cos_a = -1.1470745597729725e-11 + a2 * cos_a;
    cos_a = 2.08767569878681e-09 + a2 * cos_a;
    cos_a = -2.755731922398589e-07 + a2 * cos_a;
    cos_a = 2.48015873015873e-05 + a2 * cos_a;
    cos_a = -0.001388888888888889 + a2 * cos_a;
    cos_a = 0.041666666666666664 + a2 * cos_a;
    cos_a = -0.5 + a2 * cos_a;
    cos_a = 1.0 + a2 * cos_a;
    s = flip ? cos_a : sin_a; /* sin and cos of f pi/2 */
    c = flip ? sin_a : cos_a;
    *sine = (q & 2 ? -1.0 : 1.0) * (q & 1 ? c : s); /* rotate by q quarter turns */
    *cosine = ((q + 1) & 2 ? -1.0 : 1.0) * (q & 1 ? s : c);
}

/* The top 53 bits of the 64-bit number high:low, exactly, from 32-bit conversions (SSE2 and NEON
 * vectorise those; a 64-bit integer to double conversion needs AVX-512). */
static double top53(uint32_t high, uint32_t low)
{
    const uint32_t upper = high >> 11, lower = high << 21 | low >> 11;
    const double lower_value = (double)(int32_t)(lower ^ 0x80000000u) + 2147483648.0;
    return (double)(int32_t)upper * 4294967296.0 + lower_value;
}

/* The 128 variates of counter block `counter` (fd_dropout.h): Philox at c3 = 64 .. 127 for the
 * 64 pairs, as lanes that the compiler vectorises. */
static void normal_block(uint64_t key, uint64_t counter, uint64_t offset, double *z)
{
    uint32_t x0[PAIRS_PER_BLOCK], x1[PAIRS_PER_BLOCK], x2[PAIRS_PER_BLOCK], x3[PAIRS_PER_BLOCK];
    int j;
    for (j = 0; j < PAIRS_PER_BLOCK; j++) {
        x0[j] = (uint32_t)counter;
        x1[j] = (uint32_t)(counter >> 32);
        x2[j] = counter < offset; /* carry into the third word */
        x3[j] = 64u + (uint32_t)j;
    }
    fd_philox_lanes(PAIRS_PER_BLOCK, x0, x1, x2, x3, key);
    for (j = 0; j < PAIRS_PER_BLOCK; j++) {
        static const double two_to_minus_53 = 1.0 / 9007199254740992.0;
        const double u1 = (top53(x1[j], x0[j]) + 1.0) * two_to_minus_53;
        const double u2 = top53(x3[j], x2[j]) * two_to_minus_53;
        const double radius = sqrt(-2.0 * log_unit(u1));
        double sine, cosine;
        sincos_turns(u2, &sine, &cosine);
        z[2 * j] = radius * cosine;
        z[2 * j + 1] = radius * sine;
    }
}

/* One normal call, as its parts see it. */
typedef struct {
    uint64_t key, offset, count;
    fd_dtype dtype;
    char *out;
} normal_call;

static void normal_part(void *arg, int part, int parts)
{
    const normal_call *call = (const normal_call *)arg;
    double z[FD_BLOCK_ELEMENTS];
    float z32[FD_BLOCK_ELEMENTS];
    uint64_t i, end;
    part_range(call->count, part, parts, &i, &end);
    for (; i < end; i += FD_BLOCK_ELEMENTS) { /* parts start at block boundaries */
        const uint64_t left = end - i;
        const size_t n = left < FD_BLOCK_ELEMENTS ? (size_t)left : FD_BLOCK_ELEMENTS;
        size_t j;
        normal_block(call->key, call->offset + i / FD_BLOCK_ELEMENTS, call->offset, z);
        if (call->dtype == FD_FLOAT64) {
            memcpy(call->out + 8 * i, z, 8 * n);
        } else {
            for (j = 0; j < n; j++) z32[j] = (float)z[j];
            memcpy(call->out + 4 * i, z32, 4 * n);
        }
    }
}

fd_status fd_normal(uint64_t key, uint64_t offset, uint64_t n, fd_dtype dtype, void *out)
{
    normal_call call;
    if (dtype != FD_FLOAT32 && dtype != FD_FLOAT64) return FD_ERR_DTYPE;
    if (n > ((uint64_t)1 << 62)) return FD_ERR_SHAPE;
    if (n == 0) return FD_OK;
    if (!out) return FD_ERR_NULL;
    call.key = key;
    call.offset = offset;
    call.count = n;
    call.dtype = dtype;
    call.out = (char *)out;
    run_split(normal_part, &call, n);
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
    case FD_ERR_DTYPE: return "the dtype is not float16, float32 or float64";
    case FD_ERR_SIMD: return "unknown SIMD path, or one this CPU cannot run";
    case FD_ERR_SCALE: return "the scale is NaN";
    }
    return "unknown status";
}
