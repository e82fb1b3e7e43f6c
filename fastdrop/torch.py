"""fastdrop for PyTorch: ``torch.nn``'s dropout, faster on the CPU, with no mask kept for backward.

A drop-in replacement for ``torch.nn.functional.dropout`` (and ``dropout1d``, ``dropout2d``,
``dropout3d``, ``alpha_dropout``, ``feature_alpha_dropout``) and for the modules ``Dropout``,
``Dropout1d``, ``Dropout2d``, ``Dropout3d``, ``AlphaDropout`` and ``FeatureAlphaDropout``, with
the same signatures; :func:`patch` swaps a model's ``torch.nn`` dropout modules in place.

Each training call takes a draw, a Philox key and offset, from PyTorch's CPU generator (or the
``generator`` given), so ``torch.manual_seed`` makes runs reproducible as with ``torch.nn``; the
mask is a pure function of the draw and each element's logical index (fastdrop's rule: the
result equals :func:`fastdrop.dropout` of the same array and draw, bit for bit). Backward
replays the mask from the draw: autograd keeps two integers, not a tensor.

What differs from PyTorch's own dropout, as documented for :func:`fastdrop.dropout`: dropped
elements are +0.0, by selection (a dropped NaN or inf is 0, where PyTorch multiplies and keeps
NaN); float16 and bfloat16 are scaled by 1 / (1 - p) in float32 and rounded once (PyTorch
rounds the scale to the tensor's dtype first); a NaN ``p`` is a ``ValueError`` (PyTorch raises
``RuntimeError``). Tensors that are not on the CPU, not strided, or of another dtype go to
PyTorch's own function unchanged.

The op is registered with ``torch.library`` (``fastdrop::dropout``, its draw ``fastdrop::draw_``),
with fake implementations and autograd formulas, so ``torch.compile`` runs it without a graph
break and gives the results of eager mode for the same seed (a ``generator`` given breaks the
graph: its counters are made outside it).
"""

from __future__ import annotations

import functools
import math
import numbers
import threading
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, TypeVar

try:
    import torch
    from torch import Tensor
    from torch.autograd import forward_ad as _forward_ad
    from torch.overrides import handle_torch_function, has_torch_function_unary
except ImportError as error:  # pragma: no cover - exercised in a subprocess
    raise ImportError(
        "fastdrop.torch needs PyTorch: python -m pip install 'fastdrop[torch]'"
    ) from error

from . import _core
from .random import Draw, Philox

__all__ = [
    "AlphaDropout",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "FeatureAlphaDropout",
    "alpha_dropout",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "feature_alpha_dropout",
    "patch",
]

GeneratorLike = None | torch.Generator | Draw | Philox

# The C core's dtype codes for the dtypes it takes; any other goes to PyTorch's own function.
_CODES = {getattr(torch, name): code for name, code in _core.DTYPE_CODES.items()}
_UINT64 = (1 << 64) - 1
_PARALLEL_ELEMENTS = 1 << 18  # the smallest call that fastdrop's pool splits across threads

# What the one kernel of this module computes (see _apply): dropout, alpha dropout, and alpha
# dropout's gradient; each one's adjoint (what its backward applies) is _ADJOINT[kind].
_DROPOUT, _ALPHA, _ALPHA_GRAD = 0, 1, 2
_ADJOINT = {_DROPOUT: _DROPOUT, _ALPHA: _ALPHA_GRAD, _ALPHA_GRAD: _ALPHA_GRAD}
# SELU's scale * alpha, as PyTorch's alpha dropout writes it.
_SELU_SATURATION = 1.7580993408473766


# -- arguments: PyTorch's rules, in plain Python (torch.compile traces this code) ----------------


def _check_p(p: object) -> float:
    """p as PyTorch's dropout takes it: a real number (a bool is 0 or 1, as there) or a
    one-element tensor, in [0, 1]; TypeError for another type, PyTorch's ValueError outside
    [0, 1] and for NaN."""
    if type(p) is float and 0.0 <= p <= 1.0:  # a module's p: the common case, checked first
        return p
    if isinstance(p, torch.Tensor) and p.numel() == 1:
        p = p.item()
    if not isinstance(p, numbers.Real):
        raise TypeError(
            f"p must be a real number (the drop probability), got {type(p).__name__} {p!r}"
        )
    try:
        value = float(p)
    except OverflowError:  # an int beyond the floats: out of range
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return value


def _check_training(training: object) -> bool:
    """training as PyTorch's dropout takes it: a bool (its binding refuses anything else)."""
    if training is True or training is False:
        return training
    raise TypeError(f"training must be a bool, got {type(training).__name__} {training!r}")


def _check_tensor(input: object) -> None:
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")


def _check_generator(generator: object) -> None:
    if generator is not None and not isinstance(generator, (torch.Generator, Draw, Philox)):
        raise TypeError(
            "generator must be None, a torch.Generator, a fastdrop.Draw or a fastdrop.Philox, "
            f"got {type(generator).__name__}"
        )


def _check_writable(x: Tensor) -> None:
    """PyTorch's errors for an in-place op on x, raised before anything is drawn or written: an
    inference tensor outside inference mode; under autograd, a leaf that requires grad, a view
    of one, or a view PyTorch forbids to modify (an output of an op with several, one made in
    no_grad mode...). autograd.Function's own check (mark_dirty) comes only after forward has
    written. ``x.copy_(x)`` raises PyTorch's own message for each, before its kernel (which does
    nothing for a tensor copied onto itself)."""
    forbidden = x.is_inference() and not torch.is_inference_mode_enabled()
    if x.requires_grad and torch.is_grad_enabled():
        forbidden = forbidden or x.is_leaf
        base = x._base
        if base is not None:
            autograd = torch._C._autograd
            made = autograd._get_creation_meta(x)
            forbidden = forbidden or base.is_leaf or made != autograd.CreationMeta.DEFAULT
    if forbidden:
        x.copy_(x)


# -- draws -----------------------------------------------------------------------------------------


def _fill_draw(out: Tensor, generator: torch.Generator | None) -> Tensor:
    """Writes a call's key and offset, 64 random bits each, from PyTorch's CPU generator or
    ``generator`` into ``out`` (two int64) and returns it: the same numbers in eager mode and,
    through fastdrop::draw_, compiled."""
    return out.random_(-(1 << 63), None, generator=generator)


class _DrawBuffer(threading.local):
    """Each thread's two int64 for eager draws, with a NumPy view to read them: in a training
    step dropout follows a matrix product that leaves the caches cold, and there allocating a
    tensor and Tensor.tolist take twice the time of this (benchmarks/TORCH.md)."""

    def __init__(self) -> None:
        with torch.inference_mode(False):  # writable in and out of inference mode
            self.tensor = torch.empty(2, dtype=torch.int64)
        self.array = self.tensor.numpy()


_draw_buffer = _DrawBuffer()


def _take_draw(generator: GeneratorLike, shape: torch.Size, feature: bool) -> tuple[int, int]:
    """The (key, offset) of a call on an input of ``shape`` (a fastdrop stream's draw spans
    the call's mask elements)."""
    if generator is None or isinstance(generator, torch.Generator):
        if _transforms_active():  # torch.func refuses writes to a tensor made outside it
            key, offset = _fill_draw(torch.empty(2, dtype=torch.int64), generator).tolist()
        else:
            buffer = _draw_buffer
            _fill_draw(buffer.tensor, generator)
            key, offset = buffer.array.tolist()
        return key & _UINT64, offset & _UINT64
    if isinstance(generator, Philox):
        generator = generator.draw(_mask_elements(shape, feature))
    return generator.key, generator.offset


def _as_int64(value: int) -> int:
    return value - (1 << 64) if value >> 63 else value


def _draw_as_tensor(generator: GeneratorLike, like: Tensor, feature: bool) -> Tensor:
    """The call's draw as the op takes it: in a compiled graph (generator None) the op
    fastdrop::draw_ takes it when the graph runs; otherwise it is taken now."""
    if generator is None and torch.compiler.is_compiling():
        draw = torch.empty(2, dtype=torch.int64)
        torch.ops.fastdrop.draw_(like.detach(), draw)
        return draw
    if generator is None or isinstance(generator, torch.Generator):
        return _fill_draw(torch.empty(2, dtype=torch.int64), generator)
    return _counters(generator, like.shape, feature)


@torch.compiler.disable  # Dynamo would trace a Draw's 64-bit numbers as symbols, which fail here
def _counters(generator: Draw | Philox, shape: torch.Size, feature: bool) -> Tensor:
    """The draw of a Draw or Philox as two int64 (the same 64 bits each), made eagerly."""
    key, offset = _take_draw(generator, shape, feature)
    return torch.tensor([_as_int64(key), _as_int64(offset)], dtype=torch.int64)


# -- the kernel --------------------------------------------------------------------------------


class _Rule(NamedTuple):
    """What one call's noise is a function of (with the input's shape): kept in autograd's
    context for backward instead of a mask."""

    key: int
    offset: int
    p: float
    feature: bool  # one mask value per (sample, channel), shared over the other dimensions


def _mask_elements(shape: tuple[int, ...] | torch.Size, feature: bool) -> int:
    return shape[0] * shape[1] if feature else math.prod(shape)


def _empty_like(t: Tensor) -> Tensor:
    """An uninitialised tensor like ``t`` in the order of its strides, dense (NumPy's order="K";
    as PyTorch's elementwise results: torch.empty_like would make a sliced permuted tensor
    contiguous instead)."""
    if t.is_contiguous() or t.dim() < 2:
        return torch.empty_like(t)
    strides = t.stride()
    # stable: ties in index order; a broadcast dimension (stride 0) keeps its place, as in
    # PyTorch's elementwise results (an expanded row stays a row)
    moving = sorted((d for d in range(t.dim()) if strides[d]), key=lambda d: -strides[d])
    order = [d if not strides[d] else moving.pop(0) for d in range(t.dim())]
    inverse = [0] * len(order)
    for position, d in enumerate(order):
        inverse[d] = position
    return torch.empty([t.shape[d] for d in order], dtype=t.dtype).permute(inverse)


def _keep_mask(rule: _Rule, shape: tuple[int, ...]) -> Tensor:
    """The bool mask (True = kept) of ``rule`` for an input of ``shape``: one element per element
    (alpha dropout), or per (sample, channel) broadcast over the rest (channel dropout)."""
    count = _mask_elements(shape, rule.feature)
    keep = torch.empty(count, dtype=torch.bool)
    _core.mask(keep.numpy(), count, Draw(rule.key, rule.offset), _core.threshold(rule.p), False)
    if rule.feature:
        return keep.view(shape[0], shape[1], *(1,) * (len(shape) - 2))
    return keep.view(shape)


def _alpha_constants(p: float) -> tuple[float, float, float]:
    """PyTorch's alpha dropout: kept elements become a * x + b, dropped ones c."""
    a = 1.0 / math.sqrt((_SELU_SATURATION**2 * p + 1) * (1 - p))
    return a, _SELU_SATURATION * a * p, -_SELU_SATURATION * a + _SELU_SATURATION * a * p


def _use_torch_threads(elements: int) -> None:
    """fastdrop's pool takes torch.get_num_threads() threads, unless the user chose a count."""
    if elements >= _PARALLEL_ELEMENTS and not _core.num_threads_chosen():
        threads = min(max(torch.get_num_threads(), 1), _core.MAX_THREADS)
        if threads != _core.get_num_threads():
            _core.set_num_threads(threads, False)


def _apply(kind: int, rule: _Rule, x: Tensor, out: Tensor) -> Tensor:
    """Writes the noise ``kind`` of ``rule`` applied to x into out (which may be x) and returns
    out. Dropout: x / (1 - p) where kept, +0.0 where dropped (the C kernel, straight on the
    tensors' memory); alpha dropout: a x + b where kept, c where dropped; its gradient: a x where
    kept, +0.0 where dropped."""
    if not rule.feature and kind != _ALPHA:  # kept elements scaled, dropped ones +0.0: the kernel
        if x.is_neg():  # values that are memory negated (Tensor.conj().imag); out: x or new
            values = x.resolve_neg()
            return out.copy_(_apply(kind, rule, values, _empty_like(values)))
        scale = _core.inverted_scale(rule.p) if kind == _DROPOUT else _alpha_constants(rule.p)[0]
        _use_torch_threads(x.numel())
        _core.dropout_strided(
            _CODES[x.dtype],
            rule.key,
            rule.offset,
            _core.threshold(rule.p),
            scale,
            x.shape,
            x.data_ptr(),
            x.stride(),
            out.data_ptr(),
            out.stride(),
        )
        return out
    dropped = ~_keep_mask(rule, tuple(x.shape))
    if kind == _DROPOUT:  # channels: PyTorch's product in the dtype (float32 for the halves)
        torch.mul(x, _core.inverted_scale(rule.p), out=out)
        return out.masked_fill_(dropped, 0.0)
    a, b, c = _alpha_constants(rule.p)
    torch.mul(x, a, out=out)
    if kind == _ALPHA:
        out.add_(b)
        # PyTorch's dropped value, rounded as its arithmetic in the dtype rounds it
        c = torch.tensor(-1.0, dtype=x.dtype).mul_(_SELU_SATURATION * a).add_(b).item()
    return out.masked_fill_(dropped, 0.0 if kind == _ALPHA_GRAD else c)


class _Replayed(torch.autograd.Function):
    """Eager autograd: the context keeps the rule (a key, an offset, p), never a tensor, and
    backward applies the adjoint noise from it; backward is itself differentiable (the noise is
    linear in x), so double backward works."""

    @staticmethod
    def forward(ctx, x: Tensor, kind: int, rule: _Rule, inplace: bool) -> Tensor:  # type: ignore[override]
        ctx.kind, ctx.rule, ctx.inplace = kind, rule, inplace
        if inplace:
            ctx.mark_dirty(x)
            return _apply(kind, rule, x, x)
        return _apply(kind, rule, x, _empty_like(x))

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None, None]:  # type: ignore[override]
        return _replay(_ADJOINT[ctx.kind], ctx.rule, grad, False), None, None, None

    @staticmethod
    def jvp(ctx, tangent: Tensor, *_: None) -> Tensor:  # type: ignore[override]
        """Forward mode: the noise's linear part (its adjoint: a diagonal) on the tangent, in
        place where the call was."""
        return _replay(_ADJOINT[ctx.kind], ctx.rule, tangent, ctx.inplace)


class _Transformable(torch.autograd.Function):
    """_Replayed in the form torch.func's transforms need (a separate setup_context, which
    costs autograd four times the time per call): grad, vjp and jvp-free compositions of them
    work; vmap (and so jacrev) is not supported."""

    @staticmethod
    def forward(x: Tensor, kind: int, rule: _Rule) -> Tensor:  # type: ignore[override]
        return _apply(kind, rule, x, _empty_like(x))

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:  # type: ignore[no-untyped-def, override]
        ctx.kind, ctx.rule = inputs[1], inputs[2]

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:  # type: ignore[override]
        return _Transformable.apply(grad, _ADJOINT[ctx.kind], ctx.rule), None, None

    @staticmethod
    def jvp(ctx, tangent: Tensor, *_: None) -> Tensor:  # type: ignore[override]
        return _Transformable.apply(tangent, _ADJOINT[ctx.kind], ctx.rule)


# The C apply that Function.apply ends in. Function.apply's Python part binds arguments and
# unwraps torch.func's dead wrappers, nothing for _Replayed's inputs (torch.func's tensors take
# _Transformable), yet some 0.07 ms of a training step's 0.6-0.9 for dropout (benchmarks/TORCH.md).
# Both names are PyTorch's internals: a PyTorch without them gets the public Function.apply.
try:
    _replayed_apply = torch._C._FunctionBase.__dict__["apply"].__get__(None, _Replayed)
    _transforms_active = torch._C._are_functorch_transforms_active
except (AttributeError, KeyError):  # pragma: no cover - PyTorch 2.13 has both
    _replayed_apply = _Replayed.apply

    def _transforms_active() -> bool:
        return True


def _replay(kind: int, rule: _Rule, x: Tensor, inplace: bool) -> Tensor:
    """The noise on x, through autograd only where a gradient is wanted."""
    if (x.requires_grad and torch.is_grad_enabled()) or _forward_ad._current_level >= 0:
        if _transforms_active():
            return _Replayed.apply(x, kind, rule, inplace)  # torch.func's error for it
        return _replayed_apply(x, kind, rule, inplace)
    if not inplace:
        return _apply(kind, rule, x, _empty_like(x))
    _apply(kind, rule, x, x)
    if not x.is_inference():
        torch.autograd.graph.increment_version(x)  # as an in-place op of PyTorch's would
    return x


# -- the op for torch.compile and PyTorch's dispatch -------------------------------------------


@torch.library.custom_op("fastdrop::dropout", mutates_args=(), device_types="cpu")
def _dropout_op(input: Tensor, draw: Tensor, p: float, kind: int, feature: bool) -> Tensor:
    """The noise ``kind`` of the draw (two int64: key and offset) on input."""
    key, offset = (value & _UINT64 for value in draw.tolist())
    return _apply(kind, _Rule(key, offset, p, feature), input, _empty_like(input))


@_dropout_op.register_fake
def _(input: Tensor, draw: Tensor, p: float, kind: int, feature: bool) -> Tensor:
    return _empty_like(input)


def _op_setup_context(ctx, inputs: tuple, output: Tensor) -> None:  # type: ignore[no-untyped-def]
    _, draw, p, kind, feature = inputs
    ctx.save_for_backward(draw)  # 16 bytes, in compiled graphs (eager mode keeps no tensor)
    ctx.p, ctx.kind, ctx.feature = p, kind, feature


def _op_backward(ctx, grad: Tensor) -> tuple:  # type: ignore[no-untyped-def]
    (draw,) = ctx.saved_tensors
    return _dropout_op(grad, draw, ctx.p, _ADJOINT[ctx.kind], ctx.feature), None, None, None, None


_dropout_op.register_autograd(_op_backward, setup_context=_op_setup_context)


@torch.library.custom_op("fastdrop::draw_", mutates_args=("out",), device_types="cpu")
def _draw_op(input: Tensor, out: Tensor) -> None:
    """Writes a call's draw from PyTorch's CPU generator into out (two int64). Its input orders
    it after input's computation, as in eager mode; being a mutation, it is neither merged with
    another draw nor dropped."""
    _fill_draw(out, None)


@_draw_op.register_fake
def _(input: Tensor, out: Tensor) -> None:
    return None


def _in_dispatch(x: Tensor) -> bool:
    """Whether the call must go through PyTorch's dispatcher (the registered op) rather than
    straight to memory: compiling, tracing, a tensor subclass, a dispatch mode."""
    return (
        torch.compiler.is_compiling()
        or type(x) not in (torch.Tensor, torch.nn.Parameter)
        or torch._C._len_torch_dispatch_stack() > 0
        or torch.jit.is_tracing()
    )


# -- the functions -----------------------------------------------------------------------------

_Fallback = Callable[[Tensor, float, bool], Tensor]

# PyTorch's own op for each noise (kind, one mask value per channel), out of place and in place:
# what a tensor the C core does not take goes to, under the Python function (which has checked
# and warned).
_FALLBACKS: dict[tuple[int, bool], tuple[_Fallback, _Fallback]] = {
    (_DROPOUT, False): (torch.dropout, torch.dropout_),
    (_DROPOUT, True): (torch.feature_dropout, torch.feature_dropout_),
    (_ALPHA, False): (torch.alpha_dropout, torch.alpha_dropout_),
    (_ALPHA, True): (torch.feature_alpha_dropout, torch.feature_alpha_dropout_),
}


def _noise(
    input: Tensor,
    p: float,
    training: bool,
    inplace: bool,
    generator: GeneratorLike,
    *,
    kind: int,
    feature: bool,
) -> Tensor:
    """The training call of every function here, once its p is checked: PyTorch's shortcuts
    (the input itself when nothing is dropped), its fallback for tensors the C core does not
    take, then the draw and the noise, through autograd or the registered op."""
    training = _check_training(training)
    inplace = bool(inplace)  # as PyTorch's dropout: any truth value
    _check_generator(generator)
    if not input.is_cpu or input.layout != torch.strided or input.dtype not in _CODES:
        if generator is not None:
            raise ValueError(
                "generator is for CPU tensors of float16, bfloat16, float32 or float64; "
                f"this one ({input.dtype} on {input.device}) goes to PyTorch's own dropout, "
                "which takes none"
            )
        return _FALLBACKS[kind, feature][inplace](input, p, training)
    if not training or p == 0.0 or input.numel() == 0:
        return input  # as PyTorch: the input itself
    if feature and input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if inplace and any(s == 0 and n > 1 for s, n in zip(input.stride(), input.shape, strict=True)):
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to a "
            "single memory location. Please clone() the tensor before performing the operation."
        )
    everything = p == 1.0  # everything dropped, alpha dropout too (as PyTorch): no draw taken
    kind = _DROPOUT if everything else kind
    if _in_dispatch(input):
        if everything:
            draw = torch.zeros(2, dtype=torch.int64)
        else:
            draw = _draw_as_tensor(generator, input, feature)
        result = _dropout_op(input, draw, p, kind, feature)
        return input.copy_(result) if inplace else result
    if inplace:  # in a graph, input.copy_ makes PyTorch's checks before it writes
        _check_writable(input)
    key, offset = (0, 0) if everything else _take_draw(generator, input.shape, feature)
    rule = _Rule(key, offset, p, feature)
    if torch._C._functorch.is_functorch_wrapped_tensor(input):  # inside torch.func.grad & co.
        result = _Transformable.apply(input, kind, rule)
        return input.copy_(result) if inplace else result
    return _replay(kind, rule, input, inplace)


def _channel_dropout(
    input: Tensor,
    p: float,
    training: bool,
    inplace: bool,
    generator: GeneratorLike,
    *,
    spatial: int,
) -> Tensor:
    """dropout1d, dropout2d or dropout3d (``spatial`` dimensions) once its p is checked, as
    PyTorch's: its error (dropout1d) or warnings for other numbers of dimensions; channel dropout
    of input, or of a view with a batch dimension added in front where input has none (squeezed
    after; in place: input itself); dropout2d takes a 3-d input as (N, C, L), with a warning."""
    dims = input.dim()
    if dims not in (spatial + 1, spatial + 2):
        name = f"dropout{spatial}d"
        note = (
            f"Note that {name} exists to provide channel-wise dropout on inputs with {spatial} "
            f"spatial dimension{'s' if spatial > 1 else ''}, a channel dimension, and an optional "
            f"batch dimension (i.e. {spatial + 1}D or {spatial + 2}D inputs)."
        )
        if spatial == 1:
            raise RuntimeError(
                f"{name}: Expected {spatial + 1}D or {spatial + 2}D input, but received a "
                f"{dims}D input. {note}"
            )
        warnings.warn(
            f"{name}: Received a {dims}-D input to {name}, which is deprecated and will result "
            "in an error in a future release. To retain the behavior and silence this warning, "
            f"please use dropout instead. {note}",
            stacklevel=3,
        )
    if spatial == 2 and dims == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
            "1D dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=4,
        )
    if spatial == 2 or dims == spatial + 2:  # batched
        return _noise(input, p, training, inplace, generator, kind=_DROPOUT, feature=True)
    batched = input.unsqueeze(0)
    result = _noise(batched, p, training, inplace, generator, kind=_DROPOUT, feature=True)
    return input if inplace else result.squeeze(0)


class _DropoutFunction(Protocol):
    """What every function here is: torch.nn.functional's dropout signature."""

    def __call__(
        self,
        input: Tensor,
        p: float = ...,
        training: bool = ...,
        inplace: bool = ...,
        *,
        generator: GeneratorLike = ...,
    ) -> Tensor: ...


def _torch_function(
    name: str,
    noise: Callable[[Tensor, float, bool, bool, GeneratorLike], Tensor],
    *,
    training_default: bool,
    doc: str,
) -> _DropoutFunction:
    """The public function ``name`` (its signature, its docstring ``doc``): what
    torch.nn.functional's functions do first (hand the call, as given, to a __torch_function__
    override, then check input's type and p, PyTorch's rule on p), then ``noise``."""

    def function(
        input: Tensor,
        p: float = 0.5,
        training: bool = training_default,
        inplace: bool = False,
        *,
        generator: GeneratorLike = None,
    ) -> Tensor:
        return noise(input, p, training, inplace, generator)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc

    @functools.wraps(function)
    def checked(input: Tensor, p: float = 0.5, *args: Any, **kwargs: Any) -> Tensor:
        if has_torch_function_unary(input):
            return handle_torch_function(  # type: ignore[no-any-return]
                checked, (input,), input, p, *args, **kwargs
            )
        _check_tensor(input)
        return function(input, _check_p(p), *args, **kwargs)

    return checked


dropout = _torch_function(
    "dropout",
    functools.partial(_noise, kind=_DROPOUT, feature=False),
    training_default=True,
    doc="""Zero each element with probability ``p`` and scale the rest by 1 / (1 - p), as
    ``torch.nn.functional.dropout`` does, with fastdrop's kernel.

    Element i (its logical C-order index, whatever the strides) is kept by fastdrop's rule for the
    call's draw, so the result equals ``fastdrop.dropout`` of the same array and draw, bit for
    bit. Backward replays the mask from the draw: nothing is saved for it.

    Parameters
    ----------
    input : torch.Tensor
        Any shape and strides. CPU tensors of float16, bfloat16, float32 or float64 take
        fastdrop's kernel; any other goes to PyTorch's own dropout.
    p : float, optional
        The drop probability, in [0, 1].
    training : bool, optional
        Drop (True) or return ``input`` itself (False).
    inplace : bool, optional
        Write the result into ``input`` and return it (any truth value, as PyTorch's).
    generator : None, torch.Generator, fastdrop.Draw or fastdrop.Philox, optional
        Where the call's key and offset come from: PyTorch's default CPU generator, the one given
        (``torch.manual_seed`` and ``Generator.manual_seed`` make runs reproducible), exactly a
        draw's counters (the same mask every call), or a fastdrop stream's next counters.

    Returns
    -------
    torch.Tensor
        A new tensor in the order of input's strides (or ``input`` itself: in place, at p = 0,
        out of training, or empty).

    Raises
    ------
    TypeError
        If p is not a real number, ``training`` is not a bool, or ``input`` or ``generator`` has
        a wrong type.
    ValueError
        If p is outside [0, 1] (or NaN), or a generator is given for a tensor that goes to
        PyTorch's own dropout.
    RuntimeError
        In place on a tensor that PyTorch does not let an in-place op write (a leaf that
        requires grad or a view of one, an inference tensor outside inference mode) or whose
        elements share memory, with PyTorch's message; nothing is drawn or written first.

    Examples
    --------
    >>> import torch, fastdrop, fastdrop.torch
    >>> x = torch.ones(2, 4)
    >>> y = fastdrop.torch.dropout(x, 0.5, generator=fastdrop.Draw(7))
    >>> bool(torch.equal(y, torch.from_numpy(fastdrop.dropout(x.numpy(), 0.5, rng=7))))
    True
    >>> fastdrop.torch.dropout(x, 0.5, training=False) is x
    True
    """,
)

dropout1d = _torch_function(
    "dropout1d",
    functools.partial(_channel_dropout, spatial=1),
    training_default=True,
    doc="""Zero whole channels of (N, C, L) or (C, L) input, as ``torch.nn.functional.dropout1d``.

    Parameters
    ----------
    input : torch.Tensor
        2-d (unbatched) or 3-d.
    p, training, inplace, generator
        As for :func:`dropout`; here p is the probability of a channel to be zeroed.

    Returns
    -------
    torch.Tensor
        As for :func:`dropout`; each (sample, channel) kept whole (scaled by 1 / (1 - p)) or
        zeroed, by the mask of N * C elements of the draw.

    Raises
    ------
    RuntimeError
        If input is not 2-d or 3-d (as PyTorch); see :func:`dropout` for the others.

    Examples
    --------
    >>> import torch, fastdrop.torch
    >>> y = fastdrop.torch.dropout1d(torch.ones(2, 8, 5), 0.5)
    >>> bool(((y == 0).all(dim=2) | (y == 2).all(dim=2)).all())
    True
    """,
)

dropout2d = _torch_function(
    "dropout2d",
    functools.partial(_channel_dropout, spatial=2),
    training_default=True,
    doc="""Zero whole channels of (N, C, H, W) input, as ``torch.nn.functional.dropout2d``, with
    PyTorch's quirks: another number of dimensions than 3 or 4 warns, and a 3-d input is taken as
    (N, C, L), with a warning, not as one unbatched image.

    Parameters
    ----------
    input : torch.Tensor
        4-d (3-d as above).
    p : float, optional
        The probability of a channel to be zeroed, in [0, 1].
    training, inplace, generator
        As for :func:`dropout`.

    Returns
    -------
    torch.Tensor
        Each channel of input kept whole (scaled by 1 / (1 - p)) or zeroed, or input itself as
        :func:`dropout` returns it.

    Examples
    --------
    >>> import torch, fastdrop.torch
    >>> y = fastdrop.torch.dropout2d(torch.ones(2, 8, 3, 3), 0.5)
    >>> bool(((y == 0).all(dim=(2, 3)) | (y == 2).all(dim=(2, 3))).all())
    True
    """,
)

dropout3d = _torch_function(
    "dropout3d",
    functools.partial(_channel_dropout, spatial=3),
    training_default=True,
    doc="""Zero whole channels of (N, C, D, H, W) or unbatched (C, D, H, W) input, as
    ``torch.nn.functional.dropout3d`` does (and warn, as it does, for other dimensions).

    Parameters
    ----------
    input : torch.Tensor
        5-d, or 4-d.
    p, training, inplace, generator
        As for :func:`dropout1d`.

    Returns
    -------
    torch.Tensor
        As :func:`dropout1d`'s.

    Examples
    --------
    >>> import torch
    >>> from fastdrop.torch import dropout3d
    >>> dropout3d(torch.ones(2, 4, 2, 2, 2), 0.5).shape
    torch.Size([2, 4, 2, 2, 2])
    """,
)

alpha_dropout = _torch_function(
    "alpha_dropout",
    functools.partial(_noise, kind=_ALPHA, feature=False),
    training_default=False,
    doc="""Alpha dropout for SELU networks, as ``torch.nn.functional.alpha_dropout`` (note its
    default ``training=False``): dropped elements become SELU's negative saturation, and an
    affine map keeps a zero-mean, unit-variance input so.

    Kept elements are ``a * x + b``, dropped ones ``c``, PyTorch's constants in the dtype (a
    dropped NaN is ``c`` too); p = 1 gives zeros, as in PyTorch. Backward replays the mask.

    Parameters
    ----------
    input, p, inplace, generator
        As for :func:`dropout`.
    training : bool, optional
        Apply it (True) or return ``input`` itself (False, the default).

    Returns
    -------
    torch.Tensor
        As for :func:`dropout`.

    Examples
    --------
    >>> import torch, fastdrop.torch
    >>> x = torch.randn(100_000, generator=torch.Generator().manual_seed(0))
    >>> y = fastdrop.torch.alpha_dropout(x, 0.2, training=True)
    >>> bool(abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02)
    True
    """,
)

feature_alpha_dropout = _torch_function(
    "feature_alpha_dropout",
    functools.partial(_noise, kind=_ALPHA, feature=True),
    training_default=False,
    doc="""Alpha dropout of whole channels (one mask value per (sample, channel)), as
    ``torch.nn.functional.feature_alpha_dropout``.

    Parameters
    ----------
    input, p, training, inplace, generator
        As for :func:`alpha_dropout`; input has at least 2 dimensions.

    Returns
    -------
    torch.Tensor
        As for :func:`dropout`; each (sample, channel) kept whole (``a * x + b``) or set to ``c``
        whole, by the mask of N * C elements of the draw.

    Examples
    --------
    >>> import torch, fastdrop.torch
    >>> y = fastdrop.torch.feature_alpha_dropout(torch.zeros(4, 3, 5), 0.5, training=True)
    >>> bool((y == y[:, :, :1]).all())  # channel by channel
    True
    """,
)


# -- the modules -------------------------------------------------------------------------------


def _forward(function: Callable[..., Tensor], takes_inplace: bool = True) -> Callable[..., Tensor]:
    """A module's forward: ``function`` with the module's p, mode and (if it takes it, as
    torch.nn's modules pass it) inplace."""

    def forward(self: torch.nn.modules.dropout._DropoutNd, input: Tensor) -> Tensor:
        if takes_inplace:
            return function(input, self.p, self.training, self.inplace)
        return function(input, self.p, self.training)

    return forward


class Dropout(torch.nn.Dropout):
    """``torch.nn.Dropout`` with fastdrop's kernel (:func:`dropout`): the same signature,
    attributes and ``train()``/``eval()``; a subclass, so ``isinstance(m, torch.nn.Dropout)``
    holds. The other modules here are to theirs as this one is to ``torch.nn.Dropout``.

    Parameters
    ----------
    p : float, optional
        The drop probability, in [0, 1].
    inplace : bool, optional
        Drop in place.

    Examples
    --------
    >>> import torch, fastdrop.torch
    >>> layer = fastdrop.torch.Dropout(0.5)
    >>> layer
    Dropout(p=0.5, inplace=False)
    >>> y = layer(torch.ones(4, 8))
    >>> sorted(set(y.flatten().tolist())) in ([0.0, 2.0], [0.0], [2.0])
    True
    >>> bool(torch.equal(layer.eval()(torch.ones(3)), torch.ones(3)))
    True
    """

    forward = _forward(dropout)


class Dropout1d(torch.nn.Dropout1d):
    """``torch.nn.Dropout1d`` with fastdrop's kernel (:func:`dropout1d`), as :class:`Dropout`.

    Examples
    --------
    >>> import torch, fastdrop.torch
    >>> fastdrop.torch.Dropout1d(0.2)(torch.ones(2, 3, 4)).shape
    torch.Size([2, 3, 4])
    """

    forward = _forward(dropout1d)


class Dropout2d(torch.nn.Dropout2d):
    """``torch.nn.Dropout2d`` with fastdrop's kernel (:func:`dropout2d`), as :class:`Dropout`.

    Examples
    --------
    >>> import torch, fastdrop.torch
    >>> fastdrop.torch.Dropout2d(0.2)(torch.ones(2, 3, 4, 4)).shape
    torch.Size([2, 3, 4, 4])
    """

    forward = _forward(dropout2d)


class Dropout3d(torch.nn.Dropout3d):
    """``torch.nn.Dropout3d`` with fastdrop's kernel (:func:`dropout3d`), as :class:`Dropout`.

    Examples
    --------
    >>> import torch, fastdrop.torch
    >>> fastdrop.torch.Dropout3d(0.2)(torch.ones(2, 3, 2, 2, 2)).shape
    torch.Size([2, 3, 2, 2, 2])
    """

    forward = _forward(dropout3d)


class AlphaDropout(torch.nn.AlphaDropout):
    """``torch.nn.AlphaDropout`` with fastdrop's kernel (:func:`alpha_dropout`), as
    :class:`Dropout`; as PyTorch's, it does not use ``inplace``.

    Examples
    --------
    >>> import torch, fastdrop.torch
    >>> x = torch.randn(100_000, generator=torch.Generator().manual_seed(1))
    >>> y = fastdrop.torch.AlphaDropout(0.1)(x)
    >>> bool(abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02)
    True
    """

    forward = _forward(alpha_dropout, takes_inplace=False)


class FeatureAlphaDropout(torch.nn.FeatureAlphaDropout):
    """``torch.nn.FeatureAlphaDropout`` with fastdrop's kernel (:func:`feature_alpha_dropout`),
    as :class:`Dropout`; as PyTorch's, it does not use ``inplace``.

    Examples
    --------
    >>> import torch, fastdrop.torch
    >>> fastdrop.torch.FeatureAlphaDropout(0.2)(torch.zeros(2, 3, 4)).shape
    torch.Size([2, 3, 4])
    """

    forward = _forward(feature_alpha_dropout, takes_inplace=False)


_REPLACEMENTS: dict[type[torch.nn.Module], type[torch.nn.Module]] = {
    torch.nn.Dropout: Dropout,
    torch.nn.Dropout1d: Dropout1d,
    torch.nn.Dropout2d: Dropout2d,
    torch.nn.Dropout3d: Dropout3d,
    torch.nn.AlphaDropout: AlphaDropout,
    torch.nn.FeatureAlphaDropout: FeatureAlphaDropout,
}

ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)


def patch(model: ModuleT) -> ModuleT:
    """Swap every ``torch.nn`` dropout module of ``model`` (itself included) for fastdrop's,
    in place, and return ``model``.

    Each module keeps its identity, ``p``, ``inplace``, mode and hooks: only its class changes,
    to fastdrop's subclass of it. Modules of exactly ``torch.nn.Dropout``, ``Dropout1d``,
    ``Dropout2d``, ``Dropout3d``, ``AlphaDropout`` and ``FeatureAlphaDropout`` are swapped;
    subclasses of them (which may have their own ``forward``) are left alone.

    Parameters
    ----------
    model : torch.nn.Module
        The model.

    Returns
    -------
    torch.nn.Module
        ``model`` itself.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.

    Examples
    --------
    >>> import torch, fastdrop.torch
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.2))
    >>> fastdrop.torch.patch(model) is model
    True
    >>> type(model[1]).__module__, model[1].p
    ('fastdrop.torch', 0.2)
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for module in model.modules():
        replacement = _REPLACEMENTS.get(type(module))
        if replacement is not None:
            module.__class__ = replacement
    return model
