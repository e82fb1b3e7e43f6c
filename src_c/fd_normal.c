/*
 * Standard normals (fd_normal): a call's elements chunk by chunk from the kernels of the active
 * path (fd_kernels.h), whose Box-Muller arithmetic is written once, in fd_normal_impl.h, and
 * gives the same bits on every path; and their RNG floor (fd_floor_normal).
 */

#include "fd_drivers.h"

/* One normal call, as its parts see it. */
typedef struct {
    const fd_kernels *kernels;
    uint64_t key, offset, count;
    fd_dtype dtype;
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
    normal_call call = {NULL, 0, 0, 0, FD_FLOAT64, NULL};
    const fd_status status = check_normal(n, dtype, out);
    if (status != FD_OK || n == 0) return status;
    call.kernels = fd_active_kernels();
    call.key = key;
    call.offset = offset;
    call.count = n;
    call.dtype = dtype;
    call.out = (char *)out;
    fd_run_split(normal_part, &call, n);
    return FD_OK;
}

fd_status fd_floor_normal(uint64_t key, uint64_t offset, uint64_t n)
{
    return fd_run_floor(key, offset, n, 64, FD_BLOCK_ELEMENTS / 2, 0);
}
