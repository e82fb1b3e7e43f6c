/*
 * Internal: the walk over a box of a logical array (fd_box, fd_dropout.h), which fd_dropout.c
 * (dropout and the masks of a box) and fd_normal.c (the normals of a box) share. A box's elements
 * are visited in the box's C order, in runs: elements whose logical indices are consecutive, so
 * that the keep bits (or variates) of a run are bits [bit, bit + n) of its blocks. A run may start
 * and end anywhere in a block: only the blocks a run touches are computed, its partial first and
 * last ones once.
 *
 * The logical index is walked as one more strided array beside x and out: dimension d steps it
 * by global[d + 1] * ... * global[ndim - 1]. Dimensions that step all of them as one merge, so a
 * box of whole rows (or a whole array) is one run, and a 1-d contiguous call is walked as before.
 */
#ifndef FD_BOX_H
#define FD_BOX_H

#include "fd_drivers.h"

/* Element count of a shape, or -1 if an extent is negative or the count passes 2^62. */
static inline int64_t fd_element_count(int ndim, const int64_t *shape)
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

/* A box as its walk sees it: merged dimensions (extents of 1 dropped), the logical step and the
 * byte strides of x and out (for the masks and normals, which write the box in its C order, only
 * the logical step counts) of each. */
typedef struct {
    int ndim; /* at least 1 */
    int64_t shape[FD_MAX_NDIM];
    int64_t logical[FD_MAX_NDIM];
    int64_t strides[2][FD_MAX_NDIM];
    uint64_t first; /* logical index of the box's element 0 */
    uint64_t count; /* elements of the box */
} fd_box_walk;

/* Where a walk is: the box's multi-index, the logical index and the byte offsets of x and out of
 * that element, and its C-order index in the box. */
typedef struct {
    int64_t index[FD_MAX_NDIM];
    uint64_t logical;
    int64_t at[2];
    uint64_t done;
} fd_box_cursor;

/* Checks a box and prepares its walk; count 0 means nothing to do. x_strides and out_strides may
 * be NULL (the masks and normals), `item` is the element size. FD_ERR_NULL, FD_ERR_NDIM,
 * FD_ERR_SHAPE (a negative extent, or more than 2^62 elements in the whole array) or FD_ERR_BOX. */
static inline fd_status fd_box_prepare(fd_box_walk *w, const fd_box *box, const int64_t *x_strides,
                                       const int64_t *out_strides, int64_t item)
{
    int64_t logical[FD_MAX_NDIM], total, count;
    int d, n = 0;
    if (!box) return FD_ERR_NULL;
    if (box->ndim < 0 || box->ndim > FD_MAX_NDIM) return FD_ERR_NDIM;
    if (box->ndim > 0 && (!box->global || !box->start || !box->shape)) return FD_ERR_NULL;
    total = fd_element_count(box->ndim, box->global);
    if (box->shape == box->global) { /* the whole array (fd_dropout): counted once */
        count = total;
        for (d = 0; d < box->ndim; d++)
            if (box->start[d] != 0) return total < 0 ? FD_ERR_SHAPE : FD_ERR_BOX;
    } else {
        count = fd_element_count(box->ndim, box->shape);
        for (d = 0; d < box->ndim && count >= 0 && total >= 0; d++)
            if (box->start[d] < 0 || box->start[d] > box->global[d] - box->shape[d])
                return FD_ERR_BOX;
    }
    if (total < 0 || count < 0) return FD_ERR_SHAPE;
    w->count = (uint64_t)count;
    w->first = 0;
    if (count == 0) return FD_OK;
    for (d = box->ndim - 1; d >= 0; d--) {
        logical[d] = d == box->ndim - 1 ? 1 : logical[d + 1] * box->global[d + 1];
        w->first += (uint64_t)(box->start[d] * logical[d]);
    }
    for (d = 0; d < box->ndim; d++) {
        const int64_t extent = box->shape[d];
        if (extent == 1) continue;
        if (n > 0 && w->logical[n - 1] == logical[d] * extent &&
            (!x_strides || (w->strides[0][n - 1] == x_strides[d] * extent &&
                            w->strides[1][n - 1] == out_strides[d] * extent))) {
            w->shape[n - 1] *= extent;
            w->logical[n - 1] = logical[d];
            if (x_strides) {
                w->strides[0][n - 1] = x_strides[d];
                w->strides[1][n - 1] = out_strides[d];
            }
            continue;
        }
        w->shape[n] = extent;
        w->logical[n] = logical[d];
        w->strides[0][n] = x_strides ? x_strides[d] : item;
        w->strides[1][n] = x_strides ? out_strides[d] : item;
        n++;
    }
    if (n == 0) { /* 0-d, or every extent 1: one element */
        w->shape[0] = w->logical[0] = 1;
        w->strides[0][0] = w->strides[1][0] = item;
        n = 1;
    }
    w->ndim = n;
    return FD_OK;
}

/* The cursor at the box's element `done` (C order). */
static inline void fd_box_seek(const fd_box_walk *w, fd_box_cursor *c, uint64_t done)
{
    uint64_t rest = done;
    int d;
    c->logical = w->first;
    c->at[0] = c->at[1] = 0;
    c->done = done;
    if (done == 0) { /* a call on one thread: no divisions */
        c->index[w->ndim - 1] = 0; /* alone: read next, it must not wait on a wide store */
        for (d = 0; d < w->ndim - 1; d++) c->index[d] = 0;
        return;
    }
    for (d = w->ndim - 1; d >= 0; d--) {
        c->index[d] = (int64_t)(rest % (uint64_t)w->shape[d]);
        rest /= (uint64_t)w->shape[d];
        c->logical += (uint64_t)(c->index[d] * w->logical[d]);
        c->at[0] += c->index[d] * w->strides[0][d];
        c->at[1] += c->index[d] * w->strides[1][d];
    }
}

/* The run from the cursor, at most up to the box's element `end`: the rest of the innermost
 * dimension where it steps the logical index by 1, else one element. */
static inline size_t fd_box_run(const fd_box_walk *w, const fd_box_cursor *c, uint64_t end)
{
    const int inner = w->ndim - 1;
    uint64_t run = w->logical[inner] == 1 ? (uint64_t)(w->shape[inner] - c->index[inner]) : 1;
    return (size_t)(run < end - c->done ? run : end - c->done);
}

/* Moves the cursor n elements on, n at most the rest of the innermost dimension. */
static inline void fd_box_advance(const fd_box_walk *w, fd_box_cursor *c, size_t n)
{
    int d = w->ndim - 1;
    c->index[d] += (int64_t)n;
    c->logical += (uint64_t)(w->logical[d] * (int64_t)n);
    c->at[0] += w->strides[0][d] * (int64_t)n;
    c->at[1] += w->strides[1][d] * (int64_t)n;
    c->done += n;
    for (; d > 0 && c->index[d] == w->shape[d]; d--) {
        c->logical += (uint64_t)(w->logical[d - 1] - w->logical[d] * w->shape[d]);
        c->at[0] += w->strides[0][d - 1] - w->strides[0][d] * w->shape[d];
        c->at[1] += w->strides[1][d - 1] - w->strides[1][d] * w->shape[d];
        c->index[d] = 0;
        c->index[d - 1]++;
    }
}

/*
 * The blocks to compute together from the block of the cursor's element, whose run is `run`
 * elements: [that block, the returned end), at most `limit` blocks. The window takes in the runs
 * that follow (up to the box's element `end`) while each starts in the block where the last one
 * ended or the next: a box of short rows with short gaps is computed in long windows, as one call
 * would compute it, and no block that no element of the box is in is ever computed.
 */
static inline uint64_t fd_box_window_end(const fd_box_walk *w, const fd_box_cursor *c, size_t run,
                                         uint64_t end, uint64_t limit)
{
    const uint64_t stop = c->logical / FD_BLOCK_ELEMENTS + limit;
    uint64_t last = (c->logical + run - 1) / FD_BLOCK_ELEMENTS;
    fd_box_cursor ahead;
    int d;
    if (last + 1 >= stop) return stop;
    if (c->done + run >= end) return last + 1;
    for (d = 0; d < w->ndim; d++) ahead.index[d] = c->index[d];
    ahead.logical = c->logical;
    ahead.at[0] = ahead.at[1] = 0; /* not needed here */
    ahead.done = c->done;
    fd_box_advance(w, &ahead, run);
    for (;;) {
        size_t n;
        if (ahead.logical / FD_BLOCK_ELEMENTS > last + 1) return last + 1; /* a block unneeded */
        n = fd_box_run(w, &ahead, end);
        last = (ahead.logical + n - 1) / FD_BLOCK_ELEMENTS;
        if (last + 1 >= stop) return stop;
        if (ahead.done + n >= end) return last + 1;
        fd_box_advance(w, &ahead, n);
    }
}

#endif /* FD_BOX_H */
