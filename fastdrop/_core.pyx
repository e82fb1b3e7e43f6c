# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, freethreading_compatible=True
"""Private bindings of the C core (src_c/fd_dropout.h). fastdrop.functional checks arguments,
except on the fast path for the common call (common_dropout), which checks its own.

The cdef extern block below repeats src_c/fd_dropout.h: keep the two in step.
"""
import os

cimport cython
cimport numpy as cnp
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

cnp.import_array()

# The C core takes int64 shapes and strides; npy_intp is that wide on every 64-bit platform.
if sizeof(cnp.npy_intp) != 8:
    raise ImportError("fastdrop needs a 64-bit platform (npy_intp of 8 bytes)")

cdef extern from "fd_dropout.h" nogil:
    ctypedef enum fd_status:
        FD_OK
    ctypedef enum fd_dtype:
        FD_FLOAT16
        FD_FLOAT32
        FD_FLOAT64
    ctypedef struct fd_bernoulli:
        uint64_t key
        uint64_t offset
        uint64_t threshold
    uint64_t FD_BLOCK_ELEMENTS
    uint64_t FD_THRESHOLD_ONE
    uint64_t fd_threshold(double p)
    uint64_t fd_blocks(uint64_t n)
    void fd_philox4x32_10_many(size_t n, const uint32_t *ctr, const uint32_t *key, uint32_t *out)
    fd_status fd_dropout(fd_dtype dtype, const fd_bernoulli *rule, double scale, int ndim,
                         const int64_t *shape, const void *x, const int64_t *x_strides,
                         void *out, const int64_t *out_strides, uint8_t *mask)
    fd_status fd_mask_bool(const fd_bernoulli *rule, uint64_t n, uint8_t *mask)
    fd_status fd_mask_packed(const fd_bernoulli *rule, uint64_t n, uint8_t *packed)
    fd_status fd_normal(uint64_t key, uint64_t offset, uint64_t n, fd_dtype dtype, void *out)
    fd_status fd_gaussian_dropout(fd_dtype dtype, uint64_t key, uint64_t offset, uint64_t n,
                                  double sigma, const void *x, void *out)
    fd_status fd_floor_mask(const fd_bernoulli *rule, uint64_t n)
    fd_status fd_floor_normal(uint64_t key, uint64_t offset, uint64_t n)
    fd_status fd_simd_select(const char *name)
    const char *fd_simd_path()
    const char *fd_simd_available()
    const char *fd_status_message(fd_status status)
    void fd_set_num_threads(int n)
    int fd_get_num_threads()
    int FD_MAX_THREADS

BLOCK_ELEMENTS = FD_BLOCK_ELEMENTS
MAX_THREADS = FD_MAX_THREADS
# Threads whose latest draw a stream remembers (those that drew last): a stream shared by
# short-lived threads does not grow with every thread that ever used it.
THREADS_REMEMBERED = 1024


cdef int check(fd_status status) except -1:
    """The one place where a C status becomes a Python exception."""
    if status != FD_OK:
        raise RuntimeError(f"fastdrop C core: {fd_status_message(status).decode()}")
    return 0


def _select_path():
    name = os.environ.get("FASTDROP_SIMD", "auto").strip().lower() or "auto"
    if fd_simd_select(name.encode()) != FD_OK:
        raise ImportError(
            f"FASTDROP_SIMD={name!r} is not a kernel path this CPU runs; "
            f"use 'auto' or one of: {fd_simd_available().decode()}"
        )


_select_path()


def simd_path():
    return fd_simd_path().decode()


def simd_available():
    return fd_simd_available().decode().split(",")


def set_num_threads(int n):
    fd_set_num_threads(n)


def get_num_threads():
    return fd_get_num_threads()


def threshold(double p):
    return fd_threshold(p)


def blocks(uint64_t n):
    return fd_blocks(n)


def philox4x32(cnp.ndarray counter, cnp.ndarray key, cnp.ndarray out):
    """counter: C-contiguous uint32 (n, 4); key: uint32 (2,); out like counter."""
    cdef size_t n = <size_t>(cnp.PyArray_SIZE(counter) // 4)
    cdef const uint32_t *c = <const uint32_t *>cnp.PyArray_DATA(counter)
    cdef const uint32_t *k = <const uint32_t *>cnp.PyArray_DATA(key)
    cdef uint32_t *o = <uint32_t *>cnp.PyArray_DATA(out)
    with nogil:
        fd_philox4x32_10_many(n, c, k, o)


cdef fd_dtype dtype_code(cnp.ndarray a) except *:
    cdef int size = cnp.PyArray_ITEMSIZE(a)
    if size == 2:
        return FD_FLOAT16
    if size == 4:
        return FD_FLOAT32
    return FD_FLOAT64


# Below this many elements a call keeps the GIL: releasing and taking it back costs more.
cdef int64_t GIL_FREE_ELEMENTS = 1 << 14


cdef int run_dropout(cnp.ndarray x, cnp.ndarray out, uint8_t *mask, uint64_t key,
                     uint64_t offset, uint64_t threshold, double scale) except -1:
    cdef fd_bernoulli rule
    rule.key = key
    rule.offset = offset
    rule.threshold = threshold
    cdef fd_dtype dtype = dtype_code(x)
    cdef int ndim = cnp.PyArray_NDIM(x)
    cdef const int64_t *shape = <const int64_t *>cnp.PyArray_DIMS(x)
    cdef const int64_t *x_strides = <const int64_t *>cnp.PyArray_STRIDES(x)
    cdef const int64_t *out_strides = <const int64_t *>cnp.PyArray_STRIDES(out)
    cdef const void *px = cnp.PyArray_DATA(x)
    cdef void *po = cnp.PyArray_DATA(out)
    cdef fd_status status
    if cnp.PyArray_SIZE(x) < GIL_FREE_ELEMENTS:
        status = fd_dropout(dtype, &rule, scale, ndim, shape, px, x_strides, po, out_strides, mask)
    else:
        with nogil:
            status = fd_dropout(dtype, &rule, scale, ndim, shape, px, x_strides, po, out_strides,
                                mask)
    return check(status)


def dropout(cnp.ndarray x, cnp.ndarray out, object mask, uint64_t key, uint64_t offset,
            uint64_t threshold, double scale):
    """Dropout of x into out (same shape and float dtype, native order); mask: None or a
    C-contiguous bool array of the same size."""
    cdef uint8_t *pm = NULL
    if mask is not None:
        pm = <uint8_t *>cnp.PyArray_DATA(<cnp.ndarray>mask)
    run_dropout(x, out, pm, key, offset, threshold, scale)


cdef extern from "Python.h":
    ctypedef struct PyThreadState:
        pass
    PyThreadState *PyThreadState_Get()
    uint64_t PyThreadState_GetID(PyThreadState *tstate)


cdef class Counter:
    """The state of a fastdrop.Philox stream (its subclass): the key, the next free counter block
    and each thread's latest draw.

    A mutex guards it all (free-threaded Python has no GIL to do so). Threads are told apart by
    their thread state's id, which, unlike a thread ident, no later thread reuses.
    """
    cdef readonly uint64_t key
    cdef uint64_t next_block
    cdef bint passed_end  # next_block wrapped past 2**64 - 1: the stream is exhausted
    cdef cython.pymutex lock
    # The latest draw and its thread; other threads' latest draws wait in earlier_draws (oldest
    # first, THREADS_REMEMBERED - 1 at most), so a stream that one thread uses records its draws
    # without a Python object.
    cdef bint drawn
    cdef uint64_t drawn_by
    cdef uint64_t drawn_offset
    cdef dict earlier_draws

    def __cinit__(self, *args, **kwargs):
        self.earlier_draws = {}

    def __init__(self, uint64_t key, uint64_t offset):
        with self.lock:  # __init__ again starts a new stream: no draws, not exhausted
            self.key = key
            self.next_block = offset
            self.passed_end = False
            self.drawn = False
            self.earlier_draws = {}

    @property
    def offset(self):
        """The first counter block the next call will use (past 2**64 - 1: exhausted)."""
        with self.lock:
            return self.next_block + (UINT64_LIMIT if self.passed_end else 0)

    @property
    def last_draw(self):
        """The (key, offset) of the latest call this thread made with the stream, or None."""
        cdef uint64_t me = PyThreadState_GetID(PyThreadState_Get())
        cdef object offset
        with self.lock:
            if self.drawn and self.drawn_by == me:
                offset = self.drawn_offset
            else:
                offset = self.earlier_draws.get(me)
        return None if offset is None else (self.key, offset)

    cdef uint64_t take_blocks(self, uint64_t blocks) except? 0:
        """Reserves `blocks` counter blocks for this thread and returns the first."""
        cdef uint64_t start, me = PyThreadState_GetID(PyThreadState_Get())
        cdef bint exhausted
        with self.lock:
            start = self.next_block
            exhausted = self.passed_end
            if not exhausted:
                self.next_block = start + blocks
                self.passed_end = self.next_block < start
                if self.drawn and self.drawn_by != me:
                    self.earlier_draws[self.drawn_by] = self.drawn_offset
                    self.earlier_draws.pop(me, None)  # this thread's draw is the latest now
                    if len(self.earlier_draws) >= THREADS_REMEMBERED:
                        del self.earlier_draws[next(iter(self.earlier_draws))]
                self.drawn = True
                self.drawn_by = me
                self.drawn_offset = start
        if exhausted:
            raise ValueError(
                f"Philox stream exhausted: its offset {start + UINT64_LIMIT} passed 2**64 - 1"
            )
        return start

    def _take(self, uint64_t n):
        """Reserves the blocks of n elements for this thread and returns the first."""
        return self.take_blocks(fd_blocks(n))

    def _continue_from(self, uint64_t offset, bint exhausted):
        """Moves the next free block to offset (exhausted: past 2**64 - 1), for copies."""
        with self.lock:
            self.next_block = offset
            self.passed_end = exhausted


cdef object UINT64_LIMIT = (<object>1) << 64
def common_dropout(object x, object p, object rng, object training, object mode, object out):
    """fastdrop.dropout for the common call, or None for every other one (functional.dropout
    then checks everything and reports errors): x an ndarray of float16/32/64 in native byte
    order, p a float in [0, 1], rng an int key or a Philox, training a bool, mode valid, out None
    or x itself, and no mask requested."""
    cdef cnp.ndarray source, result
    cdef int type_num
    cdef double drop
    cdef uint64_t key, offset = 0, threshold
    cdef double scale
    cdef bint inverted
    cdef Counter counter

    if type(x) is not cnp.ndarray or type(p) is not float:
        return None
    source = <cnp.ndarray>x
    type_num = cnp.PyArray_TYPE(source)
    if type_num != cnp.NPY_FLOAT16 and type_num != cnp.NPY_FLOAT and type_num != cnp.NPY_DOUBLE:
        return None
    if not cnp.PyArray_ISNOTSWAPPED(source):
        return None
    drop = <double>p
    if not (0.0 <= drop <= 1.0):
        return None
    if training is not True and training is not False:
        return None
    if mode == "inverted":
        inverted = True
    elif mode == "vanilla":
        inverted = False
    else:
        return None
    if out is None:
        result = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(source), cnp.PyArray_DIMS(source), type_num, 0)
    elif out is x and cnp.PyArray_ISWRITEABLE(source):
        result = source
    else:
        return None

    if type(rng) is int:
        if not 0 <= rng < UINT64_LIMIT:
            return None
    elif not isinstance(rng, Counter):  # a fastdrop.Philox
        return None

    if training is False:
        scale = 1.0 if inverted else 1.0 - drop
        run_dropout(source, result, NULL, 0, 0, FD_THRESHOLD_ONE, scale)
        return result
    if type(rng) is int:
        key = rng
    else:
        counter = <Counter>rng
        key = counter.key
        offset = counter.take_blocks(fd_blocks(<uint64_t>cnp.PyArray_SIZE(source)))
    threshold = fd_threshold(drop)
    scale = 1.0 / (1.0 - drop) if inverted and drop < 1.0 else 1.0
    run_dropout(source, result, NULL, key, offset, threshold, scale)
    return result


def mask(cnp.ndarray out, uint64_t n, uint64_t key, uint64_t offset, uint64_t threshold,
         bint packed):
    """The keep-mask of n elements into C-contiguous uint8 out: n bytes, or ceil(n / 8) packed."""
    cdef fd_bernoulli rule
    rule.key = key
    rule.offset = offset
    rule.threshold = threshold
    cdef uint8_t *po = <uint8_t *>cnp.PyArray_DATA(out)
    cdef fd_status status
    with nogil:
        if packed:
            status = fd_mask_packed(&rule, n, po)
        else:
            status = fd_mask_bool(&rule, n, po)
    check(status)


def normal(cnp.ndarray out, uint64_t key, uint64_t offset):
    """Standard normal variates (fd_normal) into C-contiguous float32 or float64 out."""
    cdef fd_dtype dtype = dtype_code(out)
    cdef uint64_t n = <uint64_t>cnp.PyArray_SIZE(out)
    cdef void *po = cnp.PyArray_DATA(out)
    cdef fd_status status
    with nogil:
        status = fd_normal(key, offset, n, dtype, po)
    check(status)


def gaussian_dropout(cnp.ndarray x, cnp.ndarray out, uint64_t key, uint64_t offset, double sigma):
    """Gaussian dropout (fd_gaussian_dropout) of C-contiguous float x into C-contiguous out of
    its size and dtype: x itself, or an array that does not overlap it."""
    cdef fd_dtype dtype = dtype_code(x)
    cdef uint64_t n = <uint64_t>cnp.PyArray_SIZE(x)
    cdef const void *px = cnp.PyArray_DATA(x)
    cdef void *po = cnp.PyArray_DATA(out)
    cdef fd_status status
    with nogil:
        status = fd_gaussian_dropout(dtype, key, offset, n, sigma, px, po)
    check(status)


def floor(uint64_t n, uint64_t key, uint64_t offset, object threshold):
    """The RNG floor of a call of n elements (benchmarks): the Philox outputs of a mask under
    threshold (fd_floor_mask), or of normals if threshold is None (fd_floor_normal), generated
    by the active path and discarded."""
    cdef fd_bernoulli rule
    cdef fd_status status
    cdef bint normal = threshold is None
    rule.key = key
    rule.offset = offset
    rule.threshold = 0 if normal else <uint64_t>threshold
    with nogil:
        status = fd_floor_normal(key, offset, n) if normal else fd_floor_mask(&rule, n)
    check(status)
