"""fastdrop.torch: PyTorch's own dropout tests (test/nn/test_dropout.py) ported to the adapter,
bit-for-bit agreement with fastdrop.dropout, autograd without saved tensors (gradcheck, double
backward), seeds and generators, threads, torch.compile, patch, and the fallback to PyTorch.
Skipped, as a whole, only where PyTorch is not installed (CI installs it)."""

import concurrent.futures
import doctest
import itertools
import re
import warnings

import ml_dtypes
import numpy as np
import pytest
from isolated import run_python

torch = pytest.importorskip("torch")  # fastdrop.torch is optional: no PyTorch, no tests here

import torch.autograd.forward_ad as fwAD  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import fastdrop  # noqa: E402
import fastdrop.nn  # noqa: E402
import fastdrop.torch as ft  # noqa: E402
from fastdrop import _core  # noqa: E402

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
MODULES = [ft.Dropout, ft.Dropout1d, ft.Dropout2d, ft.Dropout3d, ft.AlphaDropout]
FUNCTIONS = [ft.dropout, ft.dropout1d, ft.dropout2d, ft.dropout3d, ft.alpha_dropout]
# An input shape each function takes without a warning.
SHAPES = {
    ft.dropout: (4, 6, 5),
    ft.dropout1d: (4, 6, 5),
    ft.dropout2d: (4, 6, 5, 3),
    ft.dropout3d: (4, 6, 5, 3, 2),
    ft.alpha_dropout: (4, 6, 5),
    ft.feature_alpha_dropout: (4, 6, 5),
}
TORCH_MODULES = {
    nn.Dropout: ft.Dropout,
    nn.Dropout1d: ft.Dropout1d,
    nn.Dropout2d: ft.Dropout2d,
    nn.Dropout3d: ft.Dropout3d,
    nn.AlphaDropout: ft.AlphaDropout,
    nn.FeatureAlphaDropout: ft.FeatureAlphaDropout,
}


def as_numpy(t: torch.Tensor) -> np.ndarray:
    """The tensor's memory as an ndarray (bfloat16 as ml_dtypes.bfloat16), same strides."""
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.numpy()


def bits(t: torch.Tensor) -> np.ndarray:
    a = np.ascontiguousarray(as_numpy(t.detach()))
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.itemsize])


def saved_bytes(fn, *args, **kwargs):
    """The result of fn and the bytes autograd saved for its backward."""
    sizes = []

    def pack(t):
        sizes.append(t.untyped_storage().nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = fn(*args, **kwargs)
    return result, sum(sizes)


# -- the same bits as fastdrop.dropout ---------------------------------------------------------


def layouts():
    base = torch.randn(6, 10, 12, generator=torch.Generator().manual_seed(0))
    yield "contiguous", base
    yield "transposed", base.transpose(0, 2)
    yield "sliced", base[:, ::3, 1::2]
    yield "permuted slice", base.permute(2, 0, 1)[1:, :, ::2]
    yield "channels-last", base.reshape(2, 3, 10, 12).contiguous(memory_format=torch.channels_last)
    yield "expanded", base[:1].expand(4, 10, 12)
    yield "0-d", base[0, 0, 0]
    yield "1-d strided", base.flatten()[::7]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name, x", list(layouts()), ids=[name for name, _ in layouts()])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_equals_fastdrop_dropout(dtype, name, x, p):
    x = x.to(dtype)
    draw = fastdrop.Draw(2024, 17)
    y = ft.dropout(x, p, generator=draw)
    expected = fastdrop.dropout(as_numpy(x), p, rng=draw)
    assert y.shape == x.shape and y.dtype == dtype
    assert np.array_equal(bits(y), np.ascontiguousarray(expected).view(bits(y).dtype))
    assert torch.equal(ft.dropout(x, p, generator=draw), y)  # a draw replays


def test_result_keeps_the_order_of_input_strides():
    """PyTorch's _test_dropout_stride_mean_preserve: a permuted (and sliced) input gives a result
    in its permutation."""

    def invert(perm):
        inverse = [0] * 4
        for i, d in enumerate(perm):
            inverse[d] = i
        return inverse

    torch.manual_seed(0)
    x = torch.ones(2, 3, 4, 5)
    for perm in itertools.permutations(range(4)):
        for shift in [(0, 0), (1, 0), (0, 1), (1, 1)]:
            for p in [1e-10, 0.3, 0.5, 0.7]:
                permuted = x.permute(perm).contiguous().permute(invert(perm))
                permuted = permuted[shift[0] :, shift[1] :, :, :]
                out = ft.Dropout(p)(permuted)
                assert out.permute(perm).is_contiguous()
                assert abs(out.mean() - 1.0) <= 0.5 + 0.5 * abs(out.mean())  # PyTorch's bound
                if p == 1e-10:
                    assert torch.equal(out, permuted)
                else:
                    assert not torch.equal(out, permuted)


@pytest.mark.parametrize("cls", [ft.Dropout, ft.Dropout2d, ft.Dropout3d])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_discontiguous_input(cls, memory_format):
    """PyTorch's _test_dropout_discontiguous: the values and the layout survive p = 0 and a p
    near 0; at p != 0 the result is dense in the input's memory format."""
    for p in [0, 1e-10]:
        x = torch.ones(2, 3, 3, 3)
        discontiguous = torch.empty(2, 3, 3, 6, memory_format=memory_format)[..., ::2]
        discontiguous.copy_(x)
        out = cls(p=p)(discontiguous)
        if p != 0:
            assert out.is_contiguous(memory_format=memory_format)
        assert torch.equal(discontiguous, out)


def test_dropped_nan_and_inf_are_positive_zero_kept_ones_stay():
    """fastdrop's semantics, where PyTorch keeps a dropped NaN (NaN * 0)."""
    x = torch.tensor([math_value for math_value in [np.nan, -np.inf, np.inf, -1.0]] * 500)
    y = ft.dropout(x, 0.5)
    dropped = y == 0
    assert 0 < dropped.sum() < 2000
    assert (bits(y)[dropped.numpy()] == 0).all()  # +0.0, not -0.0
    kept = ~dropped
    assert torch.isnan(y[kept & torch.isnan(x)]).all()
    assert torch.equal(y[kept & ~torch.isnan(x)], (x * 2)[kept & ~torch.isnan(x)])


def test_kept_values_are_pytorch_s_where_the_scale_is_exact():
    """At p = 0.5 and 0.2 (scales 2 and 1.25, exact in every dtype) kept elements are x times
    the scale as PyTorch computes it; at p = 0.1 a half-precision tensor is scaled in float32
    and rounded once (PyTorch rounds 1 / 0.9 to the dtype first)."""
    for dtype in DTYPES:
        x = torch.randn(10_000, generator=torch.Generator().manual_seed(1)).to(dtype)
        for p in [0.5, 0.2]:
            y = ft.dropout(x, p)
            kept = y != 0
            assert torch.equal(y[kept], (x * (1 / (1 - p)))[kept])
            assert abs(kept.float().mean().item() - (1 - p)) < 0.02
        if dtype in (torch.float16, torch.bfloat16):
            y = ft.dropout(x, 0.1)
            kept = y != 0
            want = (x.float() * np.float32(1 / 0.9)).to(dtype)
            assert torch.equal(y[kept], want[kept])


# -- PyTorch's test_dropout.py, ported ---------------------------------------------------------


def check_dropout(cls, x, memory_format=torch.contiguous_format):
    """PyTorch's _test_dropout: mean and gradient mean near 1 - p, layouts kept, in place, eval
    leaves the input unchanged, repr."""
    p = 0.2
    x = x.fill_(1 - p)
    module = cls(p)
    x_var = x.clone(memory_format=memory_format).requires_grad_()
    output = module(x_var)
    assert output.is_contiguous(memory_format=memory_format)
    assert abs(output.data.mean() - (1 - p)) < 0.05
    output.backward(x)
    assert x_var.grad.is_contiguous(memory_format=memory_format)
    assert abs(x_var.grad.data.mean() - (1 - p)) < 0.05

    module = cls(p, True)
    x_var = x.clone(memory_format=memory_format).requires_grad_()
    output = module(x_var + 0)
    assert output.is_contiguous(memory_format=memory_format)
    assert abs(output.data.mean() - (1 - p)) < 0.05
    output.backward(x)
    assert x_var.grad.is_contiguous(memory_format=memory_format)
    assert abs(x_var.grad.data.mean() - (1 - p)) < 0.05

    for inplace in [True, False]:
        module = cls(p, inplace).eval()
        assert torch.equal(x, module(x))
    assert repr(module) == f"{cls.__name__}(p={p}, inplace=False)"


def test_Dropout():
    check_dropout(ft.Dropout, torch.empty(1000))
    check_dropout(ft.Dropout, torch.empty(1000).bfloat16())


def test_Dropout1d():
    torch.manual_seed(0)
    # (PyTorch draws N, C, L from 10 .. 15: its bound on the mean is then 1.5 standard
    # deviations, a false failure in 8 runs; 50 x 40 channels make it 5.)
    check_dropout(ft.Dropout1d, torch.empty(50, 40, 14, dtype=torch.double))
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input, but received a 4D input"):
        ft.Dropout1d(p=0.5)(torch.rand(1, 2, 2, 2))
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input, but received a 1D input"):
        ft.Dropout1d(p=0.5)(torch.rand(2))
    x = torch.rand(50, 2)
    check_no_batch(ft.Dropout1d(p=0.5), x)
    check_no_batch(ft.Dropout1d(p=0.5, inplace=True), x)
    x = torch.ones(10, 4, 2)
    check_channel_zero(ft.Dropout1d(p=0.5), x)
    check_channel_zero(ft.Dropout1d(p=0.5, inplace=True), x)


def test_Dropout2d():
    torch.manual_seed(0)
    check_dropout(ft.Dropout2d, torch.empty(1000, 3, 4, 2))
    check_dropout(ft.Dropout2d, torch.empty(1000, 3, 4, 2), memory_format=torch.channels_last)
    with pytest.warns(UserWarning, match="Received a 5-D input to dropout2d"):
        ft.Dropout2d(p=0.5)(torch.rand(1, 2, 2, 2, 2))
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        ft.Dropout2d(p=0.5)(torch.rand(1, 2))
    with pytest.warns(UserWarning, match="assuming that channel-wise 1D dropout behavior"):
        y = ft.Dropout2d(p=0.5)(torch.ones(4, 8, 3))  # PyTorch's (N, C, L) reading
    assert ((y == 0).all(dim=2) | (y == 2).all(dim=2)).all()
    x = torch.ones(10, 4, 2, 2)
    check_channel_zero(ft.Dropout2d(p=0.5), x)
    check_channel_zero(ft.Dropout2d(p=0.5, inplace=True), x)


def test_Dropout3d():
    torch.manual_seed(0)
    check_dropout(ft.Dropout3d, torch.empty(1000, 2, 2, 3, 2))
    with pytest.warns(UserWarning, match="Received a 6-D input to dropout3d"):
        ft.Dropout3d(p=0.5)(torch.rand(1, 2, 2, 2, 2, 2))
    with pytest.warns(UserWarning, match="Received a 3-D input to dropout3d"):
        ft.Dropout3d(p=0.5)(torch.rand(1, 2, 2))
    x = torch.rand(50, 2, 2, 2)
    check_no_batch(ft.Dropout3d(p=0.5), x)
    check_no_batch(ft.Dropout3d(p=0.5, inplace=True), x)
    x = torch.ones(10, 4, 2, 2, 2)
    check_channel_zero(ft.Dropout3d(p=0.5), x)
    check_channel_zero(ft.Dropout3d(p=0.5, inplace=True), x)


def check_no_batch(module, x):
    """An unbatched input gives the batched input's result (the same draw: same RNG state)."""
    clone = x.clone()
    state = torch.get_rng_state()
    no_batch = module(x)
    torch.set_rng_state(state)
    batched = module(clone.unsqueeze(0)).squeeze(0)
    assert torch.equal(no_batch, batched)


def check_channel_zero(module, x):
    """Each channel of a positive input is zeroed whole or kept whole."""
    result = module(x.clone())
    count = x[0, 0].numel()
    for b, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        assert result[b, c].count_nonzero() in (0, count)


def test_channel_dropout_equals_fastdrop_nn_with_the_draw():
    """The mask of a (N, C, ...) call is the N * C elements of the draw, as fastdrop.nn's
    channel dropout draws them, scaled as PyTorch scales (in float32 for float16)."""
    for dtype, cls in itertools.product([torch.float16, torch.float32, torch.float64], [2, 3]):
        x = torch.randn(4, 6, *(3,) * cls, generator=torch.Generator().manual_seed(2)).to(dtype)
        draw = fastdrop.Draw(8, 9)
        y = (ft.dropout2d if cls == 2 else ft.dropout3d)(x, 0.3, generator=draw)
        layer = (fastdrop.nn.Dropout2d if cls == 2 else fastdrop.nn.Dropout3d)(0.3, rng=draw)
        assert np.array_equal(bits(y), bits(torch.from_numpy(layer(x.numpy()))))


def test_empty_dropout():
    x = torch.tensor([])
    assert ft.dropout(x).size() == x.size()
    assert ft.Dropout2d()(torch.empty(0, 3, 2, 2)).shape == (0, 3, 2, 2)


def check_alpha(cls, x):
    """PyTorch's _test_alpha_dropout: mean and standard deviation kept within 0.1."""
    mean, std = x.mean(), x.std()
    for p in [0.2, 0.5, 0.8]:
        module = cls(p)
        x_var = x.detach().clone().requires_grad_()
        output = module(x_var)
        assert abs(output.data.mean() - mean) < 0.1
        assert abs(output.data.std() - std) < 0.1
        output.backward(x)


def test_AlphaDropout():
    torch.manual_seed(3)
    check_alpha(ft.AlphaDropout, torch.randn(5000))


def test_FeatureAlphaDropout():
    torch.manual_seed(4)
    check_alpha(ft.FeatureAlphaDropout, torch.randn(1000, 3, 2, 4, 5))
    check_alpha(ft.FeatureAlphaDropout, torch.randn(50, 20, 64, 64))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("feature", [False, True])
def test_alpha_values_are_pytorch_s(dtype, feature):
    """Kept elements a * x + b and dropped ones c, with PyTorch's constants and arithmetic in
    the dtype (a dropped NaN is c too)."""
    p = 0.3
    x = torch.randn(40, 30, generator=torch.Generator().manual_seed(5)).to(dtype)
    x[0, :4] = torch.tensor([np.nan, np.inf, -np.inf, -0.0])
    fn = ft.feature_alpha_dropout if feature else ft.alpha_dropout
    draw = fastdrop.Draw(12)
    y = fn(x, p, True, generator=draw)
    mask_shape = x.shape[:2] if feature else x.shape
    kept = torch.from_numpy(fastdrop.dropout_mask(mask_shape, p, rng=draw))
    alpha = 1.7580993408473766
    a = 1.0 / np.sqrt((alpha * alpha * p + 1) * (1 - p))
    b = torch.zeros((), dtype=dtype).add_(alpha * a * p)
    c = torch.tensor(-1.0, dtype=dtype).mul_(alpha * a).add_(alpha * a * p)
    want = torch.where(kept, x * a + b, c)
    assert torch.equal(torch.isnan(y), torch.isnan(want))
    assert torch.equal(y[~torch.isnan(y)], want[~torch.isnan(want)])


def test_invalid_dropout_p():
    """PyTorch's test_invalid_dropout_p, for every module and function here; a NaN p is a
    ValueError (PyTorch's function raises RuntimeError), a wrong type a TypeError."""
    v = torch.ones(1, 1, 1)
    for cls in TORCH_MODULES.values():
        for p in [-0.1, 1.1]:
            with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
                cls(p)
    for fn in [*FUNCTIONS, ft.feature_alpha_dropout]:
        for p in [-0.1, 1.1, float("nan"), 10**400]:
            with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
                fn(v, p, True)
        for p in ["0.5", None, 0.5j]:
            with pytest.raises(TypeError, match="p must be a real number"):
                fn(v, p, True)
    with pytest.raises(ValueError, match="but got nan"):
        ft.Dropout(float("nan"))(v)  # accepted by torch.nn's constructor, refused at the call


def test_p_as_pytorch_takes_it():
    """True is 1 and a one-element tensor a number, as in PyTorch."""
    x = torch.ones(100)
    assert torch.equal(ft.dropout(x, True), torch.zeros(100))
    assert ft.dropout(x, False) is x
    y = ft.dropout(x, torch.tensor(0.5), generator=fastdrop.Draw(3))
    assert torch.equal(y, ft.dropout(x, 0.5, generator=fastdrop.Draw(3)))
    assert torch.equal(ft.dropout(x, np.float32(0.5), generator=fastdrop.Draw(3)), y)


def test_other_arguments_are_checked():
    x = torch.ones(4)
    with pytest.raises(TypeError, match="training must be a bool, got int 1"):
        ft.dropout(x, 0.5, training=1)
    with pytest.raises(TypeError, match=r"generator must be None, a torch\.Generator"):
        ft.dropout(x, 0.5, generator=7)
    with pytest.raises(TypeError, match=r"input must be a torch\.Tensor, got list"):
        ft.dropout([1.0, 2.0], 0.5)
    for fn in [ft.dropout1d, ft.dropout2d, ft.dropout3d, ft.feature_alpha_dropout]:
        with pytest.raises(TypeError, match=r"input must be a torch\.Tensor, got ndarray"):
            fn(np.ones((2, 3, 4, 5)), 0.5)
    with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions"):
        ft.feature_alpha_dropout(torch.ones(3), 0.5, True)
    before = x.clone()
    with pytest.raises(TypeError):
        ft.dropout(x, 0.5, inplace=True, generator="seed")
    assert torch.equal(x, before)  # nothing written


# -- rates 0 and 1, train and eval, in place -----------------------------------------------------


@pytest.mark.parametrize("fn", [*FUNCTIONS, ft.feature_alpha_dropout])
def test_nothing_dropped_returns_the_input_itself(fn):
    """As PyTorch: p = 0, training off and empty input return input (no copy, no draw)."""
    x = torch.ones(SHAPES[fn], requires_grad=True)
    state = torch.get_rng_state()
    assert fn(x, 0.0, True) is x
    assert fn(x, 0.5, False) is x
    empty = torch.ones(0, *SHAPES[fn][1:])
    assert fn(empty, 0.5, True) is empty
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_p_one_drops_everything(dtype):
    """Every function gives +0.0 everywhere (alpha dropout too, as PyTorch), takes no draw, and
    its gradient is 0."""
    x = torch.tensor([np.nan, -1.0, np.inf, 2.0] * 8, dtype=dtype).reshape(4, 8)
    state = torch.get_rng_state()
    for fn in [*FUNCTIONS, ft.feature_alpha_dropout]:
        x_var = x.clone().requires_grad_()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # dropout2d/3d of a 2-d input
            y = fn(x_var, 1.0, True)
        assert (bits(y) == 0).all()
        y.sum().backward()
        assert (x_var.grad == 0).all()
    assert torch.equal(torch.get_rng_state(), state)


def test_modules_follow_train_and_eval():
    model = nn.Sequential(ft.Dropout(0.5), ft.Dropout2d(0.5), ft.AlphaDropout(0.5))
    x = torch.randn(4, 3, 5, 5)
    assert not torch.equal(model(x), x)
    model.eval()
    assert torch.equal(model(x), x) and model[0](x) is x
    model.train()
    assert not torch.equal(model(x), x)


@pytest.mark.parametrize("fn", [*FUNCTIONS, ft.feature_alpha_dropout])
def test_in_place(fn):
    """The input itself, changed as the out-of-place result with the same draw; its version
    moves on, as after any in-place op."""
    x = torch.randn(SHAPES[fn], generator=torch.Generator().manual_seed(6))
    draw = fastdrop.Draw(21)
    expected = fn(x, 0.4, True, generator=draw)
    version = x._version
    result = fn(x, 0.4, True, True, generator=draw)
    assert result is x and torch.equal(x, expected) and x._version > version


def test_inplace_takes_any_truth_value():
    """As PyTorch's dropout (so that torch.nn.Dropout(0.5, inplace=1) still runs once patched)."""
    draw = fastdrop.Draw(4)
    for truth in [1, "yes", np.bool_(True)]:
        x = torch.ones(8)
        assert ft.dropout(x, 0.5, True, truth, generator=draw) is x
        assert torch.equal(x, ft.dropout(torch.ones(8), 0.5, generator=draw))
    for falsehood in [0, None, ""]:
        x = torch.ones(8)
        assert ft.dropout(x, 0.5, True, falsehood, generator=draw) is not x
        assert (x == 1).all()


def test_in_place_autograd():
    """In place on a non-leaf: gradients flow as out of place."""
    leaf = torch.randn(50, 40, dtype=torch.float64, requires_grad=True)
    draw = fastdrop.Draw(5)
    y = ft.dropout(leaf * 1, 0.3, inplace=True, generator=draw)
    y.sum().backward()
    assert torch.equal(leaf.grad, ft.dropout(torch.ones_like(leaf), 0.3, generator=draw))


def _forbidden_in_place(shape: tuple[int, ...]) -> list[tuple[str, torch.Tensor, str]]:
    """Tensors of ``shape`` that PyTorch's in-place ops refuse, with (part of) PyTorch's
    message."""
    stacked = torch.randn(2, *shape, dtype=torch.float64, requires_grad=True)
    product = stacked * 1
    with torch.no_grad():
        made_without_grad = product[1]
    with torch.inference_mode():
        inference = torch.ones(shape)
    return [
        ("leaf", torch.ones(shape, requires_grad=True), "a leaf Variable that requires grad"),
        ("view of a leaf", stacked[1], "a view of a leaf Variable that requires grad"),
        ("multi-output view", (stacked * 1).unbind(0)[1], "is a view and is being modified"),
        ("view made in no_grad", made_without_grad, "A view was created in no_grad mode"),
        ("inference tensor", inference, "Inplace update to inference tensor outside"),
        ("shared memory", torch.ones(*shape[:-1], 1).expand(shape), "more than one element"),
    ]


@pytest.mark.parametrize("fn", [*FUNCTIONS, ft.feature_alpha_dropout])
def test_in_place_refused_before_anything_is_drawn_or_written(fn):
    """PyTorch's error for each tensor its in-place ops refuse, raised before the call draws or
    writes: the tensor, PyTorch's generator and a fastdrop stream are as they were."""
    for name, x, message in _forbidden_in_place(SHAPES[fn]):
        before, state, stream = x.detach().clone(), torch.get_rng_state(), fastdrop.Philox(3)
        for generator in (None, stream):
            with pytest.raises(RuntimeError, match=re.escape(message)):
                fn(x, 0.5, True, True, generator=generator)
        assert torch.equal(x.detach(), before), name
        assert torch.equal(torch.get_rng_state(), state), name
        assert stream.offset == 0, name


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_negated_views_keep_their_sign(fn):
    """A view with PyTorch's negative bit (Tensor.conj().imag: its values are its memory
    negated) gives the result of its values, out of place and in place."""
    values = torch.randn(SHAPES[fn], generator=torch.Generator().manual_seed(8))
    z = torch.complex(torch.zeros_like(values), values)
    draw = fastdrop.Draw(3)
    negated = z.conj().imag
    assert negated.is_neg()
    expected = fn(negated.resolve_neg(), 0.5, True, generator=draw)
    assert torch.equal(fn(negated, 0.5, True, generator=draw), expected)
    assert fn(negated, 0.5, True, True, generator=draw) is negated
    assert torch.equal(negated, expected) and negated.is_neg()


# -- autograd: replayed, nothing saved ---------------------------------------------------------


@pytest.mark.parametrize(
    "fn, shape",
    [
        (ft.dropout, (7, 9)),
        (ft.dropout2d, (3, 4, 2, 2)),
        (ft.alpha_dropout, (7, 9)),
        (ft.feature_alpha_dropout, (3, 4, 5)),
    ],
)
def test_gradcheck_and_double_backward(fn, shape):
    x = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    x.requires_grad_()

    def f(t):
        return fn(t, 0.3, True, generator=fastdrop.Draw(99, 5))

    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))


@pytest.mark.parametrize("fn", [*FUNCTIONS, ft.feature_alpha_dropout])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_nothing_saved_for_backward(fn, dtype):
    x = torch.randn(SHAPES[fn], dtype=dtype, requires_grad=True)
    y, saved = saved_bytes(fn, x * 1, 0.5, True)
    assert saved == 0
    y.backward(torch.ones_like(y))
    assert x.grad is not None and x.grad.shape == x.shape
    _, torch_saved = saved_bytes(F.dropout, x * 1, 0.5)
    assert torch_saved > 0  # PyTorch's CPU dropout keeps its noise


def test_backward_replays_the_forward_mask():
    x = torch.ones(300, 70, requires_grad=True)
    y = ft.dropout(x, 0.3)
    y.sum().backward()
    assert torch.equal(x.grad, y)  # the same mask and scale
    x.grad = None
    y = ft.AlphaDropout(0.3)(x)
    y.sum().backward()
    a = 1.0 / np.sqrt((1.7580993408473766**2 * 0.3 + 1) * 0.7)
    kept = x.grad != 0
    assert torch.equal(kept, y > 0) and torch.allclose(x.grad[kept], torch.full_like(y[kept], a))


def test_double_backward_of_the_module():
    x = torch.randn(20, 10, dtype=torch.float64, requires_grad=True)
    y = ft.Dropout(0.5)(x)
    (grad,) = torch.autograd.grad(y.pow(2).sum(), x, create_graph=True)
    grad.sum().backward()
    kept = (y != 0).double()
    assert torch.allclose(x.grad, 2 * 4 * kept)  # d/dx sum(2 (2 x m)(2 m)) = 8 m


# -- seeds, generators and draws ---------------------------------------------------------------


def test_manual_seed_reproduces_a_run():
    def run():
        model = nn.Sequential(nn.Linear(10, 20), ft.Dropout(0.5), nn.Linear(20, 2), ft.Dropout(0.2))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for _ in range(3):
            optimizer.zero_grad()
            model(torch.randn(8, 10)).pow(2).sum().backward()
            optimizer.step()
        return [p.detach().clone() for p in model.parameters()]

    torch.manual_seed(123)
    first = run()
    torch.manual_seed(123)
    assert all(torch.equal(a, b) for a, b in zip(first, run(), strict=True))
    torch.manual_seed(124)
    assert not all(torch.equal(a, b) for a, b in zip(first, run(), strict=True))


def test_generators():
    x = torch.ones(1000)
    a = ft.dropout(x, 0.5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, ft.dropout(x, 0.5, generator=torch.Generator().manual_seed(1)))
    g = torch.Generator().manual_seed(1)
    assert not torch.equal(ft.dropout(x, 0.5, generator=g), ft.dropout(x, 0.5, generator=g))
    state = torch.get_rng_state()
    ft.dropout(x, 0.5, generator=g)
    assert torch.equal(torch.get_rng_state(), state)  # the default generator untouched
    stream = fastdrop.Philox(7)
    first = ft.dropout(x, 0.5, generator=stream)
    assert stream.offset == 8  # 1,000 elements: 8 blocks of 128
    assert torch.equal(first, ft.dropout(x, 0.5, generator=fastdrop.Draw(7, 0)))
    channels = ft.dropout2d(torch.ones(4, 5, 6, 6), 0.5, generator=stream)
    assert stream.offset == 9 and channels.shape == (4, 5, 6, 6)  # 20 mask elements: 1 block


def test_a_call_s_draw_is_two_64_bit_numbers_of_its_generator():
    """The key and offset are the generator's next two full-range int64 (Tensor.random_), as
    fastdrop.Draw: the result equals fastdrop.dropout's with that draw, and the generator moves
    on as far as that draw takes it."""
    x = torch.randn(3, 50, generator=torch.Generator().manual_seed(8))
    g = torch.Generator().manual_seed(9)
    expected_draw = torch.empty(2, dtype=torch.int64).random_(-(1 << 63), None, generator=g)
    after = g.get_state()
    key, offset = (value % (1 << 64) for value in expected_draw.tolist())
    g.manual_seed(9)
    result = ft.dropout(x, 0.4, generator=g)
    assert torch.equal(g.get_state(), after)
    expected = fastdrop.dropout(x.numpy(), 0.4, rng=fastdrop.Draw(key, offset))
    assert torch.equal(result, torch.from_numpy(expected))


def test_draws_in_threads_and_inference_mode():
    """Each thread draws through its own buffer (two threads never read each other's draw),
    which works from a thread's first call, in inference mode or not."""
    x = torch.ones(64, 64)
    expected = {s: ft.dropout(x, 0.5, generator=torch.Generator().manual_seed(s)) for s in range(8)}

    def calls(seed: int) -> bool:
        results = []
        for inference in (seed % 2 == 0, seed % 2 == 1):
            with torch.inference_mode(inference):
                generators = (torch.Generator().manual_seed(seed) for _ in range(30))
                results += [ft.dropout(x, 0.5, generator=g) for g in generators]
        return all(torch.equal(y, expected[seed]) for y in results)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        assert all(pool.map(calls, range(8)))


# -- threads -----------------------------------------------------------------------------------


def test_threads_follow_torch_unless_chosen():
    threads, chosen = _core.get_num_threads(), _core.num_threads_chosen()
    torch_threads = torch.get_num_threads()
    x = torch.randn(1 << 19)
    draw = fastdrop.Draw(4)
    try:
        _core.set_num_threads(1, False)  # a default: PyTorch's count replaces it
        torch.set_num_threads(2)
        reference = ft.dropout(x, 0.3, generator=draw)
        assert fastdrop.get_num_threads() == 2
        fastdrop.set_num_threads(3)  # the user's choice stays
        assert torch.equal(ft.dropout(x, 0.3, generator=draw), reference)
        assert fastdrop.get_num_threads() == 3
        torch.set_num_threads(1)
        _core.set_num_threads(4, False)
        assert torch.equal(ft.dropout(x, 0.3, generator=draw), reference)
        assert fastdrop.get_num_threads() == 1
    finally:
        torch.set_num_threads(torch_threads)
        _core.set_num_threads(threads, chosen)


# -- torch.compile, dispatch and the other routes ----------------------------------------------


# Inductor's own use of torch.jit.script_method warns (a PyTorch 2.13 deprecation).
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compile_runs_without_graph_break_and_gives_eager_results():
    """One small model (a cold inductor cache takes some 30 s): forward and backward compiled,
    fullgraph (no break); two calls on one tensor get two masks; the same seed gives eager
    mode's masks and gradients (to rounding: inductor sums a bias gradient in another order
    than eager mode, which can move its last bit; a wrong mask would move it by far more)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), ft.Dropout(0.5), nn.Linear(8, 4))

    def step(x):
        h = model(x)
        return ft.dropout(h, 0.3), ft.dropout(h, 0.3)

    x = torch.randn(5, 6)
    torch.manual_seed(1)
    a, b = step(x)
    (2 * a + b).sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    compiled = torch.compile(step, fullgraph=True)
    torch.manual_seed(1)
    ca, cb = compiled(x)
    (2 * ca + cb).sum().backward()
    assert torch.equal(ca, a) and torch.equal(cb, b) and not torch.equal(a, b)
    for grad, parameter in zip(grads, model.parameters(), strict=True):
        torch.testing.assert_close(parameter.grad, grad, rtol=1e-6, atol=1e-6)
    # Dropout's own gradient, with no sum after it, is eager mode's bit for bit.
    h = torch.randn(5, 8, requires_grad=True)
    upstream = torch.randn(5, 8)
    torch.manual_seed(2)
    ft.dropout(h, 0.3).backward(upstream)
    eager_grad, h.grad = h.grad, None
    torch.manual_seed(2)
    torch.compile(lambda t: ft.dropout(t, 0.3), fullgraph=True)(h).backward(upstream)
    assert torch.equal(h.grad, eager_grad) and (eager_grad == 0).any()


def test_compile_with_draws_and_streams_and_eval_mode():
    """A fastdrop.Draw or Philox as generator: its counters are made outside the graph (a break:
    Dynamo would trace their 64-bit numbers as symbols), so a new draw each call (keys past 2**63
    too) and a stream moving on each call give eager mode's results. In eval mode the module is
    the identity, compiled whole."""
    x = torch.randn(4, 6)
    fn = torch.compile(lambda t, d: ft.dropout(t, 0.5, generator=d), backend="aot_eager")
    for draw in [fastdrop.Draw(3, 4), fastdrop.Draw(3, 5), fastdrop.Draw(2**64 - 1, 2**63)]:
        assert torch.equal(fn(x, draw), ft.dropout(x, 0.5, generator=draw))
    stream, twin = fastdrop.Philox(8), fastdrop.Philox(8)
    streamed = torch.compile(lambda t: ft.dropout(t, 0.5, generator=stream), backend="aot_eager")
    for _ in range(3):
        assert torch.equal(streamed(x), ft.dropout(x, 0.5, generator=twin))
    assert stream.offset == twin.offset == 3
    module = ft.Dropout(0.5).eval()
    assert torch.equal(torch.compile(module, fullgraph=True, backend="aot_eager")(x), x)


def test_compile_in_place_without_graph_break():
    """In place, compiled whole (PyTorch's checks come with the graph's copy_): eager mode's
    result for the same seed, under autograd and under no_grad."""
    torch.manual_seed(0)
    model = ft.patch(nn.Sequential(nn.Linear(6, 6), nn.Dropout(0.5, inplace=True)))
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    x = torch.randn(4, 6)
    for grad_mode in (True, False):
        with torch.set_grad_enabled(grad_mode):
            torch.manual_seed(3)
            expected = model(x)
            torch.manual_seed(3)
            assert torch.equal(compiled(x), expected)


def test_the_registered_op():
    """fastdrop::dropout is a PyTorch op: its fake implementation gives the result's metadata,
    and torch.library's own checks of schema, fake and autograd registrations pass."""
    draw = torch.tensor([5, 6], dtype=torch.int64)
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    torch.library.opcheck(torch.ops.fastdrop.dropout.default, (x, draw, 0.3, 0, False))
    y = torch.ops.fastdrop.dropout(x, draw, 0.3, 0, False)
    assert torch.equal(y, ft.dropout(x, 0.3, generator=fastdrop.Draw(5, 6)))
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        fake = ft.dropout2d(torch.empty(2, 3, 4, 4), 0.5)
    assert fake.shape == (2, 3, 4, 4)


def test_torch_function_subclasses_see_the_call():
    seen = []

    class Logged(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            seen.append(func)
            return super().__torch_function__(func, types, args, kwargs or {})

    x = torch.ones(3).as_subclass(Logged)
    ft.dropout(x, 0.5)
    assert seen[0] is ft.dropout


def test_torch_func_grad():
    """With a Draw, and with PyTorch's generator (whose draw torch.func must not see written
    into a tensor made outside it): the gradient is the forward's mask, scaled."""
    x = torch.randn(6, dtype=torch.float64)
    draw = fastdrop.Draw(1)
    grad = torch.func.grad(lambda t: ft.dropout(t, 0.5, generator=draw).sum())(x)
    assert torch.equal(grad, ft.dropout(torch.ones_like(x), 0.5, generator=draw))
    for generator in (None, torch.Generator()):
        seeded = generator.manual_seed if generator is not None else torch.manual_seed
        seeded(4)
        grad = torch.func.grad(lambda t, g=generator: ft.dropout(t, 0.5, generator=g).sum())(x)
        seeded(4)
        assert torch.equal(grad, ft.dropout(torch.ones_like(x), 0.5, generator=generator))


# torch.func's first use imports code that warns (a PyTorch 2.13 deprecation).
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("fn", [*FUNCTIONS, ft.feature_alpha_dropout])
def test_forward_mode_ad(fn):
    """The tangent is the noise's linear part applied to it (what backward applies: a
    diagonal), with a dual tensor, in place too, and through torch.func.jvp; gradcheck's
    forward-mode check passes in float64."""
    draw = fastdrop.Draw(9)
    x = torch.randn(SHAPES[fn], dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    tangent = torch.randn(x.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x_var = x.clone().requires_grad_()
    (expected,) = torch.autograd.grad(fn(x_var, 0.3, True, generator=draw), x_var, tangent)
    for inplace in (False, True):
        with fwAD.dual_level():
            dual = fwAD.make_dual(x.clone(), tangent.clone())
            primal, result = fwAD.unpack_dual(fn(dual, 0.3, True, inplace, generator=draw))
        assert torch.equal(primal, fn(x, 0.3, True, generator=draw))
        assert torch.equal(result, expected)
    _, result = torch.func.jvp(lambda t: fn(t, 0.3, True, generator=draw), (x,), (tangent,))
    assert torch.equal(result, expected)
    small = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dropout2d of a 3-d input
        assert torch.autograd.gradcheck(
            lambda t: fn(t, 0.3, True, generator=draw), small, check_forward_ad=True
        )


def test_broadcast_input_gives_rows():
    """An expanded input (stride 0): the result is laid out as PyTorch's elementwise results
    are, the broadcast dimension in its place, so ``.view`` works on it."""
    row = torch.randn(5).expand(3, 5)
    result = ft.dropout(row, 0.5, generator=fastdrop.Draw(2))
    assert result.stride() == F.dropout(row, 0.5).stride() == (5, 1)
    assert torch.equal(
        result.view(-1), ft.dropout(row.contiguous(), 0.5, generator=fastdrop.Draw(2)).view(-1)
    )


def test_other_tensors_fall_back_to_pytorch():
    """Not fastdrop's dtypes or device: PyTorch's own function, its result or error."""
    meta = torch.empty(4, 5, device="meta")
    assert ft.dropout(meta, 0.5).device.type == "meta"
    assert ft.dropout2d(torch.empty(2, 3, 4, 4, device="meta"), 0.5).shape == (2, 3, 4, 4)
    with pytest.raises(RuntimeError, match="result type Float can't be cast"):
        ft.dropout(torch.ones(5, dtype=torch.int64), 0.5)
    with pytest.raises(ValueError, match="goes to PyTorch's own dropout"):
        ft.dropout(meta, 0.5, generator=torch.Generator())


# -- patch -------------------------------------------------------------------------------------


def test_patch_swaps_every_dropout_module_in_place():
    class Custom(nn.Dropout):
        pass

    inner = nn.Sequential(nn.Dropout2d(0.1, inplace=True), Custom(0.3))
    model = nn.Sequential(
        nn.Linear(3, 3),
        nn.Dropout(0.2),
        nn.Dropout1d(0.3),
        nn.Dropout3d(0.4),
        inner,
        nn.AlphaDropout(0.5),
        nn.FeatureAlphaDropout(0.6),
    )
    model[1].eval()
    hooked = []
    model[1].register_forward_hook(lambda *args: hooked.append(1))
    before = list(model.modules())
    assert ft.patch(model) is model
    assert list(model.modules()) == before  # the same objects
    for torch_class, module in zip(
        [nn.Dropout, nn.Dropout1d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout],
        [model[1], model[2], model[3], model[5], model[6]],
        strict=True,
    ):
        assert type(module) is TORCH_MODULES[torch_class] and isinstance(module, torch_class)
    assert type(inner[0]) is ft.Dropout2d and inner[0].inplace and inner[0].p == 0.1
    assert type(inner[1]) is Custom  # a subclass keeps its own class
    assert not model[1].training and model[2].training
    x = torch.ones(2, 3)
    model[1](x)
    assert hooked == [1]
    torch.manual_seed(5)
    y = model[2](torch.ones(2, 3, 4))
    torch.manual_seed(5)
    assert torch.equal(y, ft.dropout1d(torch.ones(2, 3, 4), 0.3))
    single = nn.Dropout(0.1)
    assert ft.patch(single) is single and type(single) is ft.Dropout
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        ft.patch([single])


# -- the package -------------------------------------------------------------------------------


def test_docstring_examples():
    result = doctest.testmod(ft, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
    for name in ft.__all__:
        assert "Examples" in getattr(ft, name).__doc__, name


def test_fastdrop_never_imports_torch_itself():
    result = run_python(
        """
        import sys, fastdrop, fastdrop.nn, fastdrop.functional
        assert "torch" not in sys.modules, "torch imported"
        """
    )
    assert result.returncode == 0, result.stderr


def test_without_torch_the_import_error_says_what_to_install():
    result = run_python(
        """
        import sys
        sys.modules["torch"] = None  # as if PyTorch were not installed
        try:
            import fastdrop.torch
        except ImportError as error:
            print(error)
        """
    )
    assert "pip install 'fastdrop[torch]'" in result.stdout, result.stderr
