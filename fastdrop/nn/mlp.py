"""A multilayer perceptron with dropout, trained by SGD: the network of Srivastava et al. (2014)."""

from __future__ import annotations

import copy
import math
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias, overload

import numpy as np
import numpy.typing as npt

from .. import _core
from .._core import (
    check_bool,
    check_choice,
    check_int,
    check_mode,
    check_p,
    check_real,
    check_rng,
    describe,
)
from .._progress import Progress
from ..functional import Probability, dropout, philox4x32
from ..random import Draw, Philox, RNGLike
from ._module import Module, Sequential, temporary_mode
from .dropout import Dropout
from .layers import (
    Linear,
    ReLU,
    SoftmaxCrossEntropy,
    Tanh,
    check_parameter_dtype,
    seed_sequence,
    softmax,
)
from .optim import SGD

_ROWS_PER_CALL = 8192  # rows per forward call at prediction time (bounds the memory used)
_HISTORY = ("loss", "error", "val_loss", "val_error", "lr", "seconds")  # fit's, in this order

_Rows: TypeAlias = tuple[np.ndarray, np.ndarray]  # inputs and their labels, checked


def _listed(values: object) -> object:
    """A 1-d array as the list it holds (a sequence of Python numbers), anything else as is."""
    return values.tolist() if isinstance(values, np.ndarray) and values.ndim == 1 else values


def _check_sizes(sizes: object) -> list[int]:
    sizes = _listed(sizes)
    if not isinstance(sizes, Sequence) or isinstance(sizes, str):
        raise TypeError(f"sizes must be a sequence of ints, got {type(sizes).__name__}")
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least two layer widths, got {sizes!r}")
    return [check_int(n, "each of sizes", 1) for n in sizes]


def _check_rates(dropout: object, layers: int) -> list[float]:
    if dropout is None:
        return [0.0] * layers
    dropout = _listed(dropout)
    if not isinstance(dropout, Sequence) or isinstance(dropout, str):
        raise TypeError(
            f"dropout must be None or a sequence of drop rates, got {type(dropout).__name__}"
        )
    if len(dropout) != layers:
        raise ValueError(
            f"dropout must give one rate per layer input ({layers}, input layer first), "
            f"got {describe(dropout)}"
        )
    rates = []
    for i, rate in enumerate(dropout):
        try:
            rates.append(check_p(rate, below_one=True))
        except (TypeError, ValueError) as error:  # check_p names p: say which rate it is
            raise type(error)(f"dropout[{i}]: {error}") from None
    return rates


def _check_counts(**counts: int) -> None:
    for name, value in counts.items():
        check_int(value, name, 1)


class _EarlyStopping:
    """fit's early stopping: the best validation loss so far and a copy of the weights that
    gave it; stop when ``patience`` epochs have passed without a better one (never for None).
    """

    def __init__(self, patience: int | None, has_validation: bool) -> None:
        if patience is not None:
            check_int(patience, "patience (or None)", 1)
        if patience is not None and not has_validation:
            raise ValueError("early stopping (patience) needs validation_data or validation_split")
        self.patience = patience
        self.best_loss = math.inf
        self.best_weights: list[np.ndarray] | None = None

    def stop(self, val_losses: list[float], weights: list[np.ndarray]) -> bool:
        """After the epoch of ``val_losses[-1]``: whether to stop; a better loss keeps a copy
        of ``weights``."""
        if self.patience is None:
            return False
        if val_losses[-1] < self.best_loss:
            self.best_loss, self.best_weights = val_losses[-1], copy.deepcopy(weights)
            return False
        return bool(len(val_losses) - int(np.argmin(val_losses)) - 1 >= self.patience)

    def restore(self, model: MLP) -> None:
        """Put the best epoch's weights back, if there was early stopping and a best epoch."""
        if self.best_weights is not None:
            model.set_weights(self.best_weights)


class _Report:
    """What fit writes on stderr when verbose: a bar through each epoch's batches (when stderr
    is a terminal), then a line of the epoch's figures."""

    def __init__(self, epochs: int, batches: int, verbose: bool) -> None:
        self.epochs, self.batches, self.verbose = epochs, batches, verbose

    def bar(self, epoch: int) -> tuple[Progress, str]:
        """A fresh bar for the epoch's batches, and its label."""
        enabled = self.verbose and sys.stderr.isatty()
        return Progress(self.batches, enabled), f"epoch {epoch}/{self.epochs}"

    def line(self, epoch: int, history: dict[str, list[float]]) -> None:
        if self.verbose:
            figures = "  ".join(f"{key} {history[key][-1]:.4f}" for key in _HISTORY[:4])
            sys.stderr.write(
                f"epoch {epoch:>3}/{self.epochs}  {figures}  {history['seconds'][-1]:.2f} s\n"
            )


class MLP(Module):
    """A classifier: dropout on each layer's input, Linear layers, ReLU (or tanh) between them,
    softmax cross-entropy, trained by SGD with momentum and optional max-norm.

    Evaluation (:meth:`predict`, :meth:`predict_proba`) uses the whole network with weight
    scaling (no dropout), or averages ``mc_samples`` dropout networks (Monte-Carlo dropout).

    The model is a :class:`~fastdrop.nn.Module` whose one child is :attr:`network`:
    ``train()``, ``eval()``, ``parameters()``, ``zero_grad()``, and ``model(X)`` (see
    :meth:`forward`) for a training loop of one's own. Its ``training`` flag is the network's.
    :meth:`fit`, :meth:`predict_proba`, :meth:`predict` and :meth:`evaluate` switch the mode
    they need and leave the model in the mode they found it in.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths from input to output, e.g. ``[64, 256, 256, 10]``; the last is the number
        of classes.
    dropout : sequence of float or None, optional
        One drop rate per layer input, input layer first (``len(sizes) - 1`` rates; the paper
        uses 0.2 for the input and 0.5 for hidden layers). None: no dropout.
    rng : None, int, numpy.random.Generator, fastdrop.Philox or fastdrop.Draw, optional
        Seeds everything random (initial weights, batch order, dropout masks): the same seed
        gives the same run, bit for bit. None: fresh entropy; an int in [0, 2**64) or a Draw
        (``Draw(k)`` is k); a Generator or a Philox stream gives a seed (and moves on). The rule
        of :func:`fastdrop.dropout`'s ``rng``.
    activation : {"relu", "tanh"}, optional
        The hidden nonlinearity (with He or Glorot initialisation).
    mode : {"inverted", "vanilla"}, optional
        Scale kept units by 1 / (1 - p) in training, or the weights' inputs by 1 - p at
        evaluation; see :class:`fastdrop.nn.Dropout`.
    dtype : float32 or float64, optional
        Of the weights and the computation.
    standardize : bool, optional
        The first :meth:`fit` records each input feature's mean over its training rows and the
        standard deviation of all the centred values, and every input is then shifted by the
        means and divided by that one deviation, so the defaults train well whatever the
        inputs' units. (One deviation for all: per-feature scaling would blow up features that
        are nearly constant, such as border pixels.)

    Attributes
    ----------
    network : fastdrop.nn.Sequential
        The layers.
    training : bool
        Training mode (dropout on): the network's flag.
    stream : fastdrop.Philox
        Where the training masks come from.
    mc_key : int
        The 64-bit key of the Monte-Carlo masks of :meth:`predict_proba` (``rng=None``), fixed
        when the model is made (from ``rng``) and saved and loaded with it.
    input_shift, input_scale : numpy.ndarray or None
        The standardization, once fitted.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdrop.nn import MLP
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((600, 2)).astype(np.float32)
    >>> y = (X[:, 0] * X[:, 1] > 0).astype(int)  # XOR of the signs
    >>> model = MLP([2, 64, 64, 2], dropout=[0.0, 0.2, 0.2], rng=1)
    >>> history = model.fit(X, y, epochs=40, verbose=False)
    >>> bool(history["error"][-1] < 0.1 and (model.predict(X) == y).mean() > 0.95)
    True
    >>> mean, spread = model.predict_proba(X[:3], mc_samples=20)
    >>> mean.shape, bool((spread >= 0).all())
    ((3, 2), True)
    >>> model.training  # as it was before fit and predict_proba
    True
    >>> MLP([2, 8, 2], rng=0)
    MLP(
      sizes=[2, 8, 2], dropout=[0.0, 0.0], activation='relu', mode='inverted', dtype=float32, ...
      (network): Sequential(
        (0): Linear(in_features=2, out_features=8, bias=True, dtype=float32)
        (1): ReLU()
        (2): Linear(in_features=8, out_features=2, bias=True, dtype=float32)
      )
    )
    """

    def __init__(
        self,
        sizes: Sequence[int | np.integer] | npt.NDArray[np.integer],
        dropout: Sequence[Probability] | npt.NDArray[np.floating] | None = None,
        rng: RNGLike = None,
        *,
        activation: Literal["relu", "tanh"] = "relu",
        mode: Literal["inverted", "vanilla"] = "inverted",
        dtype: npt.DTypeLike = np.float32,
        standardize: bool = True,
    ) -> None:
        self.sizes = _check_sizes(sizes)
        self.rates = _check_rates(dropout, len(self.sizes) - 1)
        check_choice(activation, "activation", ("relu", "tanh"))
        check_mode(mode)
        self.activation, self.mode = activation, mode
        self.dtype = check_parameter_dtype(dtype)
        self.standardize = check_bool(standardize, "standardize")
        self.input_shift: np.ndarray | None = None
        self.input_scale: np.ndarray | None = None
        # Last, as it may move a stream. spawn(4)'s first three children are spawn(3)'s: the
        # MC key left the earlier children as they were.
        init_seed, order_seed, mask_seed, mc_seed = seed_sequence(rng).spawn(4)
        self._order = np.random.default_rng(order_seed)
        self.stream = Philox(int(mask_seed.generate_state(1, np.uint64)[0]))
        self.mc_key = int(mc_seed.generate_state(1, np.uint64)[0])
        init = np.random.default_rng(init_seed)
        layers: list[Module] = []
        for i, (width_in, width_out) in enumerate(zip(self.sizes, self.sizes[1:], strict=False)):
            if self.rates[i] > 0:
                layers.append(Dropout(self.rates[i], mode, rng=self.stream))
            scheme: Literal["he", "glorot"] = "he" if activation == "relu" else "glorot"
            layers.append(Linear(width_in, width_out, init=scheme, rng=init, dtype=self.dtype))
            if i < len(self.sizes) - 2:
                layers.append(ReLU() if activation == "relu" else Tanh())
        self.network = Sequential(*layers)
        self.loss = SoftmaxCrossEntropy()
        super().__init__()  # after the network: the training flag is the network's

    # -- the module ---------------------------------------------------------------------------

    @property
    def training(self) -> bool:
        """Training mode: the network's flag, so the model and its network cannot disagree."""
        return self.network.training

    @training.setter
    def training(self, mode: bool) -> None:
        self.network.training = mode

    def children(self) -> list[Module]:
        return [self.network]

    def named_children(self) -> list[tuple[str, Module]]:
        return [("network", self.network)]

    def extra_repr(self) -> str:
        return (
            f"sizes={self.sizes}, dropout={self.rates}, activation={self.activation!r}, "
            f"mode={self.mode!r}, dtype={self.dtype.name}, standardize={self.standardize}"
        )

    def forward(self, X: npt.ArrayLike) -> np.ndarray:
        """The network's logits for the rows of X, prepared as :meth:`predict` prepares them.

        X is checked, converted to the model's dtype and standardized (once :meth:`fit` has
        fitted the standardization), then goes through the network in one call, in the
        current mode: with dropout in training mode, weight-scaled after :meth:`eval`.

        Parameters
        ----------
        X : array_like, shape (n, sizes[0])
            Inputs, in the units :meth:`fit` and :meth:`predict` take.

        Returns
        -------
        numpy.ndarray
            Logits of shape (n, classes), in the model's dtype.

        Raises
        ------
        ValueError
            If X has the wrong shape or holds NaN or infinity.
        TypeError
            If X is not numeric.

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import MLP, softmax
        >>> model = MLP([4, 8, 3], dropout=[0.2, 0.5], rng=0)
        >>> X = np.ones((2, 4))
        >>> bool(np.allclose(softmax(model.eval()(X)), model.predict_proba(X)))
        True
        """
        return self.network.forward(self._inputs(X))

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """The gradient with respect to the X of the last :meth:`forward`: the network's
        backward (which adds to every parameter's ``.grad``), then the standardization's.

        Parameters
        ----------
        grad : numpy.ndarray, shape (n, classes)
            The gradient of the loss with respect to the logits :meth:`forward` returned.

        Returns
        -------
        numpy.ndarray
            Of shape (n, sizes[0]).

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import MLP, SoftmaxCrossEntropy
        >>> model, loss = MLP([4, 8, 3], dropout=[0.2, 0.5], rng=0), SoftmaxCrossEntropy()
        >>> value = loss(model(np.ones((5, 4))), np.arange(5) % 3)
        >>> model.zero_grad()
        >>> model.backward(loss.backward()).shape, model.parameters()[0].grad.shape
        ((5, 4), (4, 8))
        """
        grad = self.network.backward(grad)
        return grad if self.input_scale is None else grad / self.input_scale

    # -- data ---------------------------------------------------------------------------------

    def _inputs(self, X: npt.ArrayLike) -> np.ndarray:
        """X checked, as C-contiguous rows of the model's dtype, standardized once fitted."""
        return self._standardized(self._raw_inputs(X))

    def _standardized(self, array: np.ndarray) -> np.ndarray:
        if self.input_shift is None or self.input_scale is None:
            return array
        return (array - self.input_shift) / self.input_scale

    def _raw_inputs(self, X: npt.ArrayLike) -> np.ndarray:
        array = np.asarray(X)
        self._check_input_form(array.dtype, array.shape)
        array = np.ascontiguousarray(array, self.dtype)
        if not np.isfinite(array).all():
            raise ValueError("X contains NaN or infinity")
        return array

    def _check_input_form(self, dtype: np.dtype, shape: tuple[int, ...]) -> None:
        """X's rule for NumPy and Dask input alike: numeric, of shape (n, sizes[0])."""
        if dtype.kind not in "biuf":
            raise TypeError(f"X must be numeric, got dtype {dtype}")
        if len(shape) != 2 or shape[1] != self.sizes[0]:
            raise ValueError(f"X must have shape (n, {self.sizes[0]}), got {shape}")

    def _labels(self, y: npt.ArrayLike, rows: int) -> np.ndarray:
        labels = np.asarray(y)
        classes = self.sizes[-1]
        if labels.dtype.kind not in "iu":
            raise TypeError(f"y must hold integer labels, got dtype {labels.dtype}")
        if labels.shape != (rows,):
            raise ValueError(f"y must be {rows} labels, one a row of X, got shape {labels.shape}")
        if rows and (labels.min() < 0 or labels.max() >= classes):
            raise ValueError(f"labels must be in [0, {classes}), the output width")
        return labels.astype(np.intp)

    # -- training -----------------------------------------------------------------------------

    def fit(
        self,
        X: npt.ArrayLike,
        y: npt.ArrayLike,
        *,
        epochs: int = 30,
        batch_size: int = 64,
        lr: float = 0.01,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        max_norm: float | None = None,
        lr_decay: float = 1.0,
        validation_data: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
        validation_split: float = 0.0,
        patience: int | None = None,
        verbose: bool = True,
    ) -> dict[str, list[float]]:
        """Train with mini-batch SGD; returns the per-epoch history.

        Each epoch visits the training rows in a fresh random order. The train loss and error
        are the means over the epoch's batches as trained (with dropout); validation loss and
        error are measured at evaluation (without dropout) after the epoch. The model is left
        in the mode it was in.

        Parameters
        ----------
        X : array_like, shape (n, sizes[0])
            Inputs, best scaled to about unit range.
        y : array_like of int, shape (n,)
            Class labels in [0, sizes[-1]).
        epochs : int, optional
            Passes over the data.
        batch_size : int, optional
            Rows per SGD step.
        lr, momentum, weight_decay, max_norm, lr_decay : optional
            As for :class:`fastdrop.nn.SGD` (``lr_decay`` is applied after every epoch). The
            default lr trains the paper's network and drop rates on MNIST's 784 pixels as on
            8x8 digits; 0.05 diverged on MNIST: with momentum 0.9 a step is about 10 x lr x the
            gradient, it moves a unit's input in proportion to the squared norm of the unit's
            inputs (the number of features, once standardized), and inverted dropout raises
            that norm by 1 / (1 - p).
        validation_data : (X, y), optional
            Held-out data to report after each epoch.
        validation_split : float, optional
            Or: the fraction of the rows, taken from the end of X and y, to hold out, in [0, 1).
        patience : int, optional
            Stop when the validation loss has not improved for this many epochs and restore
            the weights of the best epoch. Needs validation data.
        verbose : bool, optional
            A progress bar (when stderr is a terminal) and one line per epoch, on stderr.

        Returns
        -------
        dict of list of float
            ``loss``, ``error``, ``val_loss``, ``val_error`` (NaN without validation data),
            ``lr`` and ``seconds``, one entry per epoch run.

        Raises
        ------
        TypeError
            If X is not numeric, y not integers, or an option of the wrong type (a bool is no
            number, and a flag must be a bool).
        ValueError
            If X or y is malformed or an option out of its range. Nothing has changed then:
            neither the weights, nor the standardization, nor the streams.

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import MLP
        >>> X = np.random.default_rng(0).standard_normal((200, 2))
        >>> y = (X[:, 0] > 0).astype(int)
        >>> model = MLP([2, 16, 2], dropout=[0.0, 0.2], rng=0)
        >>> history = model.fit(X, y, epochs=5, validation_split=0.2, verbose=False)
        >>> len(history["loss"]), bool(history["val_error"][-1] < 0.2)
        (5, True)
        """
        X = self._raw_inputs(X)
        y = self._labels(y, X.shape[0])
        _check_counts(epochs=epochs, batch_size=batch_size)
        check_bool(verbose, "verbose")
        train, validation = self._split_validation(X, y, validation_data, validation_split)
        stopping = _EarlyStopping(patience, validation is not None)
        optimizer = SGD(
            self.network.parameters(),
            lr,
            momentum=momentum,
            weight_decay=weight_decay,
            max_norm=max_norm,
            lr_decay=lr_decay,
        )
        # Everything is checked: from here on the model changes.
        train, validation = self._standardized_for_fit(train, validation)
        history: dict[str, list[float]] = {key: [] for key in _HISTORY}
        report = _Report(epochs, math.ceil(len(train[1]) / batch_size), verbose)
        with temporary_mode(self, True):  # eval mode only while measuring the validation rows
            for epoch in range(1, epochs + 1):
                bar, label = report.bar(epoch)
                values = self._epoch(train, validation, optimizer, batch_size, bar, label)
                for key, value in zip(_HISTORY, values, strict=True):
                    history[key].append(value)
                report.line(epoch, history)
                if stopping.stop(history["val_loss"], self.weights()):
                    break
        stopping.restore(self)
        return history

    def _split_validation(
        self,
        X: np.ndarray,
        y: np.ndarray,
        validation_data: tuple[npt.ArrayLike, npt.ArrayLike] | None,
        validation_split: float,
    ) -> tuple[_Rows, _Rows | None]:
        """The training rows and the validation rows (checked; None without validation): the
        given validation_data, or the last ``validation_split`` of X and y."""
        validation_split = check_real(validation_split, "validation_split", 0, 1, high_open=True)
        if validation_data is not None and not (
            isinstance(validation_data, (tuple, list)) and len(validation_data) == 2
        ):
            raise TypeError(
                f"validation_data must be None or a pair (X, y), got {describe(validation_data)}"
            )
        if validation_data is not None and validation_split:
            raise ValueError("give validation_data or validation_split, not both")
        if validation_split:
            cut = X.shape[0] - math.ceil(validation_split * X.shape[0])
            validation_data = (X[cut:], y[cut:])
            X, y = X[:cut], y[:cut]
        if X.shape[0] == 0:
            raise ValueError("X has no rows to train on")
        if validation_data is None:
            return (X, y), None
        val_X = self._raw_inputs(validation_data[0])
        return (X, y), (val_X, self._labels(validation_data[1], val_X.shape[0]))

    def _standardized_for_fit(
        self, train: _Rows, validation: _Rows | None
    ) -> tuple[_Rows, _Rows | None]:
        """Both sets of rows standardized, by statistics of the training rows on the first fit."""
        if self.standardize and self.input_shift is None:
            self._fit_standardization(train[0])
        train = (self._standardized(train[0]), train[1])
        if validation is not None:
            validation = (self._standardized(validation[0]), validation[1])
        return train, validation

    def _epoch(
        self,
        train: _Rows,
        validation: _Rows | None,
        optimizer: SGD,
        batch_size: int,
        bar: Progress,
        label: str,
    ) -> tuple[float, ...]:
        """Train an epoch, decay the learning rate, measure the validation rows; the epoch's
        history values, in the order of ``_HISTORY`` (the learning rate is the one trained
        with)."""
        start = time.perf_counter()
        loss, error = self._train_epoch(train, optimizer, batch_size, bar, label)
        lr = optimizer.lr
        optimizer.epoch_end()
        val_loss, val_error = (
            (math.nan, math.nan) if validation is None else self._loss_and_error(*validation)
        )
        return loss, error, val_loss, val_error, lr, time.perf_counter() - start

    def _train_epoch(
        self, train: _Rows, optimizer: SGD, batch_size: int, bar: Progress, label: str
    ) -> tuple[float, float]:
        """One pass over the rows in a fresh random order, one SGD step a batch; the mean loss
        and error of the batches as trained."""
        X, y = train
        loss_sum = errors = 0.0
        order = self._order.permutation(X.shape[0])
        for first in range(0, X.shape[0], batch_size):
            rows = order[first : first + batch_size]
            logits = self.network.forward(X[rows])
            loss_sum += self.loss.forward(logits, y[rows]) * rows.size
            errors += np.count_nonzero(logits.argmax(axis=1) != y[rows])
            optimizer.zero_grad()
            self.network.backward(self.loss.backward())
            optimizer.step()
            bar.step(label)
        bar.close()
        return loss_sum / X.shape[0], errors / X.shape[0]

    def _fit_standardization(self, X: np.ndarray) -> None:
        shift = X.mean(axis=0, dtype=np.float64)
        deviation = float(np.sqrt(np.mean((X - shift) ** 2)))
        scale = deviation if deviation > 0 else 1.0  # all rows equal: shift only
        self.input_shift = shift.astype(self.dtype)
        self.input_scale = np.array(scale, self.dtype)

    # -- evaluation ---------------------------------------------------------------------------

    def _logits(self, X: np.ndarray) -> np.ndarray:
        return self._in_row_batches(X, lambda rows, _: self.network.forward(rows))

    def _mc_draws(self, mc_samples: int, rng: RNGLike) -> list[list[Draw]]:
        """The draws of the Monte-Carlo masks: for sample t and the l-th dropout layer, a key
        derived from the call's base (key, offset) by Philox4x32-10 of the counter
        (offset low, offset high, t, l) under that key (words 0 and 1 of the output), at
        offset 0."""
        base = Draw(self.mc_key) if rng is None else _core.resolve_draw(rng, 1)
        layers = sum(isinstance(layer, Dropout) for layer in self.network)
        counters = np.zeros((mc_samples, layers, 4), np.uint64)
        counters[..., 0] = base.offset & 0xFFFFFFFF
        counters[..., 1] = base.offset >> 32
        counters[..., 2] = np.arange(mc_samples, dtype=np.uint64)[:, None]
        counters[..., 3] = np.arange(layers, dtype=np.uint64)
        words = philox4x32(counters, [base.key & 0xFFFFFFFF, base.key >> 32]).astype(np.uint64)
        keys = words[..., 0] | words[..., 1] << np.uint64(32)
        return [[Draw(int(key)) for key in row] for row in keys]

    def _rows_limit(self) -> int:
        """One more than the last row index a Monte-Carlo call may score: each dropout layer's
        masks are a box of a logical array of this many rows."""
        return (1 << 62) // max(self.sizes)

    def _check_rows(self, first: int, rows: int) -> None:
        """Rows first .. first + rows must lie within the _rows_limit() a call may score."""
        if first + rows > self._rows_limit():
            raise ValueError(
                f"first_row + len(X) must be at most {self._rows_limit()} (2**62 // the widest "
                f"layer), got {first} + {rows}"
            )

    def _masked_logits(self, X: np.ndarray, first_row: int, draws: list[Draw] | None) -> np.ndarray:
        """The logits of standardized rows X, the first being row ``first_row`` of the data:
        with the Monte-Carlo masks of ``draws`` (one per dropout layer; row i of a layer's input
        gets the masks of row first_row + i of a (rows, width) logical array), or at evaluation
        (None). Nothing in the model changes (no mode switch): calls may run at once."""
        index = 0
        for layer in self.network:
            if not isinstance(layer, Dropout):
                X = layer.forward(X)
                continue
            if draws is None:  # evaluation: what the layer does after eval()
                X = dropout(X, layer.p, training=False, mode=layer.mode)
                continue
            threshold, scale = _core.dropout_rule(layer.p, layer.mode == "inverted", True)
            result = _core.empty_like(X)
            whole, start = (self._rows_limit(), X.shape[1]), (first_row, 0)
            _core.dropout_box(X, result, None, whole, start, draws[index], threshold, scale)
            X, index = result, index + 1
        return X

    @overload
    def predict_proba(
        self,
        X: npt.ArrayLike,
        mc_samples: None = ...,
        *,
        first_row: int | np.integer = ...,
        rng: RNGLike = ...,
    ) -> np.ndarray: ...
    @overload
    def predict_proba(
        self,
        X: npt.ArrayLike,
        mc_samples: int | np.integer,
        *,
        first_row: int | np.integer = ...,
        rng: RNGLike = ...,
    ) -> tuple[np.ndarray, np.ndarray]: ...
    @overload
    def predict_proba(
        self,
        X: npt.ArrayLike,
        mc_samples: int | np.integer | None,
        *,
        first_row: int | np.integer = ...,
        rng: RNGLike = ...,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]: ...
    def predict_proba(
        self,
        X: npt.ArrayLike,
        mc_samples: int | np.integer | None = None,
        *,
        first_row: int | np.integer = 0,
        rng: RNGLike = None,
    ) -> Any:
        """Class probabilities at evaluation, or their Monte-Carlo dropout estimate.

        Monte-Carlo dropout does not depend on batching: the masks of sample t for row i of X
        are a pure function of (the Monte-Carlo key, t, ``first_row + i``). Each dropout layer's
        masks of sample t are a box (rows ``first_row ..``) of one logical array of (rows,
        width) under a key derived from the call's key by Philox (fastdrop's box API), so
        scoring X whole, row by row, or in batches of any size (each with its ``first_row``)
        gives every row the same masks, and calling again gives the same answer. The
        probabilities then agree to the rounding of the matrix products: BLAS may sum a row's
        products in another order in batches of another size (about 1e-7 relative in float32).

        Parameters
        ----------
        X : array_like or dask.array.Array, shape (n, sizes[0])
            Inputs. A Dask array gives Dask arrays: each chunk of rows is scored where it is,
            with its own ``first_row`` (the chunk's first row in X, plus ``first_row``), so the
            result equals the NumPy call's on the computed X to the rounding above.
        mc_samples : int, optional
            None: one pass of the whole network with weight scaling (no dropout). k >= 1: the
            mean and standard deviation of the softmax outputs of k dropout networks, a measure
            of the model's uncertainty.
        first_row : int, optional
            The index of X's first row in the whole data set, >= 0: the masks are those rows'.
        rng : None, int, numpy.random.Generator, fastdrop.Philox or fastdrop.Draw, optional
            The Monte-Carlo key. None: :attr:`mc_key`, fixed when the model is made. Otherwise
            as for :func:`fastdrop.dropout`: an int is the key (offset 0), a Draw its key and
            offset, a Generator gives a key, and a Philox stream the next counter block of
            its own (so each call gets other masks).

        Returns
        -------
        numpy.ndarray or (numpy.ndarray, numpy.ndarray)
            Probabilities of shape (n, classes); with ``mc_samples``, their mean and their
            standard deviation over the samples. Dask arrays for a Dask X. The model's mode is
            not changed.

        Raises
        ------
        TypeError
            If X is not numeric, or ``mc_samples``, ``first_row`` or ``rng`` has a wrong type.
        ValueError
            If X has the wrong shape or holds NaN or infinity, ``mc_samples`` < 1, or
            ``first_row`` < 0 or past the rows a logical array holds (2**62 // the widest layer).

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import MLP
        >>> model = MLP([4, 8, 3], dropout=[0.2, 0.5], rng=0)
        >>> p = model.predict_proba(np.ones((2, 4)))
        >>> p.shape, bool(np.allclose(p.sum(axis=1), 1))
        ((2, 3), True)
        >>> X = np.random.default_rng(1).standard_normal((6, 4))
        >>> mean, spread = model.predict_proba(X, mc_samples=10)
        >>> rows = model.predict_proba(X[4:], mc_samples=10, first_row=4)  # rows 4 and 5 alone
        >>> bool(np.allclose(rows[0], mean[4:], rtol=1e-5))
        True
        """
        if mc_samples is not None:
            check_int(mc_samples, "mc_samples (or None)", 1)
        first = check_int(first_row, "first_row", 0)
        check_rng(rng)
        if _core.lazy_engine(X) is not None:
            from .._lazy import predict_proba

            return predict_proba(
                self, X, None if mc_samples is None else int(mc_samples), first, rng
            )
        X = self._inputs(X)
        self._check_rows(first, X.shape[0])
        if mc_samples is None:
            return self._in_row_batches(
                X, lambda rows, _: softmax(self._masked_logits(rows, 0, None))
            )
        draws = self._mc_draws(int(mc_samples), rng)

        def moments(rows: np.ndarray, at: int) -> tuple[np.ndarray, np.ndarray]:
            mean = np.zeros((rows.shape[0], self.sizes[-1]), np.float64)
            square = np.zeros_like(mean)
            for sample in draws:
                probabilities = softmax(self._masked_logits(rows, first + at, sample))
                probabilities = probabilities.astype(np.float64)
                mean += probabilities
                square += probabilities * probabilities
            mean /= len(draws)
            variance = np.maximum(square / len(draws) - mean * mean, 0.0)
            return mean.astype(self.dtype), np.sqrt(variance).astype(self.dtype)

        return self._in_row_batches(X, moments)

    def _in_row_batches(self, X: np.ndarray, score: Any) -> Any:
        """score(rows, first) over batches of _ROWS_PER_CALL rows (bounding the memory held),
        the results concatenated (an array, or a tuple of arrays)."""
        parts = [score(X[i : i + _ROWS_PER_CALL], i) for i in range(0, X.shape[0], _ROWS_PER_CALL)]
        if not parts:
            parts = [score(X[:0], 0)]
        if isinstance(parts[0], tuple):
            return tuple(np.concatenate(columns) for columns in zip(*parts, strict=True))
        return np.concatenate(parts)

    def predict(
        self,
        X: npt.ArrayLike,
        mc_samples: int | np.integer | None = None,
        *,
        first_row: int | np.integer = 0,
        rng: RNGLike = None,
    ) -> Any:
        """Class labels: the argmax of :meth:`predict_proba` (its mean, with ``mc_samples``);
        ``first_row`` and ``rng`` as there. A Dask array of rows gives a Dask array.

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import MLP
        >>> MLP([4, 8, 3], rng=0).predict(np.zeros((2, 4))).shape
        (2,)
        """
        result: Any = self.predict_proba(X, mc_samples, first_row=first_row, rng=rng)
        return (result if mc_samples is None else result[0]).argmax(axis=1)

    def evaluate(self, X: npt.ArrayLike, y: npt.ArrayLike) -> tuple[float, float]:
        """Mean cross-entropy and error rate at evaluation (no dropout).

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import MLP
        >>> loss, error = MLP([4, 3], rng=0).evaluate(np.zeros((5, 4)), np.arange(5) % 3)
        >>> round(loss, 4), error  # zero inputs: uniform probabilities, argmax class 0
        (1.0986, 0.6)
        """
        X = self._inputs(X)
        return self._loss_and_error(X, self._labels(y, X.shape[0]))

    def _loss_and_error(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """evaluate for inputs already checked and standardized."""
        with temporary_mode(self, False):
            logits = self._logits(X)
        error = float(np.count_nonzero(logits.argmax(axis=1) != y) / max(y.size, 1))
        return SoftmaxCrossEntropy().forward(logits, y), error

    # -- weights ------------------------------------------------------------------------------

    def weights(self) -> list[np.ndarray]:
        """The parameter arrays (weights and biases, input side first); views, not copies.

        Examples
        --------
        >>> from fastdrop.nn import MLP
        >>> [w.shape for w in MLP([4, 8, 3], rng=0).weights()]
        [(4, 8), (8,), (8, 3), (3,)]
        """
        return [parameter.value for parameter in self.network.parameters()]

    def set_weights(self, arrays: Sequence[np.ndarray]) -> None:
        """Copy ``arrays`` (as :meth:`weights` lists them) into the parameters, all checked
        before any is written.

        Parameters
        ----------
        arrays : sequence of array_like
            One real array a parameter, of its shape.

        Raises
        ------
        TypeError
            If ``arrays`` is not a sequence, or an array not real numbers.
        ValueError
            If the count or a shape differs.

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import MLP
        >>> model, other = MLP([4, 8, 3], rng=0), MLP([4, 8, 3], rng=1)
        >>> other.set_weights(model.weights())
        >>> all(np.array_equal(a, b) for a, b in zip(model.weights(), other.weights()))
        True
        """
        parameters = self.network.parameters()
        if not isinstance(arrays, Sequence) or isinstance(arrays, str):
            raise TypeError(f"arrays must be a sequence of arrays, got {type(arrays).__name__}")
        if len(arrays) != len(parameters):
            raise ValueError(f"expected {len(parameters)} arrays, got {len(arrays)}")
        values = [np.asarray(array) for array in arrays]
        for parameter, value in zip(parameters, values, strict=True):
            if value.dtype.kind not in "iuf":
                raise TypeError(f"{parameter.name} must be real numbers, got dtype {value.dtype}")
            if value.shape != parameter.value.shape:
                raise ValueError(
                    f"{parameter.name} has shape {parameter.value.shape}, got {value.shape}"
                )
        for parameter, value in zip(parameters, values, strict=True):
            parameter.value[...] = value

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the architecture and weights to the file ``path``, in NumPy's ``.npz`` format (no
        pickles); the name is used as given (``np.savez`` would add ``.npz``), so ``load(path)``
        finds it.

        Examples
        --------
        >>> import numpy as np, pathlib, tempfile
        >>> from fastdrop.nn import MLP
        >>> model = MLP([4, 8, 3], dropout=[0.2, 0.5], rng=0)
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.npz"
        >>> model.save(path)
        >>> again = MLP.load(path)
        >>> all(np.array_equal(a, b) for a, b in zip(model.weights(), again.weights()))
        True
        """
        arrays: dict[str, Any] = {f"param{i}": v for i, v in enumerate(self.weights())}
        if self.input_shift is not None and self.input_scale is not None:
            arrays.update(input_shift=self.input_shift, input_scale=self.input_scale)
        with open(path, "wb") as file:
            np.savez(
                file,
                sizes=np.array(self.sizes, np.int64),
                dropout=np.array(self.rates, np.float64),
                activation=np.array(self.activation),
                mode=np.array(self.mode),
                standardize=np.array(self.standardize),
                mc_key=np.array(self.mc_key, np.uint64),
                **arrays,
            )

    @classmethod
    def load(cls, path: str | os.PathLike[str], rng: RNGLike = None) -> MLP:
        """A model from a file written by :meth:`save`.

        Parameters
        ----------
        path : str or os.PathLike
            The file.
        rng : None, int, numpy.random.Generator, fastdrop.Philox or fastdrop.Draw, optional
            Where the model's future dropout and batch order come from, as for :class:`MLP`.
            The Monte-Carlo key (:attr:`mc_key`) is the saved one, so :meth:`predict_proba` gives
            what it gave before saving.

        Returns
        -------
        MLP
            The saved architecture, weights and standardization, in training mode.

        Examples
        --------
        >>> import pathlib, tempfile
        >>> from fastdrop.nn import MLP
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.npz"
        >>> MLP([4, 8, 3], dropout=[0.2, 0.5], rng=0).save(path)
        >>> MLP.load(path, rng=1)
        MLP(
          sizes=[4, 8, 3], dropout=[0.2, 0.5], activation='relu', mode='inverted', ...
          ...
        )
        """
        with np.load(path, allow_pickle=False) as data:
            model = cls(
                [int(n) for n in data["sizes"]],
                dropout=[float(p) for p in data["dropout"]],
                rng=rng,
                activation=str(data["activation"]),  # type: ignore[arg-type]
                mode=str(data["mode"]),  # type: ignore[arg-type]
                dtype=data["param0"].dtype,
                standardize=bool(data["standardize"]),
            )
            model.set_weights([data[f"param{i}"] for i in range(len(model.weights()))])
            if "input_shift" in data:
                model.input_shift, model.input_scale = data["input_shift"], data["input_scale"]
            if "mc_key" in data:  # files of fastdrop 0.1.0 have none: the key of rng stays
                model.mc_key = int(data["mc_key"])
        return model
