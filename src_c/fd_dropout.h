/*
 * fastdrop's C core: Bernoulli keep-masks from Philox4x32-10 and the dropout kernels.
 * Plain C99, no Python or NumPy headers. fastdrop/_core.pyx declares these functions again:
 * keep the two in step.
 *
 * The determinism rule. A call has a 64-bit key and a 64-bit offset (in counter blocks). Element i
 * of the call (its logical C-order index) belongs to block b = i / 128 and has index e = i % 128
 * in it. Its keep decision reads only Philox outputs at counters of that block,
 *
 *     (c0, c1, c2) = offset + b as a 96-bit number (c0 least significant),  c3 = k,
 *
 * and compares a 32-bit uniform U_i with T = fd_threshold(p) in [0, 2^32]: kept iff U_i < T.
 * U_i's top FD_PLANES = 8 bits come from the bit planes k = 0 .. 7: bit 31 - k of U_i is bit e % 32
 * of output word e / 32 at c3 = k. Its low 24 bits are the top 24 bits of output word e % 4 at
 * c3 = 8 + e / 4 (c3 = 8 .. 39). Nothing else enters the decision: not the dtype, strides, memory
 * layout, SIMD path, chunking or threads. A box (fd_box, below) of a larger array gets the
 * decisions of its elements' indices in the whole array.
 *
 * The planes decide most elements after a bit or two, and 255 in 256 within 8 planes, comparing
 * 128 elements per Philox output; only the ties (top byte equal to T's) need their own counter.
 * Planes below T's lowest set bit are never needed (an element equal to T's prefix there is >= T),
 * so p = 0.5 (T = 2^31) reads one plane. The result is exactly the 32-bit comparison, so the keep
 * probability is exactly T / 2^32. A call of n elements consumes fd_blocks(n) = ceil(n / 128)
 * counter blocks; the next call of a stream starts at offset + fd_blocks(n). Counter words c3 of
 * 64 and up belong to other kinds of noise (fd_normal: 64 .. 127).
 */
#ifndef FD_DROPOUT_H
#define FD_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FD_BLOCK_ELEMENTS 128            /* elements sharing one counter block */
#define FD_PLANES 8                      /* bit planes before the ties */
#define FD_THRESHOLD_ONE ((uint64_t)1 << 32) /* threshold that keeps every element */
#define FD_MAX_NDIM 64                   /* NumPy 2's NPY_MAXDIMS */
#define FD_MAX_THREADS 256               /* fd_set_num_threads caps here */
#define FD_MIN_PART_ELEMENTS (1 << 17)   /* a call uses a thread per this many elements at most */

typedef enum {
    FD_OK = 0,
    FD_ERR_NULL = 1,      /* a pointer is NULL where data is needed */
    FD_ERR_NDIM = 2,      /* ndim < 0 or > FD_MAX_NDIM */
    FD_ERR_SHAPE = 3,     /* a negative extent, or more than 2^62 elements */
    FD_ERR_THRESHOLD = 4, /* threshold > 2^32 */
    FD_ERR_DTYPE = 5,     /* not one of fd_dtype */
    FD_ERR_SIMD = 6,      /* fd_simd_select: unknown path, or not supported by this CPU */
    FD_ERR_SCALE = 7,     /* fd_dropout: scale is NaN */
    FD_ERR_BOX = 8        /* a box starts before its array or ends beyond it */
} fd_status;

/* Element types. FD_BFLOAT16 is bfloat16 (the top 16 bits of a float32: PyTorch's torch.bfloat16,
 * ml_dtypes.bfloat16); it follows FD_FLOAT64 so that the codes of the first three stay put. */
typedef enum { FD_FLOAT16 = 0, FD_FLOAT32 = 1, FD_FLOAT64 = 2, FD_BFLOAT16 = 3 } fd_dtype;

/* What one call's mask is a function of (with the element count). */
typedef struct {
    uint64_t key;       /* Philox key: word 0 = low 32 bits, word 1 = high 32 bits */
    uint64_t offset;    /* counter block of the call's element 0 */
    uint64_t threshold; /* keep iff U < threshold; 0 drops all, FD_THRESHOLD_ONE keeps all */
} fd_bernoulli;

/* T = 2^32 - round(p * 2^32), so |T / 2^32 - (1 - p)| <= 2^-33. p must be in [0, 1]. */
uint64_t fd_threshold(double p);

/* Counter blocks a call of n elements consumes: ceil(n / 128). */
uint64_t fd_blocks(uint64_t n);

/* Philox4x32-10 of n counters: ctr and out hold 4 words per counter. */
void fd_philox4x32_10_many(size_t n, const uint32_t *ctr, const uint32_t key[2], uint32_t *out);

/*
 * Dropout of an ndim array of the given shape: x and out are byte pointers to element 0 with byte
 * strides (any sign, any alignment). Kept elements become x * scale (float16 and bfloat16: the
 * product in float32, rounded to nearest even, a NaN keeping its sign and its payload's top bits;
 * scale == 1 copies x bit for bit; a NaN scale is refused: which NaN x * NaN gives depends on the
 * operand order a compiler picks), dropped ones +0.0. If mask is not
 * NULL it receives the C-order bool mask (1 = kept), one byte per element. x and out may be the
 * same array (same pointer and strides); any other overlap is the caller's to resolve.
 */
fd_status fd_dropout(fd_dtype dtype, const fd_bernoulli *rule, double scale, int ndim,
                     const int64_t *shape, const void *x, const int64_t *x_strides, void *out,
                     const int64_t *out_strides, uint8_t *mask);

/* The bool mask of n elements (1 = kept), contiguous. */
fd_status fd_mask_bool(const fd_bernoulli *rule, uint64_t n, uint8_t *mask);

/* The mask packed 8 elements a byte, element i in bit i % 8 of byte i / 8 (np.packbits with
 * bitorder="little"); the ceil(n / 8) bytes are written whole, unused high bits 0. */
fd_status fd_mask_packed(const fd_bernoulli *rule, uint64_t n, uint8_t *packed);

/*
 * Boxes: any chunk of a logical array, with the bits the whole array's call gives it. A box of an
 * ndim-dimensional array of shape global[] is the elements whose coordinates lie in
 * [start[d], start[d] + shape[d]) in every dimension d. The box's element with coordinates j (in
 * the box) is element
 *
 *     i = sum over d of (start[d] + j[d]) * global[d + 1] * ... * global[ndim - 1]
 *
 * of the whole array (its logical C-order index) and gets exactly element i's decision or variate
 * under the same rule: the boxes of any partition of an array, each computed by its own call (on
 * any thread, process or machine), give the bits of one call over the array. Chunks of a Dask
 * array are such boxes, and so are batches of rows. A box's elements are written in the box's own
 * C order; its rows may start anywhere in a counter block, and a call computes only the blocks its
 * elements are in. ndim 0 is one element; a box of no elements writes nothing.
 *
 * Errors besides a call's own: FD_ERR_NULL (box, or one of its arrays when ndim > 0),
 * FD_ERR_NDIM, FD_ERR_SHAPE (a negative extent in global or shape, or more than 2^62 elements
 * in the whole array) and FD_ERR_BOX (start[d] < 0 or start[d] + shape[d] > global[d]).
 */
typedef struct {
    int ndim;              /* 0 .. FD_MAX_NDIM */
    const int64_t *global; /* the whole array's shape */
    const int64_t *start;  /* the box's first element, one coordinate per dimension */
    const int64_t *shape;  /* the box's extents */
} fd_box;

/* fd_dropout of a box: x and out (and mask, in the box's C order) have the box's shape. */
fd_status fd_dropout_box(fd_dtype dtype, const fd_bernoulli *rule, double scale, const fd_box *box,
                         const void *x, const int64_t *x_strides, void *out,
                         const int64_t *out_strides, uint8_t *mask);

/* fd_mask_bool and fd_mask_packed of a box: its elements in its C order, one byte each, or packed
 * 8 a byte (the box's element k in bit k % 8 of byte k / 8, unused high bits 0). */
fd_status fd_mask_bool_box(const fd_bernoulli *rule, const fd_box *box, uint8_t *mask);
fd_status fd_mask_packed_box(const fd_bernoulli *rule, const fd_box *box, uint8_t *packed);

/* fd_normal (below) of a box: its variates in its C order, contiguous. */
fd_status fd_normal_box(uint64_t key, uint64_t offset, const fd_box *box, fd_dtype dtype,
                        void *out);

/*
 * Standard normal variates for Gaussian dropout, by the same determinism rule: element i (block
 * b = i / 128, e = i % 128) is one of the Box-Muller pair at counter (offset + b, c3 = 64 + e / 2),
 *
 *     u1 = (1 + (w1 w0 >> 11)) / 2^53 in (0, 1],  u2 = (w3 w2 >> 11) / 2^53 in [0, 1),
 *     z = sqrt(-2 ln u1) * cos(2 pi u2) for even e, * sin(2 pi u2) for odd e,
 *
 * where w1 w0 is the 64-bit number with high word w1. ln, sin and cos are fastdrop's own
 * (Taylor series in IEEE double arithmetic, within a few ulps of the true values; fd_normal.c),
 * so the result is the same bits on every platform, thread count and kernel path. dtype
 * FD_FLOAT32 rounds the double once; FD_FLOAT16 and FD_BFLOAT16 are not accepted. A call
 * consumes fd_blocks(n) blocks, like a mask.
 */
fd_status fd_normal(uint64_t key, uint64_t offset, uint64_t n, fd_dtype dtype, void *out);

/*
 * Gaussian dropout of n contiguous elements in one pass: out[i] = x[i] (1 + sigma z_i), z_i
 * element i of fd_normal(key, offset, n), rounded as fastdrop.gaussian_dropout computes it with
 * NumPy: FD_FLOAT64 as x * (z * sigma + 1) in float64; FD_FLOAT32 as x * (z * s + 1) in float32,
 * z the float32 variate and s = (float)sigma; FD_FLOAT16 as that in float32 of x widened, the
 * product rounded to float16. x and out may be the same array (any other overlap is the
 * caller's to resolve), and any alignment. A NaN sigma is refused (FD_ERR_SCALE). Consumes
 * fd_blocks(n) blocks, as fd_normal.
 */
fd_status fd_gaussian_dropout(fd_dtype dtype, uint64_t key, uint64_t offset, uint64_t n,
                              double sigma, const void *x, void *out);

/*
 * The RNG floors, for benchmarks: the Philox outputs a call of n elements needs, generated by the
 * active path as its kernels generate them, then discarded. fd_floor_mask, those of a mask under
 * rule (fd_mask_bool, fd_mask_packed, fd_dropout): the planes of every block (none if T is 0 or
 * 2^32, one for T = 2^31), and where ties follow, one output per 2^FD_PLANES elements, their
 * average count; fd_floor_normal, those of fd_normal: 64 a block. Errors as those calls', but
 * for the pointers to data.
 */
fd_status fd_floor_mask(const fd_bernoulli *rule, uint64_t n);
fd_status fd_floor_normal(uint64_t key, uint64_t offset, uint64_t n);

/* Kernel paths: select one by name ("auto" picks the best this CPU runs), read the active one, and
 * list those this CPU can run, best first, comma-separated (set by the first fd_simd_select; not
 * thread-safe: fastdrop selects once, at import). */
fd_status fd_simd_select(const char *name);
const char *fd_simd_path(void);
const char *fd_simd_available(void);

/* Threads a call may use, the calling one included (1 .. FD_MAX_THREADS; default 1). A call of
 * n elements uses at most n / FD_MIN_PART_ELEMENTS, and only helper threads that are idle, so
 * concurrent calls never oversubscribe; the threads take pieces of 2^15 elements in turn. The
 * output is the same for every thread count. */
void fd_set_num_threads(int n);
int fd_get_num_threads(void);

/* A short English text for a status code. */
const char *fd_status_message(fd_status status);

#ifdef __cplusplus
}
#endif

#endif /* FD_DROPOUT_H */
