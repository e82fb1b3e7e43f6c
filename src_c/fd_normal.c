/*
 * Standard normals (fd_normal) and Gaussian dropout (fd_gaussian_dropout): a call's elements
 * chunk by chunk, or block by block, from the kernels of the active path (fd_kernels.h), whose
 * Box-Muller arithmetic is written once, in fd_normal_impl.h, and gives the same bits on every
 * path; and the normals' RNG floor (fd_floor_normal).
 *
 * Gaussian dropout's x (1 + sigma z) must not become an FMA either (fd_normal_impl.h): setup.py
 * passes -ffp-contract=off, this pragma tells Clang too.
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include "fd_drivers.h"

/* One normal or Gaussian dropout call, as its parts see it. */
typedef struct {
    const fd_kernels *kernels;
    uint64_t key, offset, count;
    fd_dtype dtype;
    double sigma;  /* Gaussian dropout only */
    const char *x; /* Gaussian dropout only */
    char *out;
} normal_call;

static void normal_part(void *arg, int part, int parts)
{
    const normal_call *call = (const normal_call *)arg;
    const int wide = call->dtype == FD_FLOAT64;
    const size_t size = wide ? 8 : 4;
    uint64_t i, end;
    fd_part_range(call->count, part, parts, &i, &end);
    for (; i < end; i += FD_CHUNK_ELEMENTS) { /* parts start at chunk boundaries */
        const uint64_t left = end - i;
        const size_t n = left < FD_CHUNK_ELEMENTS ? (size_t)left : FD_CHUNK_ELEMENTS;
        call->kernels->normal_blocks(call->key, call->offset, i / FD_BLOCK_ELEMENTS, n, wide,
                                     call->out + size * i);
    }
}

static fd_status check_normal(uint64_t n, fd_dtype dtype, const void *out)
{
    if (dtype != FD_FLOAT32 && dtype != FD_FLOAT64) return FD_ERR_DTYPE;
    if (n > ((uint64_t)1 << 62)) return FD_ERR_SHAPE;
    return n && !out ? FD_ERR_NULL : FD_OK;
}

fd_status fd_normal(uint64_t key, uint64_t offset, uint64_t n, fd_dtype dtype, void *out)
{
    normal_call call = {fd_active_kernels(), key, offset, n, dtype, 0.0, NULL, (char *)out};
    const fd_status status = check_normal(n, dtype, out);
    if (status != FD_OK || n == 0) return status;
    fd_run_split(normal_part, &call, n);
    return FD_OK;
}

/*
 * Gaussian dropout of the n <= 128 elements of one block from their normals z: what
 * fastdrop.gaussian_dropout computes with NumPy, operation for operation. x is read whole before
 * out is written (they may be one array), through local arrays the loops vectorise over.
 */
typedef union {
    double f64[FD_BLOCK_ELEMENTS];
    float f32[FD_BLOCK_ELEMENTS];
} block_normals;

static void gaussian_block(fd_dtype dtype, const block_normals *z, size_t n, double sigma,
                           const char *x, char *out)
{
    size_t j;
    if (dtype == FD_FLOAT64) {
        double v[FD_BLOCK_ELEMENTS];
        memcpy(v, x, 8 * n);
        for (j = 0; j < n; j++) v[j] = v[j] * (z->f64[j] * sigma + 1.0);
        memcpy(out, v, 8 * n);
    } else { /* float32 noise; float16 elements widened exactly and the product rounded once */
        const float s = (float)sigma;
        float noise[FD_BLOCK_ELEMENTS], v[FD_BLOCK_ELEMENTS];
        uint16_t h[FD_BLOCK_ELEMENTS];
        for (j = 0; j < n; j++) noise[j] = z->f32[j] * s + 1.0f;
        if (dtype == FD_FLOAT32) {
            memcpy(v, x, 4 * n);
        } else {
            memcpy(h, x, 2 * n);
            for (j = 0; j < n; j++) v[j] = fd_f16_to_f32(h[j]);
        }
        for (j = 0; j < n; j++) v[j] = v[j] * noise[j];
        if (dtype == FD_FLOAT32) {
            memcpy(out, v, 4 * n);
        } else {
            for (j = 0; j < n; j++) h[j] = fd_f32_to_f16(v[j]);
            memcpy(out, h, 2 * n);
        }
    }
}

static void gaussian_part(void *arg, int part, int parts)
{
    const normal_call *call = (const normal_call *)arg;
    const int wide = call->dtype == FD_FLOAT64;
    const size_t size = call->dtype == FD_FLOAT16 ? 2 : wide ? 8 : 4;
    block_normals z;
    uint64_t i, end;
    fd_part_range(call->count, part, parts, &i, &end);
    for (; i < end; i += FD_BLOCK_ELEMENTS) {
        const uint64_t left = end - i;
        const size_t n = left < FD_BLOCK_ELEMENTS ? (size_t)left : FD_BLOCK_ELEMENTS;
        call->kernels->normal_blocks(call->key, call->offset, i / FD_BLOCK_ELEMENTS, n, wide,
                                     (char *)&z);
        gaussian_block(call->dtype, &z, n, call->sigma, call->x + size * i, call->out + size * i);
    }
}

fd_status fd_gaussian_dropout(fd_dtype dtype, uint64_t key, uint64_t offset, uint64_t n,
                              double sigma, const void *x, void *out)
{
    normal_call call = {fd_active_kernels(), key, offset, n, dtype, sigma, (const char *)x,
                        (char *)out};
    if ((unsigned)dtype > FD_FLOAT64) return FD_ERR_DTYPE;
    if (sigma != sigma) return FD_ERR_SCALE;
    if (n > ((uint64_t)1 << 62)) return FD_ERR_SHAPE;
    if (n == 0) return FD_OK;
    if (!x || !out) return FD_ERR_NULL;
    fd_run_split(gaussian_part, &call, n);
    return FD_OK;
}

fd_status fd_floor_normal(uint64_t key, uint64_t offset, uint64_t n)
{
    return fd_run_floor(key, offset, n, 64, FD_BLOCK_ELEMENTS / 2, 0);
}

/* ---- the normals of a box (fd_normal_box) ---------------------------------------------------
 * Its runs (fd_box.h) block by block: the variates of a block are computed once, for all the
 * elements of the box in it (a block shared by the end of one run and the start of the next is
 * kept), and a run's partial first and last blocks are copied in part. */
#include "fd_box.h"

/* One box call, as its parts see it. */
typedef struct {
    uint64_t key, offset;
    fd_dtype dtype;
    char *out;
    fd_box_walk box;
} normal_box_call;

static void normal_box_part(void *arg, int part, int parts)
{
    const normal_box_call *call = (const normal_box_call *)arg;
    const fd_box_walk *w = &call->box;
    const fd_kernels *kernels = fd_active_kernels();
    const int wide = call->dtype == FD_FLOAT64;
    const size_t size = wide ? 8 : 4;
    block_normals z;
    uint64_t have = ~(uint64_t)0, begin, end; /* the block z holds: none yet */
    fd_box_cursor cur;
    fd_part_range(w->count, part, parts, &begin, &end);
    if (begin >= end) return;
    fd_box_seek(w, &cur, begin);
    while (cur.done < end) {
        const uint64_t block = cur.logical / FD_BLOCK_ELEMENTS;
        const size_t e = (size_t)(cur.logical % FD_BLOCK_ELEMENTS);
        size_t n = fd_box_run(w, &cur, end);
        char *dest = call->out + size * cur.done;
        if (n > FD_BLOCK_ELEMENTS - e) n = FD_BLOCK_ELEMENTS - e;
        if (block != have) { /* the whole block, as fd_normal computes it */
            kernels->normal_blocks(call->key, call->offset, block, FD_BLOCK_ELEMENTS, wide,
                                   (char *)&z);
            have = block;
        }
        memcpy(dest, wide ? (const char *)(z.f64 + e) : (const char *)(z.f32 + e), size * n);
        fd_box_advance(w, &cur, n);
    }
}

fd_status fd_normal_box(uint64_t key, uint64_t offset, const fd_box *box, fd_dtype dtype,
                        void *out)
{
    normal_box_call call;
    fd_status status;
    if (dtype != FD_FLOAT32 && dtype != FD_FLOAT64) return FD_ERR_DTYPE;
    status = fd_box_prepare(&call.box, box, NULL, NULL, dtype == FD_FLOAT64 ? 8 : 4);
    if (status != FD_OK || call.box.count == 0) return status;
    if (!out) return FD_ERR_NULL;
    call.key = key;
    call.offset = offset;
    call.dtype = dtype;
    call.out = (char *)out;
    fd_run_split(normal_box_part, &call, call.box.count);
    return FD_OK;
}
