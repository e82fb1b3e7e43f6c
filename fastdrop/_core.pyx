# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, freethreading_compatible=True
"""Private core of fastdrop: the bindings of the C core (src_c/fd_dropout.h), the one place where
each rule on the public API's arguments is written (fastdrop.functional and fastdrop.nn call the
same checks), draws and streams, and dropout itself, which checks its arguments, allocates, and
runs the C kernel without the GIL, in that order, on every call.

The cdef extern block below repeats src_c/fd_dropout.h: keep the two in step.
"""
import numbers
import os

import numpy as np

cimport cython
cimport numpy as cnp
from libc.math cimport INFINITY, NAN, isfinite
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
        FD_BFLOAT16
    ctypedef struct fd_bernoulli:
        uint64_t key
        uint64_t offset
        uint64_t threshold
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
    ctypedef struct fd_box:
        int ndim
        const int64_t *whole "global"
        const int64_t *start
        const int64_t *shape
    fd_status fd_dropout_box(fd_dtype dtype, const fd_bernoulli *rule, double scale,
                             const fd_box *box, const void *x, const int64_t *x_strides,
                             void *out, const int64_t *out_strides, uint8_t *mask)
    fd_status fd_mask_bool_box(const fd_bernoulli *rule, const fd_box *box, uint8_t *mask)
    fd_status fd_mask_packed_box(const fd_bernoulli *rule, const fd_box *box, uint8_t *packed)
    fd_status fd_normal_box(uint64_t key, uint64_t offset, const fd_box *box, fd_dtype dtype,
                            void *out)
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
    int FD_MAX_NDIM

cdef extern from "numpy/arrayobject.h":
    # descr NULL: the prototype's dtype. Not declared by NumPy's own .pxd.
    object PyArray_NewLikeArray(cnp.ndarray prototype, int order, void *descr, int subok)

MAX_THREADS = FD_MAX_THREADS
# The codes of fd_dtype by dtype name, for fastdrop.torch's dropout_strided.
DTYPE_CODES = {
    "float16": FD_FLOAT16, "float32": FD_FLOAT32, "float64": FD_FLOAT64, "bfloat16": FD_BFLOAT16
}
cdef object UINT64_LIMIT = (<object>1) << 64
cdef object UINT64_MAX = UINT64_LIMIT - 1
# Looked up once: a module attribute lookup costs as much as a check.
cdef object Generator = np.random.Generator
cdef tuple GENERATOR_SEEDS = (np.random.SeedSequence, np.random.BitGenerator)  # SPEC 7's others
cdef object numpy_bool = np.bool_


cdef int check(fd_status status) except -1:
    """The one place where a C status becomes a Python exception."""
    if status != FD_OK:
        raise RuntimeError(f"fastdrop C core: {fd_status_message(status).decode()}")
    return 0


# -- the kernel path and threads --------------------------------------------------------------

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


cdef bint threads_chosen = False


def set_num_threads(int n, bint chosen=True):
    """Threads per call; ``chosen``: the user's choice (fastdrop.set_num_threads or
    FASTDROP_NUM_THREADS), which fastdrop.torch leaves alone, rather than a default it may
    replace by PyTorch's thread count."""
    global threads_chosen
    fd_set_num_threads(n)
    threads_chosen = chosen


def get_num_threads():
    return fd_get_num_threads()


def num_threads_chosen():
    """Whether the thread count is the user's choice (see set_num_threads)."""
    return threads_chosen


# -- the rules on arguments: each written once, here --------------------------------------------

def describe(object value):
    """``value`` as an error message shows it: a huge int by its size, a long repr cut short."""
    if is_integer(value) and int(value).bit_length() > 128:
        return f"an int of about {int(abs(int(value)).bit_length() * 0.30103) + 1} digits"
    try:
        text = repr(value)
    except ValueError:  # Python refuses to print an int of over 4,300 digits
        return f"a huge {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."


cpdef bint is_integer(object value):
    """An integer, and not a bool (True is not a key, a size or a count)."""
    if type(value) is int:
        return True
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, numpy_bool))


cpdef object check_int(object value, str name, object low, object high=None):
    """``value`` as an int in [low, high] (no upper bound for None): TypeError if it is no int
    (a bool or a float is none), ValueError out of range."""
    if type(value) is int and low <= value and (high is None or value <= high):  # quickly
        return value
    if high is None:
        bounds = f">= {low}"
    elif high == UINT64_MAX:
        bounds = f"in [{low}, 2**64)"
    else:
        bounds = f"in [{low}, {high}]"
    if not is_integer(value):
        raise TypeError(
            f"{name} must be an int {bounds}, got {type(value).__name__} {describe(value)}"
        )
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be an int {bounds}, got {describe(value)}")
    return int(value)


cpdef object check_uint64(object value, str name):
    """``value`` as an int in [0, 2**64), as keys and offsets are."""
    return check_int(value, name, 0, UINT64_MAX)


cdef double real_number(object value, str wanted) except? -1.0:
    """``value`` as a double if it is a real number (not a bool; a 0-d array as its scalar, as
    NumPy's ufuncs take one); an int or Fraction beyond the floats is NaN, out of any range.
    Else a TypeError: "{wanted}, got" its type and value."""
    cdef object number = value
    if type(value) is float:
        return <double>value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        number = value[()]
    if isinstance(number, (bool, numpy_bool)) or not isinstance(number, numbers.Real):
        raise TypeError(f"{wanted}, got {type(value).__name__} {describe(value)}")
    try:
        return float(number)
    except OverflowError:
        return NAN


cpdef double check_p(object p, bint below_one=False) except -1.0:
    """A drop probability as a float: a real number (real_number) in [0, 1], or [0, 1) with
    ``below_one``. TypeError for any other type, ValueError out of range (and for NaN)."""
    cdef double value = real_number(p, "p must be a real number (the drop probability)")
    if not (0.0 <= value < 1.0 if below_one else 0.0 <= value <= 1.0):
        if below_one:
            raise ValueError(
                "p must be in [0, 1) (the drop probability; at 1 the scale 1 / (1 - p) or the "
                f"variance p / (1 - p) is infinite), got {describe(p)}"
            )
        raise ValueError(f"p must be in [0, 1] (the drop probability), got {describe(p)}")
    return value


cpdef bint check_bool(object value, str name) except -1:
    """A flag: True, False or a NumPy bool; TypeError for anything else (0, 1 and "no" too)."""
    if value is True:
        return True
    if value is False:
        return False
    if isinstance(value, numpy_bool):
        return bool(value)
    raise TypeError(f"{name} must be a bool, got {type(value).__name__} {describe(value)}")


cpdef bint check_mode(object mode) except -1:
    """True for mode "inverted", False for "vanilla" (check_choice's errors otherwise)."""
    return check_choice(mode, "mode", ("inverted", "vanilla")) == "inverted"


cdef str real_rule(double low, double high, bint low_open, bint high_open):
    """check_real's rule in words, as its messages give it."""
    if high == INFINITY:
        return f"a finite real number {'>' if low_open else '>='} {low:g}"
    opening, closing = "(" if low_open else "[", ")" if high_open else "]"
    return f"a real number in {opening}{low:g}, {high:g}{closing}"


cpdef double check_real(object value, str name, double low, double high=INFINITY,
                        bint low_open=False, bint high_open=False) except? -1.0:
    """``value`` as a float: a finite real number (real_number) from ``low`` to ``high``, each
    end included unless it is open. TypeError for any other type, ValueError out of range (NaN
    and infinity too)."""
    cdef str rule = real_rule(low, high, low_open, high_open)
    cdef double number = real_number(value, f"{name} must be {rule}")
    if (
        isfinite(number)
        and (number > low if low_open else number >= low)
        and (number < high if high_open else number <= high)
    ):
        return number
    raise ValueError(f"{name} must be {rule}, got {describe(value)}")


cpdef str check_choice(object value, str name, tuple choices):
    """``value`` if it is one of the strings ``choices``: TypeError for anything but a string,
    ValueError for another string."""
    if isinstance(value, str) and value in choices:
        return value
    last = len(choices) - 1  # no negative indices: the module is compiled with wraparound=False
    listed = ", ".join([repr(choice) for choice in choices[:last]]) + f" or {choices[last]!r}"
    if not isinstance(value, str):
        raise TypeError(f"{name} must be {listed}, got {type(value).__name__} {describe(value)}")
    raise ValueError(f"{name} must be {listed}, got {describe(value)}")


cdef inline bint native_float(cnp.ndarray a):
    cdef int kind = cnp.PyArray_TYPE(a)
    return (
        (kind == cnp.NPY_FLOAT16 or kind == cnp.NPY_FLOAT or kind == cnp.NPY_DOUBLE)
        and cnp.PyArray_ISNOTSWAPPED(a)
    )


# NumPy has no bfloat16: ml_dtypes (and libraries built on it) registers one at run time, under a
# type number of its own. A 2-byte dtype named "bfloat16" is taken for it (its layout, the top
# half of a float32, is the format's definition); the number of the first one seen is kept, so
# that later arrays of it are recognised as quickly as NumPy's floats.
cdef int bfloat16_type = -1


cdef bint is_bfloat16(object dtype) except -1:
    global bfloat16_type
    if dtype.num == bfloat16_type:
        return True
    if dtype.name != "bfloat16" or dtype.itemsize != 2:
        return False
    if bfloat16_type < 0:
        bfloat16_type = dtype.num
    return True


cpdef object check_float_dtype(object dtype, str name="x", bint bfloat16=False):
    """``dtype`` in native byte order if it is float16, float32 or float64 (or, with
    ``bfloat16``, a bfloat16 such as ml_dtypes.bfloat16); TypeError naming ``name`` otherwise."""
    floating = dtype.kind == "f" and dtype.itemsize in (2, 4, 8)
    if not floating and not (bfloat16 and is_bfloat16(dtype)):
        accepted = "float16, float32, float64 or bfloat16" if bfloat16 else (
            "float16, float32 or float64"
        )
        raise TypeError(f"{name} must have dtype {accepted}, got dtype {dtype}")
    return dtype if dtype.isnative else dtype.newbyteorder("=")


cpdef cnp.ndarray check_floating(object x, str name="x", bint bfloat16=False):
    """``x`` as an ndarray of a dtype check_float_dtype accepts, in native byte order
    (byte-swapped input is converted, in its own memory layout)."""
    if type(x) is cnp.ndarray and native_float(<cnp.ndarray>x):  # the common case, quickly
        return <cnp.ndarray>x
    array = np.asarray(x)
    native = check_float_dtype(array.dtype, name, bfloat16)
    return array if native is array.dtype else array.astype(native)


cpdef cnp.ndarray check_out(object out, object x):
    """Where a result of ``x``'s shape and dtype may be written: ``x`` itself if writeable, or an
    ndarray of that shape and dtype."""
    if out is x and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>x):  # in place
        return x
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != x.shape:
        raise ValueError(f"out has shape {out.shape}, but x has shape {x.shape}")
    if out.dtype != x.dtype:
        raise TypeError(
            f"out has dtype {out.dtype}, but the result has dtype {x.dtype} (native byte order)"
        )
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    return out


cpdef cnp.ndarray empty_like(cnp.ndarray x):
    """An uninitialised array of ``x``'s shape and dtype in ``x``'s memory layout (NumPy's
    order="K": Fortran stays Fortran, a permutation of axes stays that permutation)."""
    return PyArray_NewLikeArray(x, cnp.NPY_KEEPORDER, NULL, 0)


cdef bint same_memory_layout(cnp.ndarray a, cnp.ndarray b):
    """Same first byte and strides: element i of one is element i of the other."""
    return cnp.PyArray_DATA(a) == cnp.PyArray_DATA(b) and (<object>a).strides == (<object>b).strides


cpdef cnp.ndarray readable_before_written(cnp.ndarray x, cnp.ndarray out):
    """``x``, or a copy of it where writing ``out`` element by element could change elements of
    ``x`` not yet read (overlapping memory with another layout)."""
    if out is not x and np.may_share_memory(x, out) and not same_memory_layout(x, out):
        return x.copy(order="K")
    return x


# -- draws and streams ------------------------------------------------------------------------

@cython.final
cdef class Draw:
    """The counters of one call: a 64-bit Philox key and the first of its counter blocks.

    A draw is an immutable value. Every function that takes ``rng`` takes a draw, and uses
    exactly its counters, so the same draw gives the same mask (or noise) again, for any array
    of the same size: that is how a backward pass replays its forward without storing a mask.
    :meth:`fastdrop.Philox.draw` hands out draws; ``key, offset = draw`` unpacks one.

    Parameters
    ----------
    key : int
        The key, in [0, 2**64).
    offset : int, optional
        The first counter block (of 128 elements), in [0, 2**64).

    Examples
    --------
    >>> import numpy as np, fastdrop
    >>> stream = fastdrop.Philox(2024)
    >>> draw = stream.draw(1000)
    >>> draw
    fastdrop.Draw(key=2024, offset=0)
    >>> y = fastdrop.dropout(np.ones(1000), 0.5, rng=draw)
    >>> mask = fastdrop.dropout_mask(1000, 0.5, rng=draw)  # the same counters, the same mask
    >>> bool(np.array_equal(mask, y != 0))
    True
    """

    cdef readonly uint64_t key
    cdef readonly uint64_t offset
    cdef bint made  # __init__ has run (or make_draw): a second __init__ must not change it

    def __init__(self, key, offset=0):
        if self.made:
            raise AttributeError("a fastdrop.Draw is immutable: make a new one")
        self.key = check_uint64(key, "key")
        self.offset = check_uint64(offset, "offset")
        self.made = True

    def __repr__(self):
        return f"fastdrop.Draw(key={self.key}, offset={self.offset})"

    def __iter__(self):
        return iter((self.key, self.offset))

    def __eq__(self, other):
        if type(other) is not Draw:
            return NotImplemented
        return self.key == (<Draw>other).key and self.offset == (<Draw>other).offset

    def __hash__(self):
        return hash((Draw, self.key, self.offset))

    def __reduce__(self):
        return Draw, (self.key, self.offset)


cdef class PhiloxState:
    """The state of a fastdrop.Philox stream (its subclass): the key and the next free counter
    block. A mutex guards them (free-threaded Python has no GIL to do so), so threads sharing a
    stream never get overlapping counters."""

    cdef readonly uint64_t key
    cdef uint64_t next_block
    cdef bint passed_end  # next_block wrapped past 2**64 - 1: the stream is exhausted
    cdef cython.pymutex lock

    def __init__(self, uint64_t key, uint64_t offset):
        with self.lock:  # __init__ again starts a new stream
            self.key = key
            self.next_block = offset
            self.passed_end = False

    @property
    def offset(self):
        """The first counter block the next call will use (past 2**64 - 1: exhausted)."""
        with self.lock:
            return self.next_block + (UINT64_LIMIT if self.passed_end else 0)

    cdef uint64_t take_blocks(self, uint64_t blocks) except? 0:
        """Reserves ``blocks`` counter blocks and returns the first."""
        cdef uint64_t start
        cdef bint exhausted
        with self.lock:
            start = self.next_block
            exhausted = self.passed_end
            if not exhausted:
                self.next_block = start + blocks
                self.passed_end = self.next_block < start
        if exhausted:
            raise ValueError(
                f"Philox stream exhausted: its offset {start + UINT64_LIMIT} passed 2**64 - 1"
            )
        return start

    def _take(self, uint64_t n):
        """Reserves the blocks of n elements and returns the draw of a call over them."""
        cdef uint64_t start = self.take_blocks(fd_blocks(n))
        return make_draw(self.key, start)

    def _continue_from(self, uint64_t offset, bint exhausted):
        """Moves the next free block to offset (exhausted: past 2**64 - 1), for copies."""
        with self.lock:
            self.next_block = offset
            self.passed_end = exhausted


cdef Draw make_draw(uint64_t key, uint64_t offset):
    cdef Draw draw = Draw.__new__(Draw)
    draw.key = key
    draw.offset = offset
    draw.made = True
    return draw


def entropy_key():
    """A fresh 64-bit key from the operating system (fork-safe: nothing is cached)."""
    return int.from_bytes(os.urandom(8), "little")


cpdef int check_rng(object rng) except -1:
    """Raise the error a bad ``rng`` deserves, without drawing from it."""
    if type(rng) is not int and (rng is None or isinstance(rng, (PhiloxState, Draw, Generator))):
        return 0
    if is_integer(rng):  # after the others: an int is quick, but the ABC test of the rest is not
        check_uint64(rng, "rng")
        return 0
    if isinstance(rng, GENERATOR_SEEDS):
        return 0
    raise TypeError(
        "rng must be None, an int in [0, 2**64), a numpy.random.Generator (or a SeedSequence or "
        f"BitGenerator), a fastdrop.Philox or a fastdrop.Draw, got {type(rng).__name__}"
    )


cdef int take_draw(object rng, uint64_t n, uint64_t *key, uint64_t *offset) except -1:
    """The key and offset of a call over n elements; ``rng`` passed check_rng. None: a fresh
    key; an int: that key; a Generator: a key drawn from it; a Philox: the stream's next
    counters; a Draw: its own; a SeedSequence or BitGenerator: a key drawn from
    ``numpy.random.default_rng(rng)``, as SPEC 7 has it. All but a Philox and a Draw start at
    offset 0."""
    offset[0] = 0
    if type(rng) is int:
        key[0] = <uint64_t>rng
    elif isinstance(rng, PhiloxState):
        key[0] = (<PhiloxState>rng).key
        offset[0] = (<PhiloxState>rng).take_blocks(fd_blocks(n))
    elif type(rng) is Draw:
        key[0] = (<Draw>rng).key
        offset[0] = (<Draw>rng).offset
    elif rng is None:
        key[0] = entropy_key()
    elif isinstance(rng, Generator):
        key[0] = int(rng.integers(0, UINT64_LIMIT, dtype=np.uint64))
    elif isinstance(rng, GENERATOR_SEEDS):
        key[0] = int(np.random.default_rng(rng).integers(0, UINT64_LIMIT, dtype=np.uint64))
    else:  # a NumPy integer
        key[0] = int(rng)
    return 0


def resolve_draw(object rng, uint64_t n):
    """The draw a call over n elements uses (``rng`` passed check_rng); a stream moves on."""
    cdef uint64_t key, offset
    take_draw(rng, n, &key, &offset)
    return make_draw(key, offset)


# -- the kernels ------------------------------------------------------------------------------

def threshold(double p):
    return fd_threshold(p)


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
        return FD_BFLOAT16 if cnp.PyArray_TYPE(a) == bfloat16_type else FD_FLOAT16
    if size == 4:
        return FD_FLOAT32
    return FD_FLOAT64


cdef inline void dropout_constants(double drop, bint inverted, bint train, uint64_t *threshold,
                                   double *scale) noexcept:
    """The keep threshold and the scale of kept elements: dropout's rule, written once."""
    if train:
        threshold[0] = fd_threshold(drop)
        scale[0] = inverted_scale(drop) if inverted else 1.0
    else:
        threshold[0] = FD_THRESHOLD_ONE
        scale[0] = 1.0 if inverted else 1.0 - drop


def dropout_rule(double drop, bint inverted, bint train):
    """(threshold, scale) of a dropout call, as fastdrop.dropout computes them."""
    cdef uint64_t threshold
    cdef double scale
    dropout_constants(drop, inverted, train, &threshold, &scale)
    return threshold, scale


# Below this many elements a call keeps the GIL: releasing and taking it back costs more.
cdef int64_t GIL_FREE_ELEMENTS = 1 << 14


cdef inline fd_status call_dropout(fd_dtype dtype, const fd_bernoulli *rule, double scale, int ndim,
                                   const int64_t *shape, const void *x, const int64_t *x_strides,
                                   void *out, const int64_t *out_strides, uint8_t *mask,
                                   const fd_box *box) noexcept nogil:
    if box == NULL:
        return fd_dropout(dtype, rule, scale, ndim, shape, x, x_strides, out, out_strides, mask)
    return fd_dropout_box(dtype, rule, scale, box, x, x_strides, out, out_strides, mask)


cpdef double inverted_scale(double p):
    """What inverted dropout multiplies kept elements by in training: 1 / (1 - p), and 1 at
    p = 1 (where nothing is kept)."""
    return 1.0 / (1.0 - p) if p < 1.0 else 1.0


cdef int run_dropout(cnp.ndarray x, cnp.ndarray out, uint8_t *mask, uint64_t key,
                     uint64_t offset, uint64_t threshold, double scale,
                     const fd_box *box=NULL) except -1:
    """fd_dropout of x into out; with a box (of x's shape), fd_dropout_box: x is that box."""
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
        status = call_dropout(dtype, &rule, scale, ndim, shape, px, x_strides, po, out_strides,
                              mask, box)
    else:
        with nogil:
            status = call_dropout(dtype, &rule, scale, ndim, shape, px, x_strides, po,
                                  out_strides, mask, box)
    return check(status)


cdef enum:
    STRIDED_MAX_NDIM = 64  # FD_MAX_NDIM; the C core refuses more itself


cdef int fill_strides(object values, Py_ssize_t ndim, int64_t unit, int64_t *into) except -1:
    cdef Py_ssize_t d
    if len(values) != ndim:
        raise ValueError(f"{len(values)} strides for {ndim} dimensions")
    for d in range(ndim):
        into[d] = <int64_t>values[d] * unit
    return 0


def dropout_strided(int dtype, uint64_t key, uint64_t offset, uint64_t threshold, double scale,
                    object shape, size_t x, object x_strides, size_t out, object out_strides):
    """fd_dropout over memory given by address: fastdrop.torch's route (a tensor's data_ptr(),
    size() and stride(), which count elements), without copies. ``dtype`` is a code of fd_dtype
    (DTYPE_CODES); the caller owns the memory, has checked the shape and strides against it, and
    made ``out`` writable (it may be ``x``, with the same strides)."""
    cdef int64_t c_shape[STRIDED_MAX_NDIM]
    cdef int64_t c_x_strides[STRIDED_MAX_NDIM]
    cdef int64_t c_out_strides[STRIDED_MAX_NDIM]
    cdef Py_ssize_t ndim = len(shape), d
    cdef int64_t size, count = 1
    cdef fd_bernoulli rule
    cdef fd_status status
    if not 0 <= dtype <= FD_BFLOAT16:
        raise ValueError(f"dtype code {dtype} is not one of fd_dtype's")
    if ndim > STRIDED_MAX_NDIM:
        raise ValueError(f"{ndim} dimensions, more than {STRIDED_MAX_NDIM}")
    size = 4 if dtype == FD_FLOAT32 else 8 if dtype == FD_FLOAT64 else 2
    for d in range(ndim):  # count: the element count as far as the GIL's rule needs it
        c_shape[d] = shape[d]
        if c_shape[d] <= 0:
            count = 0
        elif count < GIL_FREE_ELEMENTS:
            count = GIL_FREE_ELEMENTS if c_shape[d] >= GIL_FREE_ELEMENTS else count * c_shape[d]
    fill_strides(x_strides, ndim, size, c_x_strides)
    fill_strides(out_strides, ndim, size, c_out_strides)
    rule.key = key
    rule.offset = offset
    rule.threshold = threshold
    if count < GIL_FREE_ELEMENTS:
        status = fd_dropout(<fd_dtype>dtype, &rule, scale, <int>ndim, c_shape,
                            <const void *>x, c_x_strides, <void *>out, c_out_strides, NULL)
    else:
        with nogil:
            status = fd_dropout(<fd_dtype>dtype, &rule, scale, <int>ndim, c_shape,
                                <const void *>x, c_x_strides, <void *>out, c_out_strides, NULL)
    check(status)


def dropout(x, p=0.5, *, rng=None, training=True, mode="inverted", out=None, return_mask=False):
    """Drop each element of ``x`` with probability ``p``.

    Training, element i is kept iff its 32-bit Philox uniform U_i < T with
    T = 2**32 - round(p * 2**32): the keep probability is T / 2**32, within 2**-33 of 1 - p.
    Dropped elements are set to +0.0 (a dropped NaN or inf becomes 0, as in Flax; PyTorch
    multiplies by the mask and keeps NaN). Kept elements are multiplied by 1 / (1 - p) in
    ``"inverted"`` mode (float16 and bfloat16: the product in float32, rounded once to nearest
    even; PyTorch rounds the scale to the dtype first, so its kept values can differ in the
    last place) and left unchanged in ``"vanilla"`` mode. At
    evaluation (``training=False``) inverted dropout is the identity and vanilla dropout
    multiplies everything by 1 - p; no randomness is used.

    Parameters
    ----------
    x : array_like, dask.array.Array or xarray.DataArray
        Input of dtype float16, float32, float64 or bfloat16 (``ml_dtypes.bfloat16``: NumPy has
        none of its own), any shape (0-d and empty too), any strides. A Dask array (float16,
        float32 or float64) gives Dask arrays, lazily, chunk by chunk: each chunk is a box of the
        whole array (src_c/fd_dropout.h), so the result, computed on any scheduler or cluster,
        equals this call's on the computed input bit for bit, for any chunks; ``rng`` is resolved
        when the graph is built (a Philox stream moves past the whole array's counters then), so
        computing twice gives the same bits. A DataArray (NumPy or Dask data) gives DataArrays
        with its dims, coords, name and attrs (the mask: dims and coords only).
    p : float, optional
        The drop probability, in [0, 1]. 0 keeps everything, 1 drops everything.
    rng : None, int, numpy.random.Generator, fastdrop.Philox or fastdrop.Draw, optional
        Where the mask comes from. None: fresh entropy every call. An int in [0, 2**64): that
        Philox key at offset 0, the same mask every call. A Generator: a key drawn from it, so
        consecutive calls differ and re-seeding reproduces them (a SeedSequence or BitGenerator:
        a key drawn from ``numpy.random.default_rng(rng)``, as SPEC 7 has it). A Philox: the
        stream's next counters. A Draw (from :meth:`fastdrop.Philox.draw`): exactly its counters, so a
        recorded draw replays a call. The mask depends only on the key, the offset, the element
        count and p: not on dtype, strides, memory layout, SIMD path or threads.
    training : bool, optional
        Drop (True) or evaluate (False).
    mode : {"inverted", "vanilla"}, optional
        Where the 1 - p correction goes: inverted scales kept units by 1 / (1 - p) in
        training; vanilla scales everything by 1 - p at evaluation.
    out : numpy.ndarray, optional
        Where to write the result: same shape as x, dtype of x in native byte order,
        writeable; it may be a strided view and may be ``x`` itself (in place). If it overlaps
        ``x`` in another way, x is read in full before anything is written.
        Not for a Dask array or a DataArray (a TypeError).
    return_mask : bool, optional
        Also return the bool mask (True = kept), shape of x.

    Returns
    -------
    y : numpy.ndarray, dask.array.Array or xarray.DataArray
        The result: ``out`` itself if given, else a new array in x's memory layout (as NumPy's
        ``order="K"``: Fortran order, channels-last or any other order of axes is kept); of x's
        kind for a Dask array or a DataArray. A scalar x gives a 0-d array (a ufunc gives a
        scalar).
    mask : numpy.ndarray of bool
        Only with ``return_mask=True``, in x's memory layout. All True at evaluation.
        Element i's bit follows its logical C-order index, whatever the layout.

    Raises
    ------
    TypeError
        If p is not a real number (a string, None, a bool, a complex), x is not float16/32/64
        or bfloat16, ``out`` is not an ndarray of x's dtype or is given with a Dask array or a
        DataArray, or ``rng``, ``mode``, ``training`` or ``return_mask`` has a wrong type.
    ValueError
        If p is outside [0, 1], mode is another string, ``out`` has another shape or is
        read-only, ``rng`` is an int outside [0, 2**64), a Philox stream is exhausted, or a
        Dask x has chunks of unknown size (NaN). A Dask x's errors come when the call builds
        the graph, the same as for NumPy input: nothing is computed.

    Examples
    --------
    >>> import numpy as np, fastdrop
    >>> x = np.ones(8, dtype=np.float32)
    >>> y = fastdrop.dropout(x, 0.5, rng=42, out=x)   # in place
    >>> y is x
    True
    >>> sorted(set(x.tolist())) in ([0.0, 2.0], [2.0], [0.0])
    True
    >>> fastdrop.dropout(np.ones(3), 0.5, training=False, mode="vanilla")
    array([0.5, 0.5, 0.5])
    """
    # One path for every call: check every argument, allocate the result in x's layout, take
    # the call's counters, run the kernel (fastdrop.dropout is this function itself: a Python
    # wrapper would cost the small call a tenth of its time).
    cdef double drop = check_p(p)
    cdef bint inverted = check_mode(mode)
    cdef bint train = check_bool(training, "training")
    cdef bint with_mask = check_bool(return_mask, "return_mask")
    check_rng(rng)
    if type(x) is not cnp.ndarray:  # a Dask array or an xarray DataArray: built lazily there
        engine = lazy_engine(x)
        if engine is not None:
            return engine.dropout(x, drop, inverted, train, with_mask, rng, out)
    cdef cnp.ndarray source = check_floating(x, "x", True)
    cdef cnp.ndarray result
    if out is None:
        result = empty_like(source)
    else:
        result = check_out(out, source)
        source = readable_before_written(source, result)
    cdef cnp.ndarray keep = None, keep_c_order = None
    if with_mask:
        keep = np.empty_like(source, np.bool_)  # in x's layout; the C core writes C order
        if cnp.PyArray_IS_C_CONTIGUOUS(keep):
            keep_c_order = keep
        else:
            keep_c_order = np.empty_like(keep, order="C")

    # Everything is checked and allocated: only now may a stream move.
    cdef uint64_t key = 0, offset = 0, threshold
    cdef double scale
    cdef uint8_t *keep_data = NULL
    if train:
        take_draw(rng, <uint64_t>cnp.PyArray_SIZE(source), &key, &offset)
    dropout_constants(drop, inverted, train, &threshold, &scale)
    if with_mask:
        keep_data = <uint8_t *>cnp.PyArray_DATA(keep_c_order)
    run_dropout(source, result, keep_data, key, offset, threshold, scale)
    if not with_mask:
        return result
    if keep_c_order is not keep:
        keep[...] = keep_c_order
    return result, keep


cdef struct box_arrays:
    # FD_MAX_NDIM (64) coordinates each: fill_box checks
    int64_t whole[64]
    int64_t start[64]
    int64_t shape[64]
    fd_box box


cdef fd_box *fill_box(box_arrays *arrays, tuple whole, tuple start, tuple shape) except NULL:
    """The fd_box of the box of the array of shape ``whole`` that starts at ``start``."""
    cdef int d, ndim = len(whole)
    if ndim > FD_MAX_NDIM or len(start) != ndim or len(shape) != ndim:
        raise ValueError(f"a box of {ndim} dimensions needs a start and a shape of as many")
    for d in range(ndim):
        arrays.whole[d] = whole[d]
        arrays.start[d] = start[d]
        arrays.shape[d] = shape[d]
    arrays.box.ndim = ndim
    arrays.box.whole = arrays.whole
    arrays.box.start = arrays.start
    arrays.box.shape = arrays.shape
    return &arrays.box


cdef fd_bernoulli bernoulli(Draw draw, uint64_t threshold) noexcept:
    cdef fd_bernoulli rule
    rule.key = draw.key
    rule.offset = draw.offset
    rule.threshold = threshold
    return rule


def mask(cnp.ndarray out, uint64_t n, Draw draw, uint64_t threshold, bint packed,
         tuple whole=None, tuple start=None):
    """The keep-mask of n elements into C-contiguous uint8 out: n bytes, or ceil(n / 8) packed.
    With ``whole`` and ``start``, of the box of shape out.shape (packed: (n,)) that starts there
    in an array of shape ``whole`` (fd_mask_bool_box, fd_mask_packed_box)."""
    cdef box_arrays arrays
    cdef const fd_box *box = NULL
    if whole is not None:
        box = fill_box(&arrays, whole, start, (n,) if packed else (<object>out).shape)
    cdef fd_bernoulli rule = bernoulli(draw, threshold)
    cdef uint8_t *po = <uint8_t *>cnp.PyArray_DATA(out)
    cdef fd_status status
    with nogil:
        if box != NULL and packed:
            status = fd_mask_packed_box(&rule, box, po)
        elif box != NULL:
            status = fd_mask_bool_box(&rule, box, po)
        elif packed:
            status = fd_mask_packed(&rule, n, po)
        else:
            status = fd_mask_bool(&rule, n, po)
    check(status)


def normal(cnp.ndarray out, Draw draw, tuple whole=None, tuple start=None):
    """Standard normal variates (fd_normal) into C-contiguous float32 or float64 out; with
    ``whole`` and ``start``, those of the box of out's shape that starts there in an array of
    shape ``whole`` (fd_normal_box)."""
    cdef box_arrays arrays
    cdef const fd_box *box = NULL
    if whole is not None:
        box = fill_box(&arrays, whole, start, (<object>out).shape)
    cdef fd_dtype dtype = dtype_code(out)
    cdef uint64_t n = <uint64_t>cnp.PyArray_SIZE(out)
    cdef void *po = cnp.PyArray_DATA(out)
    cdef uint64_t key = draw.key, offset = draw.offset
    cdef fd_status status
    with nogil:
        if box == NULL:
            status = fd_normal(key, offset, n, dtype, po)
        else:
            status = fd_normal_box(key, offset, box, dtype, po)
    check(status)


# -- boxes: chunks of a logical array (fd_box), and the engines that compute them -------------

cpdef object lazy_engine(object x):
    """fastdrop._lazy if ``x`` is a Dask array or an xarray DataArray, else None. Only x's type is
    looked at: nothing is imported unless x comes from one of those packages, which are then
    imported already."""
    module = type(x).__module__
    if module.startswith("dask.") or module.startswith("xarray."):
        from fastdrop import _lazy
        if _lazy.handles(x):
            return _lazy
    return None


def dropout_box(cnp.ndarray x, cnp.ndarray out, object mask, tuple whole, tuple start, Draw draw,
                uint64_t threshold, double scale):
    """fd_dropout_box: x (native float, any strides) is the box of the array of shape ``whole``
    that starts at ``start``; out like x; mask None or a C-contiguous bool array of x's shape."""
    cdef box_arrays arrays
    cdef const fd_box *box = fill_box(&arrays, whole, start, (<object>x).shape)
    cdef uint8_t *keep = NULL if mask is None else <uint8_t *>cnp.PyArray_DATA(<cnp.ndarray>mask)
    run_dropout(x, out, keep, draw.key, draw.offset, threshold, scale, box)


def gaussian_dropout(cnp.ndarray x, cnp.ndarray out, Draw draw, double sigma):
    """Gaussian dropout (fd_gaussian_dropout: x (1 + sigma z), noise and product in one pass) of
    C-contiguous float x into C-contiguous out of its size and dtype: x itself, or an array that
    does not overlap it."""
    cdef fd_dtype dtype = dtype_code(x)
    cdef uint64_t n = <uint64_t>cnp.PyArray_SIZE(x)
    cdef const void *px = cnp.PyArray_DATA(x)
    cdef void *po = cnp.PyArray_DATA(out)
    cdef uint64_t key = draw.key, offset = draw.offset
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
