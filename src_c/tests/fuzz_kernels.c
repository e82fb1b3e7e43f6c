/*
 * Coverage-guided fuzzer of the C core (clang libFuzzer + ASan + UBSan); .ci/fuzz_c builds and runs it.
 *
 * Each input decodes into one call (bytes past the end of the input read as 0): fd_dropout of any
 * dtype (0 .. 4 dimensions, now and then up to 64 or an invalid count; small extents, 0 included,
 * now and then long ones; byte strides of any sign, zero and odd ones included; in place or not;
 * with or without a mask), fd_mask_bool, fd_mask_packed, fd_normal, fd_threshold, or one of the box
 * calls (fd_dropout_box, fd_mask_bool_box, fd_mask_packed_box, fd_normal_box: a box of 0 .. 4
 * dimensions anywhere in an array, now and then outside it). Key, offset
 * (near 2^32 and 2^64 - 1 too), threshold (0, 2^32, invalid ones above) and scale (NaN, inf,
 * negative zero ...) come from the input, as do faults: NULL pointers, bad dtypes, bad shapes.
 * Arrays get exactly the bytes their strides reach, so ASan sees any access outside them.
 *
 * Oracles besides "no crash, no sanitizer report":
 *  - every kernel path this CPU runs and the input's thread count give the bytes of the scalar
 *    path on one thread (a few dropout and mask inputs are big enough for the pool to split);
 *  - fd_dropout keeps element i iff byte i of fd_mask_bool is 1 (and its mask output is that
 *    mask): a kept element is x * scale, computed here (float16 and bfloat16 through this file's
 *    own conversions), a dropped one +0.0; bytes that no element occupies are untouched, and so is x;
 *  - masks: the packed mask is the bool mask bit for bit, its unused high bits 0; threshold 0 drops
 *    and 2^32 keeps every element; a call split at a block boundary into two calls (the second
 *    at offset + fd_blocks of the first) gives the same mask: the determinism rule;
 *  - fd_normal: float32 is the float64 result rounded once, |z| <= sqrt(-2 ln 2^-53), split calls
 *    agree;
 *  - fd_threshold: 2^32 - round(p 2^32) for p in (0, 1), 2^32 for p <= 0 and NaN, 0 for p >= 1,
 *    and never larger for a larger p;
 *  - a box gets, element for element, what the whole array's call (fd_mask_bool, fd_normal) gives
 *    the elements' indices in the whole array: dropout keeps the whole mask's elements (x * scale,
 *    as above), the masks are its bits, the normals its variates, on every path and thread count;
 *  - invalid arguments return one of the errors they warrant and write nothing.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fd_dropout.h"
#include "box_element.h"

#define MAX_ELEMENTS 65536 /* per ordinary input: keeps exec/s high */
#define MAX_PATHS 8
#define DUMMY_BYTES 64 /* buffers of calls whose shape is invalid: nothing may touch them */
#define MAX_ABS_NORMAL 8.5716 /* sqrt(-2 ln 2^-53), the largest radius of fd_normal */
/* Elements of a big input: two parts for the pool, the second cut short. Big inputs are slow
 * under the sanitizers, so they are rare and of fixed sizes (sizes would be new coverage). */
#define BIG_ELEMENTS (2 * (uint64_t)FD_MIN_PART_ELEMENTS + 77)
#define BIG_COLUMNS 256

enum { OP_DROPOUT, OP_MASK_BOOL, OP_MASK_PACKED, OP_NORMAL, OP_THRESHOLD, OP_BOX, N_OPS };
/* What an OP_BOX input computes for its box: dropout of a dtype, a mask or normals. */
enum { BOX_DROPOUT_F16, BOX_DROPOUT_F32, BOX_DROPOUT_F64, BOX_BOOL, BOX_PACKED, BOX_NORMAL_F32,
       BOX_NORMAL_F64, N_BOX_KINDS };
enum { NO_FAULT, NULL_RULE, NULL_X, NULL_OUT, NULL_SHAPE, NULL_X_STRIDES, NULL_OUT_STRIDES };

typedef struct {
    int op, dtype, ndim, in_place, with_mask, threads, path, big;
    int fault;
    int64_t shape[FD_MAX_NDIM], x_strides[FD_MAX_NDIM], out_strides[FD_MAX_NDIM];
    int64_t global[FD_MAX_NDIM], start[FD_MAX_NDIM]; /* OP_BOX: the whole array, the box's start */
    int box_kind;
    fd_bernoulli rule;
    double scale; /* fd_dropout's scale, or fd_threshold's p */
    uint64_t n;   /* elements of a mask or normal call */
    unsigned x_misalign, out_misalign, split;
    uint64_t seed; /* of the array contents */
} fuzz_case;

static const char *paths[MAX_PATHS]; /* what this CPU runs; "scalar" is always among them */
static int n_paths;
static char path_list[64];

/* What a failure report prints: the decoded case and the call being checked. */
static const fuzz_case *current;
static const char *current_path = "scalar";
static int current_threads = 1;

static void describe(void)
{
    const fuzz_case *c = current;
    int d;
    fprintf(stderr, "op %d dtype %d ndim %d fault %d in_place %d mask %d big %d path %s threads %d\n",
            c->op, c->dtype, c->ndim, c->fault, c->in_place, c->with_mask, c->big, current_path,
            current_threads);
    fprintf(stderr, "key %#llx offset %#llx threshold %#llx scale/p %a n %llu\n",
            (unsigned long long)c->rule.key, (unsigned long long)c->rule.offset,
            (unsigned long long)c->rule.threshold, c->scale, (unsigned long long)c->n);
    for (d = 0; d < c->ndim && d < FD_MAX_NDIM; d++)
        fprintf(stderr, "  dim %d: extent %lld x stride %lld out stride %lld\n", d,
                (long long)c->shape[d], (long long)c->x_strides[d], (long long)c->out_strides[d]);
}

#define EXPECT(cond)                                                                     \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "fuzz_kernels.c:%d: expected %s\n", __LINE__, #cond);        \
            describe();                                                                  \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* ---- decoding ---------------------------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t n;
} reader;

static unsigned take8(reader *r)
{
    if (r->n == 0) return 0;
    r->n--;
    return *r->p++;
}

static unsigned take16(reader *r)
{
    unsigned high = take8(r);
    return high << 8 | take8(r);
}

static uint64_t take64(reader *r)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++) v = v << 8 | take8(r);
    return v;
}

static double take_double(reader *r)
{
    uint64_t bits = take64(r);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static uint64_t decode_offset(reader *r)
{
    switch (take8(r) % 4) {
    case 0: return take8(r);
    case 1: return ((uint64_t)1 << 32) - 256 + take8(r); /* c0 wraps into c1 */
    case 2: return UINT64_MAX - take16(r) % 1024;        /* the carry into c2 */
    default: return take64(r);
    }
}

static uint64_t decode_threshold(reader *r)
{
    switch (take8(r) % 8) {
    case 0: return 0;
    case 1: return FD_THRESHOLD_ONE;
    case 2: return FD_THRESHOLD_ONE + 1 + take8(r); /* invalid */
    case 3: return UINT64_MAX - take8(r);           /* invalid */
    case 4: return (uint32_t)take64(r);
    case 5: return fd_threshold(take16(r) / 65536.0);
    case 6: { /* T's lowest set bit sets the planes needed; below bit 24 the ties need theirs */
        const uint32_t t = (uint32_t)take64(r) | 1u;
        return (uint32_t)(t << (take8(r) % 32));
    }
    default: /* a power of two, or one either side */
        return ((uint64_t)1 << (take8(r) % 33)) + take8(r) % 3 - 1;
    }
}

static double decode_scale(reader *r, uint64_t threshold)
{
    static const double special[] = {1e-40, 1e300, -1e300, INFINITY, -INFINITY, NAN, FLT_MAX,
                                     65504.0, 5.960464477539063e-08, DBL_MIN, 4.9406564584124654e-324};
    switch (take8(r) % 8) {
    case 0: return 1.0; /* copies kept elements bit for bit */
    case 1: return take_double(r);
    case 2: return threshold ? 4294967296.0 / (double)threshold : 0.0; /* 1 / (1 - p) */
    case 3: return 0.0;
    case 4: return -0.0;
    case 5: return ((int)take8(r) - 128) / 8.0;
    case 6: return nextafter(1.0, take8(r) & 1 ? 2.0 : 0.0);
    default: return special[take8(r) % (sizeof special / sizeof *special)];
    }
}

static int decode_ndim(reader *r)
{
    const unsigned b = take8(r) % 32;
    if (b < 26) return (int)(b % 5);
    if (b < 28) return 5 + (int)(take8(r) % 60); /* 5 .. 64, mostly extents of 1 then */
    if (b == 28) return -1;
    if (b == 29) return FD_MAX_NDIM + 1;
    return b == 30 ? INT_MIN : INT_MAX;
}

static int64_t decode_extent(reader *r, int ndim)
{
    const unsigned b = take8(r);
    if (b < 200) return ndim > 4 && b < 180 ? 1 : b % 40;
    if (b < 240) return 1 + take16(r) % 20000; /* long runs: several chunks, their ends */
    if (b < 248) return 1;
    if (b < 252) return -1 - (int64_t)take8(r);                 /* invalid */
    if (b < 254) return (int64_t)1 << (31 + take8(r) % 32);     /* huge: overflow, or shrunk */
    return b == 254 ? INT64_MAX : INT64_MIN;
}

/* Element count, or -1 for a negative extent or more than 2^62 elements (fd_dropout's rule),
 * written apart from the core's: exact 128-bit products instead of its division test. */
static int64_t element_count(int ndim, const int64_t *shape)
{
    unsigned __int128 n = 1;
    int d, zero = 0;
    for (d = 0; d < ndim; d++) {
        if (shape[d] < 0) return -1;
        zero |= shape[d] == 0;
    }
    if (zero) return 0;
    for (d = 0; d < ndim; d++) {
        n *= (uint64_t)shape[d]; /* n <= 2^62 before, so no wrap */
        if (n > (unsigned __int128)1 << 62) return -1;
    }
    return (int64_t)n;
}

/* Halves the longest extents of a valid shape until it has at most `cap` elements. */
static void shrink_shape(int ndim, int64_t *shape, int64_t cap)
{
    while (element_count(ndim, shape) > cap) {
        int d, longest = 0;
        for (d = 1; d < ndim; d++)
            if (shape[d] > shape[longest]) longest = d;
        shape[longest] /= 2;
    }
}

static size_t item_size(int dtype)
{
    return dtype == FD_FLOAT32 ? 4 : dtype == FD_FLOAT64 ? 8 : 2; /* float16, bfloat16 */
}

/* Byte strides of one array: C order (forwards, backwards, padded), Fortran order, zero, odd
 * packing, or per dimension from the input (raw byte strides or small multiples of C order's). */
static void decode_strides(reader *r, int ndim, const int64_t *shape, size_t size,
                           int64_t *strides)
{
    const unsigned layout = take8(r) % 8;
    int64_t c_order = (int64_t)size, odd = (int64_t)size + 1, fortran = (int64_t)size;
    int d;
    for (d = ndim - 1; d >= 0; d--) {
        switch (layout) {
        case 0: strides[d] = c_order; break;
        case 1: strides[d] = -c_order; break;
        case 2: strides[d] = 2 * c_order; break;
        case 3: break; /* Fortran order: below */
        case 4:
        case 5: {
            const int v = (int8_t)take8(r);
            strides[d] = v % 4 == 0 ? c_order * (v / 4 % 4) : v;
            break;
        }
        case 6: strides[d] = 0; break;
        default: strides[d] = odd; odd *= shape[d];
        }
        c_order *= shape[d];
    }
    if (layout == 3)
        for (d = 0; d < ndim; d++) {
            strides[d] = fortran;
            fortran *= shape[d];
        }
}

static int decode_fault(reader *r)
{
    const unsigned b = take8(r);
    return b < 236 ? NO_FAULT : (int)(b - 236) % 7;
}

static void decode(reader *r, fuzz_case *c)
{
    const unsigned op = take8(r);
    int d;
    memset(c, 0, sizeof *c);
    /* dropout half as often again as the others, and the boxes as often */
    c->op = (int)(op % 6 == 5 ? (op < 125 ? OP_DROPOUT : OP_BOX) : op % 6);
    c->big = op >= 250 && c->op != OP_NORMAL && c->op != OP_THRESHOLD && c->op != OP_BOX; /* slow */
    c->threads = (c->big ? 2 : 1) + (int)(take8(r) % (c->big ? 2 : 3));
    c->path = (int)take8(r);
    c->fault = decode_fault(r);
    c->rule.key = take64(r);
    c->rule.offset = decode_offset(r);
    c->rule.threshold = decode_threshold(r);
    c->seed = take64(r);
    c->split = take8(r);
    switch (c->op) {
    case OP_DROPOUT: {
        const unsigned b = take8(r);
        c->dtype = b < 240 ? (int)(b % 4) : b < 248 ? 4 : b < 252 ? -1 : INT_MAX;
        c->with_mask = (int)(take8(r) & 1);
        c->in_place = take8(r) % 4 == 0;
        c->scale = decode_scale(r, c->rule.threshold);
        c->x_misalign = take8(r) % 8;
        c->out_misalign = take8(r) % 8;
        if (c->big) { /* one or two dimensions, out in C order (no overlapping writes) */
            c->ndim = 1 + (int)(take8(r) % 2);
            c->shape[0] = (int64_t)(c->ndim == 1 ? BIG_ELEMENTS : BIG_ELEMENTS / BIG_COLUMNS);
            c->shape[1] = BIG_COLUMNS;
        } else {
            c->ndim = decode_ndim(r);
            for (d = 0; d < c->ndim && d < FD_MAX_NDIM; d++)
                c->shape[d] = decode_extent(r, c->ndim);
            if (c->ndim >= 0 && c->ndim <= FD_MAX_NDIM && element_count(c->ndim, c->shape) > 0)
                shrink_shape(c->ndim, c->shape, MAX_ELEMENTS);
        }
        if (c->ndim > 0 && c->ndim <= FD_MAX_NDIM && element_count(c->ndim, c->shape) > 0) {
            const size_t size = item_size(c->dtype);
            decode_strides(r, c->ndim, c->shape, size, c->x_strides);
            if (c->big && take8(r) & 1) {
                for (d = 0, c->out_strides[c->ndim - 1] = (int64_t)size; d < c->ndim - 1; d++)
                    c->out_strides[d] = (int64_t)size * c->shape[1];
            } else if (c->big) {
                c->out_strides[c->ndim - 1] = -(int64_t)size;
                if (c->ndim == 2) c->out_strides[0] = -(int64_t)size * c->shape[1];
            } else {
                decode_strides(r, c->ndim, c->shape, size, c->out_strides);
            }
            if (c->in_place) memcpy(c->x_strides, c->out_strides, sizeof c->x_strides);
        }
        break;
    }
    case OP_MASK_BOOL:
    case OP_MASK_PACKED:
    case OP_NORMAL: {
        const unsigned b = take8(r);
        c->dtype = b < 120 ? FD_FLOAT32 : b < 240 ? FD_FLOAT64 : b < 244 ? FD_FLOAT16
                 : b < 248 ? FD_BFLOAT16 : 7;
        switch (take8(r) % 8) {
        case 0: c->n = take8(r); break;
        case 1: c->n = take16(r) % 20000; break;
        case 2: c->n = (uint64_t)FD_BLOCK_ELEMENTS * (take8(r) % 64) + take8(r) % 3; break;
        case 3: c->n = 8192 * (uint64_t)(1 + take8(r) % 7) + take8(r) % 3 - 1; break;
        case 4: c->n = take16(r); break;
        case 5: c->n = ((uint64_t)1 << 62) + 1 + take8(r); break; /* invalid */
        case 6: c->n = UINT64_MAX - take8(r); break;             /* invalid */
        default: c->n = take8(r) % 40;
        }
        if (c->big) c->n = BIG_ELEMENTS; /* (test_core checks fd_normal's thread counts) */
        break;
    }
    case OP_BOX: {
        c->box_kind = (int)(take8(r) % N_BOX_KINDS);
        c->dtype = c->box_kind <= BOX_DROPOUT_F64 ? c->box_kind
                   : c->box_kind == BOX_NORMAL_F32 ? FD_FLOAT32 : FD_FLOAT64;
        c->with_mask = (int)(take8(r) & 1);
        c->scale = decode_scale(r, c->rule.threshold);
        c->ndim = (int)(take8(r) % 5);
        for (d = 0; d < c->ndim; d++) {
            const unsigned b = take8(r);
            c->global[d] = b < 160 ? 1 + b % 40 : b < 240 ? 1 + take16(r) % 3000 : b % 2;
        }
        shrink_shape(c->ndim, c->global, MAX_ELEMENTS);
        for (d = 0; d < c->ndim; d++) { /* start and shape anywhere, now and then outside */
            const unsigned b = take8(r);
            const int64_t room = c->global[d] + 1;
            c->start[d] = b < 250 ? (int64_t)take16(r) % room : b < 253 ? -1 : room;
            c->shape[d] = b < 64 ? c->global[d] - c->start[d]
                          : b < 250 ? (int64_t)take16(r) % (room - c->start[d] > 0 ? room - c->start[d] : 1)
                                    : (int64_t)take8(r) % 4;
        }
        if (element_count(c->ndim, c->shape) > 0)
            decode_strides(r, c->ndim, c->shape, item_size(c->dtype), c->x_strides);
        break;
    }
    default: {
        static const double special[] = {NAN, INFINITY, -INFINITY, -0.0, 0.0, 1.0, -1.0,
                                         4.9406564584124654e-324, 0.5, 1e-10, 2.3283064365386963e-10};
        switch (take8(r) % 4) {
        case 0: c->scale = take_double(r); break;
        case 1: c->scale = take16(r) / 65536.0; break;
        case 2: /* next to a multiple of 2^-33: where p 2^32 is halfway between integers */
            c->scale = ldexp((double)(take64(r) >> 31), -33);
            c->scale = nextafter(c->scale, take8(r) & 1 ? 2.0 : -1.0);
            break;
        default: c->scale = special[take8(r) % (sizeof special / sizeof *special)];
        }
    }
    }
}

/* ---- helpers ----------------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Random items of `size` bytes (1 .. 8; the last may be cut short), a quarter of them special
 * values of the dtype when size is 2, 4 or 8 (2: float16's, or bfloat16's if `bfloat16`): zeros,
 * one, infinities, NaNs, subnormals, the largest. */
static void fill_items(uint8_t *p, size_t bytes, size_t size, int bfloat16, uint64_t *state)
{
    static const uint64_t bf16[] = {0x0000, 0x8000, 0x3f80, 0x7f80, 0xff80, 0x7fc0, 0x7f81, 0x0001,
                                    0x7f7f, 0x3f81};
    static const uint64_t f16[] = {0x0000, 0x8000, 0x3c00, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0x0001,
                                   0x7bff, 0x03ff};
    static const uint64_t f32[] = {0x00000000, 0x80000000, 0x3f800000, 0x7f800000, 0xff800000,
                                   0x7fc00000, 0x7f800001, 0x00000001, 0x7f7fffff, 0x477ff000};
    static const uint64_t f64[] = {0, 0x8000000000000000u, 0x3ff0000000000000u,
                                   0x7ff0000000000000u, 0xfff0000000000000u, 0x7ff8000000000000u,
                                   0x7ff0000000000001u, 1, 0x7fefffffffffffffu,
                                   0x36a0000000000000u};
    const uint64_t *special = size == 2 ? (bfloat16 ? bf16 : f16)
                              : size == 4 ? f32 : size == 8 ? f64 : NULL;
    size_t i;
    for (i = 0; i < bytes; i += size) { /* little-endian host */
        const uint64_t v = splitmix64(state);
        memcpy(p + i, special && v >> 62 == 0 ? &special[v % 10] : &v,
               bytes - i < size ? bytes - i : size);
    }
}

static void fill(uint8_t *p, size_t bytes, size_t size, uint64_t *state)
{
    fill_items(p, bytes, size, 0, state);
}

static uint8_t *copy_of(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    if (n) memcpy(q, p, n);
    return q;
}

static void select_path(const char *name, int threads)
{
    current_path = name;
    current_threads = threads;
    EXPECT(fd_simd_select(name) == FD_OK);
    fd_set_num_threads(threads);
}

/* Whether the comparison with the scalar path on one thread runs path p: a big case (slow under
 * the sanitizers) runs the input's path only, the others every path. */
static int compares_path(const fuzz_case *c, int p)
{
    if (c->big) return p == c->path % n_paths;
    return c->threads > 1 || strcmp(paths[p], "scalar") != 0;
}

/* The status is FD_OK if no error is expected, else one of the expected ones. */
static void check_status(fd_status status, unsigned expected_errors)
{
    if (expected_errors == 0) EXPECT(status == FD_OK);
    else EXPECT(status != FD_OK && (expected_errors >> status & 1u));
}

/* Smallest and one past the largest byte offset from element 0 that an array reaches. */
static void footprint(int ndim, const int64_t *shape, const int64_t *strides, size_t size,
                      int64_t *low, int64_t *high)
{
    int d;
    *low = 0;
    *high = (int64_t)size;
    for (d = 0; d < ndim; d++) {
        const int64_t reach = (shape[d] - 1) * strides[d];
        if (reach < 0) *low += reach;
        else *high += reach;
    }
}

/* Byte offset from element 0 of every element, in C order. */
static void element_offsets(int ndim, const int64_t *shape, const int64_t *strides,
                            uint64_t count, int64_t *offsets)
{
    int64_t index[FD_MAX_NDIM] = {0}, at = 0;
    uint64_t i;
    int d;
    for (i = 0; i < count; i++) {
        offsets[i] = at;
        for (d = ndim - 1; d >= 0; d--) {
            at += strides[d];
            if (++index[d] < shape[d]) break;
            at -= strides[d] * shape[d];
            index[d] = 0;
        }
    }
}

/* IEEE binary16 <-> binary32 written independently of the library's: through frexp, ldexp
 * and rint (round to nearest even), NaNs as NumPy converts them. */
static float half_to_float(uint16_t h)
{
    const int exponent = h >> 10 & 0x1f, mantissa = h & 0x3ff;
    float v;
    if (exponent == 0x1f) {
        const uint32_t bits = (uint32_t)(h & 0x8000u) << 16 | 0x7f800000u | (uint32_t)mantissa << 13;
        memcpy(&v, &bits, sizeof v);
        return v;
    }
    v = exponent ? ldexpf((float)(1024 + mantissa), exponent - 25) : ldexpf((float)mantissa, -24);
    return h & 0x8000u ? -v : v;
}

/* a >= 0 rounded (rint: to nearest even) to `bits` bits after the point of its binade, or to
 * multiples of 2^(emin - bits) below 2^emin (subnormals), by arithmetic, not bits. */
static double round_magnitude(double a, int bits, int emin)
{
    int e;
    if (isinf(a)) return a;
    frexp(a, &e);
    e -= 1; /* a in [2^e, 2^(e+1)) (for 0 any e will do) */
    if (e < emin) e = emin;
    return ldexp(rint(ldexp(a, bits - e)), e - bits);
}

static uint16_t float_to_half(float f)
{
    uint32_t bits;
    uint16_t sign;
    double a;
    int e;
    memcpy(&bits, &f, sizeof bits);
    sign = (uint16_t)(bits >> 16 & 0x8000u);
    if (isnan(f)) {
        const unsigned h = 0x7c00u | (bits & 0x7fffffu) >> 13;
        return (uint16_t)(sign | (h == 0x7c00u ? 0x7c01u : h));
    }
    a = round_magnitude(fabs((double)f), 10, -14); /* inf stays inf */
    if (a >= 65536.0) return (uint16_t)(sign | 0x7c00u);
    if (a < ldexp(1.0, -14)) return (uint16_t)(sign | (unsigned)ldexp(a, 24)); /* subnormal */
    frexp(a, &e);
    e -= 1; /* a in [2^e, 2^(e+1)): 1024 .. 2047 2^-10 steps of the binade */
    return (uint16_t)(sign | (unsigned)(((e + 15) << 10) + (int)ldexp(a, 10 - e) - 1024));
}

/* binary32 -> bfloat16 as float_to_half: 7 bits after the point, subnormals below 2^-126, 2^128
 * and up inf; a NaN keeps its sign and top payload bits, quieted. bfloat16 -> binary32 is the
 * bits shifted up. */
static uint16_t float_to_bfloat(float f)
{
    uint32_t bits;
    float rounded;
    memcpy(&bits, &f, sizeof bits);
    if (isnan(f)) return (uint16_t)(bits >> 16 | 0x40u);
    rounded = (float)round_magnitude(fabs((double)f), 7, -126); /* exact, or 2^128 -> inf */
    memcpy(&bits, &rounded, sizeof bits);
    return (uint16_t)((signbit(f) ? 0x8000u : 0u) | bits >> 16);
}

static float bfloat_to_float(uint16_t b)
{
    const uint32_t bits = (uint32_t)b << 16;
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static int is_nan_bytes(int dtype, const uint8_t *p);

/* fd_dropout's output for one element; 1 if it is a NaN (whose payload C leaves open). */
static int expected_element(int dtype, int keep, double scale, const uint8_t *x, uint8_t *want)
{
    const size_t size = item_size(dtype);
    if (!keep) {
        memset(want, 0, size);
        return 0;
    }
    memcpy(want, x, size);
    if (scale == 1.0) return 0; /* bits copied, NaNs included */
    if (size == 2) { /* float16 or bfloat16: through float32, rounded once */
        uint16_t h;
        memcpy(&h, x, 2);
        h = dtype == FD_FLOAT16 ? float_to_half(half_to_float(h) * (float)scale)
                                : float_to_bfloat(bfloat_to_float(h) * (float)scale);
        memcpy(want, &h, 2);
        return is_nan_bytes(dtype, want);
    }
    if (dtype == FD_FLOAT32) {
        float v;
        memcpy(&v, x, 4);
        v *= (float)scale;
        memcpy(want, &v, 4);
        return isnan(v);
    } else {
        double v;
        memcpy(&v, x, 8);
        v *= scale;
        memcpy(want, &v, 8);
        return isnan(v);
    }
}

static int is_nan_bytes(int dtype, const uint8_t *p)
{
    if (item_size(dtype) == 2) { /* all exponent bits set, a nonzero fraction */
        const uint16_t exponent = dtype == FD_FLOAT16 ? 0x7c00u : 0x7f80u;
        uint16_t h;
        memcpy(&h, p, 2);
        return (h & exponent) == exponent && (h & 0x7fffu & ~exponent);
    }
    if (dtype == FD_FLOAT32) {
        float v;
        memcpy(&v, p, 4);
        return isnan(v);
    } else {
        double v;
        memcpy(&v, p, 8);
        return isnan(v);
    }
}

/* A copy of an array of n items (NULL for n < 1), so that ASan sees reads past its end. */
static int64_t *exact_copy(const int64_t *values, int n)
{
    int64_t *p;
    if (n < 1 || n > FD_MAX_NDIM) return NULL;
    p = malloc(sizeof *p * (size_t)n);
    memcpy(p, values, sizeof *p * (size_t)n);
    return p;
}

/* ---- the calls --------------------------------------------------------------------------- */

/* The scalar path's fd_dropout result against the mask and x * scale, element by element;
 * bytes no element occupies untouched, and x too unless in place. */
static void check_dropout(const fuzz_case *c, const uint8_t *x_buf, const uint8_t *x0,
                          size_t x_bytes, const uint8_t *x_first, const uint8_t *out_buf,
                          const uint8_t *out0, size_t out_bytes, const uint8_t *out_first,
                          const uint8_t *mask, uint64_t count)
{
    const size_t size = item_size(c->dtype);
    uint8_t *keep = malloc((size_t)count), *owners = calloc(out_bytes, 1);
    int64_t *x_at = malloc(sizeof *x_at * (size_t)count);
    int64_t *out_at = malloc(sizeof *out_at * (size_t)count);
    size_t i, b;
    EXPECT(fd_mask_bool(&c->rule, count, keep) == FD_OK);
    if (mask) EXPECT(memcmp(mask, keep, (size_t)count) == 0);
    if (!c->in_place) EXPECT(memcmp(x_buf, x0, x_bytes) == 0);
    element_offsets(c->ndim, c->shape, c->x_strides, count, x_at);
    element_offsets(c->ndim, c->shape, c->out_strides, count, out_at);
    for (i = 0; i < (size_t)count; i++) /* elements occupying each byte of out, up to 2 */
        for (b = 0; b < size; b++) {
            uint8_t *o = &owners[(size_t)(out_first - out_buf + out_at[i]) + b];
            if (*o < 2) (*o)++;
        }
    for (i = 0; i < out_bytes; i++)
        if (!owners[i]) EXPECT(out_buf[i] == out0[i]);
    for (i = 0; i < (size_t)count; i++) {
        const size_t at = (size_t)(out_first - out_buf + out_at[i]);
        uint8_t want[8];
        int alone = 1, nan;
        for (b = 0; b < size; b++) alone &= owners[at + b] == 1;
        if (!alone) continue; /* overlapping writes: the last one wins, whichever it is */
        nan = expected_element(c->dtype, keep[i], c->scale, x0 + (x_first - x_buf) + x_at[i], want);
        if (nan) EXPECT(is_nan_bytes(c->dtype, out_buf + at));
        else EXPECT(memcmp(out_buf + at, want, size) == 0);
    }
    free(keep);
    free(owners);
    free(x_at);
    free(out_at);
}

static void fuzz_dropout(const fuzz_case *c)
{
    const int dtype_ok = c->dtype >= FD_FLOAT16 && c->dtype <= FD_BFLOAT16;
    const int ndim_ok = c->ndim >= 0 && c->ndim <= FD_MAX_NDIM;
    const int64_t count = ndim_ok ? element_count(c->ndim, c->shape) : -1;
    const size_t size = dtype_ok ? item_size(c->dtype) : 8;
    const fd_bernoulli *rule = c->fault == NULL_RULE ? NULL : &c->rule;
    int64_t *shape = c->fault == NULL_SHAPE ? NULL : exact_copy(c->shape, c->ndim);
    int64_t *x_strides = c->fault == NULL_X_STRIDES ? NULL : exact_copy(c->x_strides, c->ndim);
    int64_t *out_strides = c->fault == NULL_OUT_STRIDES ? NULL : exact_copy(c->out_strides, c->ndim);
    int64_t x_low = 0, x_high = DUMMY_BYTES, out_low = 0, out_high = DUMMY_BYTES;
    size_t x_bytes, out_bytes, mask_bytes = count > 0 ? (size_t)count : DUMMY_BYTES;
    uint8_t *x_buf, *out_buf, *mask, *x_first, *out_first, *x0, *out0, *mask0, *ref_out, *ref_mask;
    unsigned errors = 0;
    uint64_t state = c->seed;
    int p, in_place = c->in_place;

    if (!rule) errors |= 1u << FD_ERR_NULL;
    else if (c->rule.threshold > FD_THRESHOLD_ONE) errors |= 1u << FD_ERR_THRESHOLD;
    if (!dtype_ok) errors |= 1u << FD_ERR_DTYPE;
    if (c->scale != c->scale) errors |= 1u << FD_ERR_SCALE;
    if (!ndim_ok) errors |= 1u << FD_ERR_NDIM;
    else if (c->ndim > 0 && (!shape || !x_strides || !out_strides)) errors |= 1u << FD_ERR_NULL;
    else if (count < 0) errors |= 1u << FD_ERR_SHAPE;
    else if (count > 0 && (c->fault == NULL_X || c->fault == NULL_OUT)) errors |= 1u << FD_ERR_NULL;

    /* the bytes the strides reach, misaligned as the input says; x shares out's in place */
    if (count > 0) {
        footprint(c->ndim, c->shape, c->x_strides, size, &x_low, &x_high);
        footprint(c->ndim, c->shape, c->out_strides, size, &out_low, &out_high);
    } else if (count == 0) {
        x_high = out_high = 0;
    }
    x_bytes = c->x_misalign + (size_t)(x_high - x_low);
    out_bytes = c->out_misalign + (size_t)(out_high - out_low);
    out_buf = malloc(out_bytes);
    fill_items(out_buf, out_bytes, size, c->dtype == FD_BFLOAT16, &state);
    out_first = out_buf + c->out_misalign - out_low;
    if (in_place) {
        x_buf = out_buf;
        x_bytes = out_bytes;
        x_first = out_first;
    } else {
        x_buf = malloc(x_bytes);
        fill_items(x_buf, x_bytes, size, c->dtype == FD_BFLOAT16, &state);
        x_first = x_buf + c->x_misalign - x_low;
    }
    mask = c->with_mask ? malloc(mask_bytes) : NULL;
    if (mask) fill(mask, mask_bytes, 1, &state);
    x0 = copy_of(x_buf, x_bytes);
    out0 = copy_of(out_buf, out_bytes);
    mask0 = mask ? copy_of(mask, mask_bytes) : NULL;

    select_path("scalar", 1);
    check_status(fd_dropout((fd_dtype)c->dtype, rule, c->scale, c->ndim, shape,
                            c->fault == NULL_X ? NULL : x_first, x_strides,
                            c->fault == NULL_OUT ? NULL : out_first, out_strides, mask),
                 errors);
    if (errors || count == 0) { /* nothing written */
        EXPECT(memcmp(x_buf, x0, x_bytes) == 0 && memcmp(out_buf, out0, out_bytes) == 0);
        EXPECT(!mask || memcmp(mask, mask0, mask_bytes) == 0);
    } else {
        ref_out = copy_of(out_buf, out_bytes);
        ref_mask = mask ? copy_of(mask, mask_bytes) : NULL;
        if (!c->big)
            check_dropout(c, x_buf, x0, x_bytes, x_first, out_buf, out0, out_bytes, out_first, mask,
                          (uint64_t)count);
        /* other paths and the input's thread count: the same bytes */
        for (p = 0; p < n_paths; p++) {
            if (!compares_path(c, p)) continue;
            memcpy(out_buf, out0, out_bytes);
            if (!in_place) memcpy(x_buf, x0, x_bytes);
            if (mask) memcpy(mask, mask0, mask_bytes);
            select_path(paths[p], c->threads);
            EXPECT(fd_dropout((fd_dtype)c->dtype, rule, c->scale, c->ndim, shape, x_first,
                              x_strides, out_first, out_strides, mask) == FD_OK);
            EXPECT(memcmp(out_buf, ref_out, out_bytes) == 0);
            EXPECT(!mask || memcmp(mask, ref_mask, (size_t)count) == 0);
        }
        free(ref_out);
        free(ref_mask);
    }
    if (!in_place) free(x_buf);
    free(out_buf);
    free(mask);
    free(x0);
    free(out0);
    free(mask0);
    free(shape);
    free(x_strides);
    free(out_strides);
}

typedef fd_status (*mask_fn)(const fd_bernoulli *rule, uint64_t n, uint8_t *dest);

/* A mask call whose first k elements (k a multiple of the block) come from one call and the
 * rest from a second at offset + fd_blocks(k), as a stream would; NULL past 2^64 blocks,
 * where the 96-bit counter of one call and the 64-bit offset of the second part ways. */
static uint8_t *split_mask(const fuzz_case *c, mask_fn fn, size_t bytes, int packed)
{
    const uint64_t k_max = fd_blocks(c->n);
    const uint64_t k = c->n < FD_BLOCK_ELEMENTS * (c->split % (k_max + 1))
                           ? c->n
                           : FD_BLOCK_ELEMENTS * (c->split % (k_max + 1));
    fd_bernoulli second = c->rule;
    uint8_t *dest;
    if (c->rule.offset + fd_blocks(k) < c->rule.offset) return NULL;
    second.offset += fd_blocks(k);
    dest = malloc(bytes);
    EXPECT(fn(&c->rule, k, dest) == FD_OK);
    EXPECT(fn(&second, c->n - k, dest + (packed ? k / 8 : k)) == FD_OK);
    return dest;
}

/* The scalar path's mask: bytes 0 or 1, all 0 for threshold 0 and 1 for 2^32, the packed mask
 * the bool one bit for bit, and a call split at a block boundary the same. */
static void check_mask(const fuzz_case *c, mask_fn fn, const uint8_t *ref, size_t bytes, int packed)
{
    uint8_t *bools = malloc((size_t)c->n), *split;
    uint64_t i;
    EXPECT(fd_mask_bool(&c->rule, c->n, bools) == FD_OK);
    for (i = 0; i < c->n; i++) {
        EXPECT(bools[i] <= 1);
        if (c->rule.threshold == 0) EXPECT(bools[i] == 0);
        if (c->rule.threshold == FD_THRESHOLD_ONE) EXPECT(bools[i] == 1);
        if (packed) EXPECT((ref[i / 8] >> (i % 8) & 1) == bools[i]);
    }
    if (packed && c->n % 8) EXPECT(ref[c->n / 8] >> (c->n % 8) == 0);
    split = split_mask(c, fn, bytes, packed);
    if (split) EXPECT(memcmp(split, ref, bytes) == 0);
    free(bools);
    free(split);
}

static void fuzz_mask(const fuzz_case *c, int packed)
{
    const mask_fn fn = packed ? fd_mask_packed : fd_mask_bool;
    const fd_bernoulli *rule = c->fault == NULL_RULE ? NULL : &c->rule;
    const int n_ok = c->n <= (uint64_t)1 << 62;
    const size_t bytes = !n_ok ? DUMMY_BYTES : packed ? (size_t)(c->n + 7) / 8 : (size_t)c->n;
    uint8_t *dest = malloc(bytes), *dest0, *ref;
    uint64_t state = c->seed;
    unsigned errors = 0;
    int p;

    if (!rule) errors |= 1u << FD_ERR_NULL;
    else if (c->rule.threshold > FD_THRESHOLD_ONE) errors |= 1u << FD_ERR_THRESHOLD;
    if (!n_ok) errors |= 1u << FD_ERR_SHAPE;
    else if (c->n > 0 && c->fault == NULL_X) errors |= 1u << FD_ERR_NULL;
    fill(dest, bytes, 1, &state);
    dest0 = copy_of(dest, bytes);

    select_path("scalar", 1);
    check_status(fn(rule, c->n, c->fault == NULL_X ? NULL : dest), errors);
    if (errors || c->n == 0) {
        EXPECT(memcmp(dest, dest0, bytes) == 0);
        free(dest);
        free(dest0);
        return;
    }
    ref = copy_of(dest, bytes);
    if (!c->big) check_mask(c, fn, ref, bytes, packed);
    for (p = 0; p < n_paths; p++) {
        if (!compares_path(c, p)) continue;
        memcpy(dest, dest0, bytes);
        select_path(paths[p], c->threads);
        EXPECT(fn(&c->rule, c->n, dest) == FD_OK);
        EXPECT(memcmp(dest, ref, bytes) == 0);
    }
    free(dest);
    free(dest0);
    free(ref);
}

/* fd_normal's result: float32 the float64 rounded once, within the largest radius, and the same
 * bytes from two calls split at a block boundary (unless the offset wraps between them). */
static void check_normal(const fuzz_case *c, const uint8_t *ref, size_t bytes)
{
    const size_t size = c->dtype == FD_FLOAT32 ? 4 : 8;
    const uint64_t k = c->n < FD_BLOCK_ELEMENTS * (uint64_t)c->split
                           ? c->n
                           : FD_BLOCK_ELEMENTS * (uint64_t)c->split;
    double *wide = malloc(sizeof *wide * (size_t)c->n);
    uint64_t i;
    EXPECT(fd_normal(c->rule.key, c->rule.offset, c->n, FD_FLOAT64, wide) == FD_OK);
    for (i = 0; i < c->n; i++) {
        EXPECT(fabs(wide[i]) <= MAX_ABS_NORMAL);
        if (c->dtype == FD_FLOAT32) {
            float v;
            memcpy(&v, ref + 4 * i, 4);
            EXPECT(v == (float)wide[i]);
        }
    }
    free(wide);
    if (c->rule.offset + fd_blocks(k) >= c->rule.offset) {
        uint8_t *split = malloc(bytes);
        EXPECT(fd_normal(c->rule.key, c->rule.offset, k, (fd_dtype)c->dtype, split) == FD_OK);
        EXPECT(fd_normal(c->rule.key, c->rule.offset + fd_blocks(k), c->n - k, (fd_dtype)c->dtype,
                         split + size * k) == FD_OK);
        EXPECT(memcmp(split, ref, bytes) == 0);
        free(split);
    }
}

static void fuzz_normal(const fuzz_case *c)
{
    const int dtype_ok = c->dtype == FD_FLOAT32 || c->dtype == FD_FLOAT64;
    const int n_ok = c->n <= (uint64_t)1 << 62;
    const size_t bytes = dtype_ok && n_ok ? item_size(c->dtype) * (size_t)c->n : DUMMY_BYTES;
    uint8_t *out = malloc(bytes), *out0, *ref;
    uint64_t state = c->seed;
    unsigned errors = 0;

    if (!dtype_ok) errors |= 1u << FD_ERR_DTYPE;
    if (!n_ok) errors |= 1u << FD_ERR_SHAPE;
    else if (c->n > 0 && c->fault == NULL_X) errors |= 1u << FD_ERR_NULL;
    fill(out, bytes, 1, &state);
    out0 = copy_of(out, bytes);

    select_path("scalar", 1);
    check_status(fd_normal(c->rule.key, c->rule.offset, c->n, (fd_dtype)c->dtype,
                           c->fault == NULL_X ? NULL : out),
                 errors);
    if (errors || c->n == 0) {
        EXPECT(memcmp(out, out0, bytes) == 0);
    } else {
        ref = copy_of(out, bytes);
        if (!c->big) check_normal(c, ref, bytes);
        /* the input's kernel path and thread count give the scalar path's bytes */
        select_path(paths[c->path % n_paths], c->threads);
        EXPECT(fd_normal(c->rule.key, c->rule.offset, c->n, (fd_dtype)c->dtype, out) == FD_OK);
        EXPECT(memcmp(out, ref, bytes) == 0);
        free(ref);
    }
    free(out);
    free(out0);
}

/* One box call on the active path and thread count, into out (and mask). */
static fd_status box_call(const fuzz_case *c, const fd_box *box, const uint8_t *x_first,
                          const int64_t *dense, uint8_t *out, uint8_t *mask)
{
    switch (c->box_kind) {
    case BOX_BOOL: return fd_mask_bool_box(&c->rule, box, out);
    case BOX_PACKED: return fd_mask_packed_box(&c->rule, box, out);
    case BOX_NORMAL_F32:
    case BOX_NORMAL_F64:
        return fd_normal_box(c->rule.key, c->rule.offset, box, (fd_dtype)c->dtype, out);
    default:
        return fd_dropout_box((fd_dtype)c->dtype, &c->rule, c->scale, box, x_first, c->x_strides,
                              out, dense, mask);
    }
}

static void fuzz_box(const fuzz_case *c)
{
    const int dropout = c->box_kind <= BOX_DROPOUT_F64;
    const size_t size = c->box_kind == BOX_BOOL || c->box_kind == BOX_PACKED ? 1 : item_size(c->dtype);
    const int64_t total = element_count(c->ndim, c->global);
    int64_t count = element_count(c->ndim, c->shape), x_low = 0, x_high = 0, dense[FD_MAX_NDIM];
    size_t out_bytes, x_bytes, k;
    uint8_t *x_buf, *x_first, *out, *out0, *ref, *mask = NULL, *whole = NULL;
    uint64_t state = c->seed;
    unsigned errors = 0;
    fd_box box;
    int d, p;

    box.ndim = c->ndim;
    box.global = c->global;
    box.start = c->start;
    box.shape = c->shape;
    if (dropout && c->rule.threshold > FD_THRESHOLD_ONE) errors |= 1u << FD_ERR_THRESHOLD;
    if (dropout && c->scale != c->scale) errors |= 1u << FD_ERR_SCALE;
    if ((c->box_kind == BOX_BOOL || c->box_kind == BOX_PACKED) &&
        c->rule.threshold > FD_THRESHOLD_ONE)
        errors |= 1u << FD_ERR_THRESHOLD;
    if (count < 0) errors |= 1u << FD_ERR_SHAPE;
    for (d = 0; d < c->ndim; d++)
        if (c->start[d] < 0 || c->start[d] > c->global[d] - c->shape[d]) errors |= 1u << FD_ERR_BOX;
    if (count < 0) count = 0;
    for (d = c->ndim - 1, dense[0] = 1; d >= 0; d--) /* out: the box in C order */
        dense[d] = d == c->ndim - 1 ? (int64_t)size : dense[d + 1] * c->shape[d + 1];
    out_bytes = c->box_kind == BOX_PACKED ? ((size_t)count + 7) / 8 : size * (size_t)count;
    if (count > 0 && dropout) footprint(c->ndim, c->shape, c->x_strides, size, &x_low, &x_high);
    x_bytes = (size_t)(x_high - x_low);
    x_buf = malloc(x_bytes ? x_bytes : 1);
    fill(x_buf, x_bytes, size, &state);
    x_first = x_buf - x_low;
    out = malloc(out_bytes ? out_bytes : 1);
    fill(out, out_bytes, 1, &state);
    out0 = copy_of(out, out_bytes);
    if (dropout && c->with_mask) mask = malloc(count ? (size_t)count : 1);

    select_path("scalar", 1);
    check_status(box_call(c, &box, x_first, dense, out, mask), errors);
    if (errors || count == 0) {
        EXPECT(memcmp(out, out0, out_bytes) == 0);
    } else {
        const uint64_t n = (uint64_t)count;
        int64_t *x_at = malloc(sizeof *x_at * (size_t)n);
        if (c->box_kind == BOX_NORMAL_F32 || c->box_kind == BOX_NORMAL_F64) {
            whole = malloc(size * (size_t)total);
            EXPECT(fd_normal(c->rule.key, c->rule.offset, (uint64_t)total, (fd_dtype)c->dtype,
                             whole) == FD_OK);
            for (k = 0; k < n; k++)
                EXPECT(memcmp(out + size * k, whole + size * box_element(&box, k), size) == 0);
        } else {
            whole = malloc((size_t)total);
            EXPECT(fd_mask_bool(&c->rule, (uint64_t)total, whole) == FD_OK);
            element_offsets(c->ndim, c->shape, c->x_strides, n, x_at);
            for (k = 0; k < n; k++) {
                const int keep = whole[box_element(&box, k)];
                if (c->box_kind == BOX_BOOL) {
                    EXPECT(out[k] == keep);
                } else if (c->box_kind == BOX_PACKED) {
                    EXPECT((out[k / 8] >> (k % 8) & 1) == keep);
                } else {
                    uint8_t want[8];
                    if (expected_element(c->dtype, keep, c->scale, x_first + x_at[k], want))
                        EXPECT(is_nan_bytes(c->dtype, out + size * k));
                    else
                        EXPECT(memcmp(out + size * k, want, size) == 0);
                    if (mask) EXPECT(mask[k] == keep);
                }
            }
            if (c->box_kind == BOX_PACKED && n % 8) EXPECT(out[n / 8] >> (n % 8) == 0);
        }
        ref = copy_of(out, out_bytes);
        for (p = 0; p < n_paths; p++) { /* every path, the input's thread count: the same bytes */
            if (!compares_path(c, p)) continue;
            memcpy(out, out0, out_bytes);
            select_path(paths[p], c->threads);
            EXPECT(box_call(c, &box, x_first, dense, out, mask) == FD_OK);
            EXPECT(memcmp(out, ref, out_bytes) == 0);
        }
        free(ref);
        free(x_at);
    }
    free(x_buf);
    free(out);
    free(out0);
    free(mask);
    free(whole);
}

static void fuzz_threshold(const fuzz_case *c)
{
    const double p = c->scale;
    const uint64_t t = fd_threshold(p);
    EXPECT(t <= FD_THRESHOLD_ONE);
    if (!(p > 0.0)) EXPECT(t == FD_THRESHOLD_ONE);
    else if (p >= 1.0) EXPECT(t == 0);
    else EXPECT(t == FD_THRESHOLD_ONE - (uint64_t)round(p * 4294967296.0));
    if (!isnan(p)) EXPECT(fd_threshold(nextafter(p, INFINITY)) <= t);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *name;
    (void)argc;
    (void)argv;
    if (fd_simd_select("auto") != FD_OK) abort();
    strcpy(path_list, fd_simd_available());
    for (name = strtok(path_list, ","); name && n_paths < MAX_PATHS; name = strtok(NULL, ","))
        paths[n_paths++] = name;
    fprintf(stderr, "fuzz_kernels: kernel paths %s\n", fd_simd_available());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r;
    fuzz_case c;
    r.p = data;
    r.n = size;
    decode(&r, &c);
    current = &c;
    switch (c.op) {
    case OP_DROPOUT: fuzz_dropout(&c); break;
    case OP_MASK_BOOL: fuzz_mask(&c, 0); break;
    case OP_MASK_PACKED: fuzz_mask(&c, 1); break;
    case OP_NORMAL: fuzz_normal(&c); break;
    case OP_BOX: fuzz_box(&c); break;
    default: fuzz_threshold(&c);
    }
    return 0;
}
