"""scikit-learn estimators over zipml's C++ trainer: SGDClassifier and SGDRegressor."""

import numbers
import sys

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from . import _core
from ._data import PackedStream

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # Debian 12's 1.2
    def _validate_data(est, X="no_validation", y="no_validation", reset=True, **kw):
        return est._validate_data(X, y, reset=reset, **kw)

__all__ = ["SGDClassifier", "SGDRegressor"]

_PRECISIONS = ("float32", "q8", "q4", "q2", "q1")
_BACKENDS = ("cpu", "verilator", "pynq")


def _check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name}={value!r}: use one of {', '.join(repr(a) for a in allowed)}")
    return value


def _as_seed(random_state):
    """zipml is deterministic: None is seed 1 (as zipml-train's --seed), an int is itself, a
    RandomState gives one draw."""
    if random_state is None:
        return 1
    if isinstance(random_state, numbers.Integral):
        if random_state < 0:
            raise ValueError(f"random_state={random_state}: a seed must be >= 0")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    raise ValueError(f"random_state={random_state!r}: use None, an int or a numpy RandomState")


class _ZipmlSGD(BaseEstimator):
    """What both estimators share: the parameters' checks, fit and partial_fit."""

    _regression = False

    # -- the C++ side's parameters --------------------------------------------------------
    def _spec(self, n_samples):
        s = _core.Spec()
        s.model = self._model_name()
        s.precision = _check_choice("precision", self.precision, _PRECISIONS)
        s.rounding = _check_choice("rounding", self.rounding, ("nearest", "stochastic"))
        if self.double_sampling and (self.rounding != "stochastic" or self.precision == "float32"):
            raise ValueError("double_sampling=True needs a quantized precision with rounding='stochastic' "
                             "(two independent stochastic quantizations of each sample)")
        s.double_sampling = bool(self.double_sampling)
        if self.requantize and (self.rounding != "stochastic" or self.precision == "float32"):
            raise ValueError("requantize=True needs a quantized precision with rounding='stochastic' "
                             "(a fresh stochastic quantization every epoch)")
        s.requantize = bool(self.requantize)
        s.backend = _check_choice("backend", self.backend, _BACKENDS)
        if s.backend not in _core.backends:
            raise ValueError(f"backend={self.backend!r}: this zipml was built without it "
                             f"(it has {', '.join(_core.backends)})")
        s.board = _check_choice("board", self.board, ("sim", "hw"))
        s.bitstream = self.bitstream or ""
        s.arithmetic = _check_choice("arithmetic", self.arithmetic, ("auto", "float", "engine"))
        s.scale = _check_choice("scale", self.scale, ("auto", "rows", "columns", "none"))
        s.range = _check_choice("range", self.range, ("auto", "0..1", "-1..1"))
        s.order = _check_choice("order", self.order, ("auto", "file", "shuffle", "shuffle-each-epoch"))
        if self.step != "auto":
            if not isinstance(self.step, numbers.Real) or not np.isfinite(self.step) or self.step <= 0:
                raise ValueError(f"step={self.step!r}: use 'auto' or a positive number")
            s.step = float(self.step)
        if self.epochs != "auto":
            if not isinstance(self.epochs, numbers.Integral) or self.epochs < 1:
                raise ValueError(f"epochs={self.epochs!r}: use 'auto' or a positive int")
            s.epochs = int(self.epochs)
        if self.tol is not None:
            if not isinstance(self.tol, numbers.Real) or not 0 <= self.tol < 1:
                raise ValueError(f"tol={self.tol!r}: use None (auto) or a fraction in [0, 1)")
            s.tol = float(self.tol)
        if not isinstance(self.l2, numbers.Real) or not self.l2 >= 0:
            raise ValueError(f"l2={self.l2!r}: use a number >= 0")
        s.l2 = float(self.l2)
        mb = self.minibatch
        if not isinstance(mb, numbers.Integral) or mb < 1 or mb > 65536 or mb & (mb - 1):
            raise ValueError(f"minibatch={mb!r}: use a power of two from 1 to 65536")
        s.minibatch = int(mb)
        if not isinstance(self.threads, numbers.Integral) or self.threads < 0:
            raise ValueError(f"threads={self.threads!r}: use 0 (all cores) or a count")
        s.threads = int(self.threads)
        s.seed = _as_seed(self.random_state)
        self._fill_spec(s)
        return s

    def _on_epoch(self):
        if not self.verbose:
            return None
        name = type(self).__name__

        def report(e):
            print(f"{name}: epoch {e['epoch']}: pass loss {e['train_loss']:.6f}, {e['seconds']:.3f} s",
                  file=sys.stdout, flush=True)
        return report

    def _record(self, trained, n_samples):
        self._trained = trained
        w = trained.weights
        self.coef_ = np.ascontiguousarray(w[:, 1:])
        self.intercept_ = np.ascontiguousarray(w[:, 0])
        if self._regression:
            self.coef_ = self.coef_[0]
        self.n_iter_ = trained.epochs_run
        self.t_ = self.n_iter_ * n_samples
        self.loss_curve_ = [e["train_loss"] for e in trained.history]
        self.step_ = trained.step
        self.precision_ = trained.precision  # (a packed stream's own, when fit from one)
        self.scaling_ = trained.scaling
        self.order_ = trained.ordering
        self.stream_bytes_ = trained.stream_bytes
        self.fit_seconds_ = trained.fit_seconds

    # -- fit --------------------------------------------------------------------------------
    def fit(self, X, y=None):
        """Train from the zero model. ``X``: an array (n_samples, n_features) -- a float32
        C-contiguous one is read in place -- with ``y``; or a :class:`zipml.PackedStream` (its
        labels are its own: leave ``y`` out)."""
        if isinstance(X, PackedStream):
            if y is not None:
                raise ValueError("fit(stream): a packed stream carries its labels: leave y out")
            return self._fit_stream(X)
        X, y = _validate_data(self, X, y, dtype=np.float32, order="C", y_numeric=self._regression)
        y_cpp = self._labels_for_fit(y)
        spec = self._spec(X.shape[0])
        trained = _core.fit(spec, X, y_cpp, self._regression, None, self._on_epoch())
        self._partial_calls = 0
        self._record(trained, X.shape[0])
        return self

    def _fit_stream(self, stream):
        if not self._regression and len(stream.classes) == 0:
            raise ValueError("fit(stream): the stream was packed for regression (it has no classes)")
        if self._regression and len(stream.classes):
            raise ValueError("fit(stream): the stream was packed for a classifier (its labels are classes)")
        spec = self._spec(stream.n_samples)
        trained = _core.fit_stream(spec, stream._s, None, self._on_epoch())
        self.n_features_in_ = stream.n_features
        if not self._regression:
            self.classes_ = stream.classes.copy()
            self._cpp_labels = stream.classes.copy()
        self._partial_calls = 0
        self._record(trained, stream.n_samples)
        return self

    def _partial(self, X, y, classes=None):
        first = not hasattr(self, "_trained")
        X, y = _validate_data(self, X, y, dtype=np.float32, order="C", y_numeric=self._regression, reset=first)
        if not self._regression:
            if first:
                if classes is None:
                    raise ValueError("classes must be passed on the first call to partial_fit")
                self._set_classes(np.asarray(classes))
            elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(f"classes={classes!r} differs from the classes of the first partial_fit "
                                 f"{self.classes_!r}")
            check_classification_targets(y)
            idx = np.searchsorted(self.classes_, y)
            idx = np.clip(idx, 0, len(self.classes_) - 1)
            if not np.all(self.classes_[idx] == y):
                bad = y[self.classes_[idx] != y][0]
                raise ValueError(f"y has the label {bad!r}, which is not one of classes {self.classes_!r}")
            y_cpp = idx.astype(np.float32)
        else:
            y_cpp = y.astype(np.float32)
        spec = self._spec(X.shape[0])
        spec.epochs = 1
        spec.tol = 0.0
        if not self._regression:
            spec.classes = list(self._cpp_labels)
        calls = 0 if first else self._partial_calls
        spec.seed = spec.seed + calls  # a fresh quantization of each batch
        previous = None if first else self._trained
        trained = _core.fit(spec, X, y_cpp, self._regression, previous, self._on_epoch())
        self._partial_calls = calls + 1
        n_before = 0 if first else self.t_
        self._record(trained, X.shape[0])
        self.n_iter_ = self._partial_calls
        self.t_ = n_before + X.shape[0]
        return self

    # -- predict ----------------------------------------------------------------------------
    def _input(self, X):
        check_is_fitted(self, "_trained")
        return _validate_data(self, X, dtype=np.float32, order="C", reset=False)

    def _decision(self, X):
        X = self._input(X)
        return self._trained.decision(X, self.threads)

    def save(self, path):
        """Write the model in zipml's saved-model format: ``zipml-predict --model`` reads it."""
        check_is_fitted(self, "_trained")
        self._trained.save(str(path))

    def _more_tags(self):
        return {"requires_y": True, "X_types": ["2darray"]}


class SGDClassifier(ClassifierMixin, _ZipmlSGD):
    """Linear classifiers trained by SGD on full- or low-precision samples (zipml).

    One-vs-rest: with K > 2 classes one model lane per class, all trained in one pass over the
    packed samples; with two classes one lane (``classes_[1]`` is the positive class).

    Parameters
    ----------
    loss : {'l2svm', 'squared_hinge', 'log_loss', 'logistic'}
        L2-SVM (squared hinge with per-class costs ``C_pos``/``C_neg``) or logistic regression.
    precision : {'float32', 'q8', 'q4', 'q2', 'q1'}
        The samples' precision: float32 or Q-bit quantized features.
    rounding : {'nearest', 'stochastic'}
        How features are quantized (stochastic rounding is unbiased).
    double_sampling : bool
        Two independent stochastic quantizations per sample (unbiased gradients; needs
        ``rounding='stochastic'``).
    requantize : bool
        A fresh stochastic quantization of the samples every epoch (else one, at packing). With
        double sampling at 2 bits, training on one fixed pair of quantizations can diverge
        (measured on the diabetes data: examples/python/regression_double_sampling.py); fresh
        ones give the unbiased gradients the method promises. Costs a re-pack per epoch.
    step : 'auto' or float
        Step size; ``'auto'`` picks one per precision from the rows' mean squared norm (as
        ``zipml-train --step auto``).
    epochs : 'auto' or int
        Passes over the data; ``'auto'`` runs 600,000 samples' worth (10 to 1000 passes) and
        stops at a plateau of the training loss.
    tol : None or float
        Stop when 5 epochs in a row lower the best training loss by less than this fraction
        (None: 1e-3 with ``epochs='auto'``, else off).
    C_pos, C_neg : float
        The costs of samples of the positive class and of the rest (the original ZipML MNIST
        settings, zipml-train's defaults: 1 and 1.5).
    l2 : float
        L2 regularization strength (applied per sample as a power-of-two shrink, as the engine does).
    minibatch : int
        A power of two: gradients of a mini-batch are summed before the update.
    scale : {'auto', 'rows', 'columns', 'none'}
        Min-max scaling of the features into ``range`` (fitted on the training data and applied
        to the data predicted on): ``'auto'`` leaves features already in [0, 1] or [-1, 1] as
        they are and scales others by columns.
    range : {'auto', '0..1', '-1..1'}
        The range the quantizer maps.
    order : {'auto', 'file', 'shuffle', 'shuffle-each-epoch'}
        Sample order; ``'auto'`` keeps the data's order unless its rows come grouped by label.
    backend : {'cpu', 'verilator', 'pynq'}
        Where the SGD runs: the CPU, a Verilator simulation of zipml's RTL engine, or the engine
        on a PYNQ board (``board='hw'``, the board this runs on) or the simulated board
        (``board='sim'``).
    board, bitstream : str
        For ``backend='pynq'``: ``'sim'`` or ``'hw'``, and a bitstream file or folder.
    arithmetic : {'auto', 'float', 'engine'}
        Float32 arithmetic, or the engine's fixed-point arithmetic (bit-exact with the RTL);
        ``'auto'``: float on the CPU, engine on the RTL backends.
    threads : int
        CPU threads (0: all cores).
    random_state : None, int or RandomState
        Seed of stochastic rounding and shuffling (None: seed 1; zipml is deterministic).
    verbose : int
        Print one line per epoch.
    """

    def __init__(self, loss="l2svm", precision="float32", rounding="nearest", double_sampling=False,
                 requantize=False, step="auto", epochs="auto", tol=None, C_pos=1.0, C_neg=1.5, l2=0.0, minibatch=1,
                 scale="auto", range="auto", order="auto", backend="cpu", board="sim", bitstream=None,
                 arithmetic="auto", threads=0, random_state=None, verbose=0):
        self.loss = loss
        self.precision = precision
        self.rounding = rounding
        self.double_sampling = double_sampling
        self.requantize = requantize
        self.step = step
        self.epochs = epochs
        self.tol = tol
        self.C_pos = C_pos
        self.C_neg = C_neg
        self.l2 = l2
        self.minibatch = minibatch
        self.scale = scale
        self.range = range
        self.order = order
        self.backend = backend
        self.board = board
        self.bitstream = bitstream
        self.arithmetic = arithmetic
        self.threads = threads
        self.random_state = random_state
        self.verbose = verbose

    def _model_name(self):
        loss = _check_choice("loss", self.loss, ("l2svm", "squared_hinge", "logistic", "log_loss"))
        return "l2svm" if loss in ("l2svm", "squared_hinge") else "logistic"

    def _fill_spec(self, s):
        for name in ("C_pos", "C_neg"):
            v = getattr(self, name)
            if not isinstance(v, numbers.Real) or not np.isfinite(v) or v <= 0:
                raise ValueError(f"{name}={v!r}: a cost must be a positive number")
        s.cost_pos = float(self.C_pos)
        s.cost_neg = float(self.C_neg)

    def _set_classes(self, classes):
        self.classes_ = np.unique(classes)
        if len(self.classes_) < 2:
            raise ValueError("This solver needs samples of at least 2 classes in the data, but the data contains "
                             f"only one class: {self.classes_[0]!r}")
        self._cpp_labels = np.arange(len(self.classes_), dtype=np.float32)

    def _labels_for_fit(self, y):
        check_classification_targets(y)
        self._set_classes(y)
        return np.searchsorted(self.classes_, y).astype(np.float32)

    def partial_fit(self, X, y, classes=None):
        """One epoch over the batch (X, y), from the current model (the CPU backend's engine
        and float arithmetics; the RTL engines cannot load a model). ``classes``: all the
        classes, on the first call. The first batch fixes the scaling and the step."""
        return self._partial(X, y, classes)

    def decision_function(self, X):
        """Decision values: (n_samples,) with two classes (> 0: ``classes_[1]``), else
        (n_samples, n_classes)."""
        d = self._decision(X)
        return d[:, 0].copy() if d.shape[1] == 1 else d

    def predict(self, X):
        X = self._input(X)
        labels = self._trained.predict(X, self.threads)
        idx = np.searchsorted(self._cpp_labels, labels)
        return self.classes_[np.clip(idx, 0, len(self.classes_) - 1)]

    def _has_proba(self):
        return self.loss in ("logistic", "log_loss")

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Class probabilities of the logistic model: binary sigmoid, or one-vs-rest sigmoids
        normalized to sum 1 (as scikit-learn's SGDClassifier)."""
        d = self._decision(X).astype(np.float64)
        p = 1.0 / (1.0 + np.exp(-d))
        if p.shape[1] == 1:
            return np.hstack([1.0 - p, p])
        s = p.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(s > 0, p / s, 1.0 / p.shape[1])
        return out

    @available_if(_has_proba)
    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))


class SGDRegressor(RegressorMixin, _ZipmlSGD):
    """Least-squares linear regression trained by SGD on full- or low-precision samples (zipml).

    The parameters are SGDClassifier's, without the costs, and with ``scale_y``: min-max
    scaling of the targets into '0..1' or '-1..1' before training (predictions are mapped back),
    as the original scales YearPredictionMSD's; ``'none'`` (the default) trains on y as it is.
    """

    _regression = True

    def __init__(self, loss="squared_error", precision="float32", rounding="nearest", double_sampling=False,
                 requantize=False, step="auto", epochs="auto", tol=None, l2=0.0, minibatch=1, scale="auto", range="auto",
                 scale_y="none", order="auto", backend="cpu", board="sim", bitstream=None, arithmetic="auto",
                 threads=0, random_state=None, verbose=0):
        self.loss = loss
        self.precision = precision
        self.rounding = rounding
        self.double_sampling = double_sampling
        self.requantize = requantize
        self.step = step
        self.epochs = epochs
        self.tol = tol
        self.l2 = l2
        self.minibatch = minibatch
        self.scale = scale
        self.range = range
        self.scale_y = scale_y
        self.order = order
        self.backend = backend
        self.board = board
        self.bitstream = bitstream
        self.arithmetic = arithmetic
        self.threads = threads
        self.random_state = random_state
        self.verbose = verbose

    def _model_name(self):
        _check_choice("loss", self.loss, ("squared_error", "least_squares"))
        return "least-squares"

    def _fill_spec(self, s):
        s.scale_y = _check_choice("scale_y", self.scale_y, ("none", "0..1", "-1..1"))

    def _labels_for_fit(self, y):
        return np.ascontiguousarray(y, dtype=np.float32)

    def partial_fit(self, X, y):
        """One epoch over the batch (X, y), from the current model (CPU backend). The first
        batch fixes the scaling (of X and, with scale_y, of y) and the step."""
        return self._partial(X, y)

    def predict(self, X):
        X = self._input(X)
        return self._trained.predict(X, self.threads)
