"""Data helpers: LIBSVM and IDX files, Fashion-MNIST, and packed stream files (.zps)."""

import os

import numpy as np

from . import _core

__all__ = ["load_libsvm", "load_idx", "load_fashion_mnist", "PackedStream", "pack", "load_stream"]


def load_libsvm(path, n_features=None, limit=None, zero_based="auto"):
    """Read a LIBSVM / svmlight file (plain or gzip) into dense arrays.

    Returns ``(X, y)``: ``X`` float32 of shape (n_samples, n_features), C-contiguous (what the
    estimators read in place), ``y`` float32. ``n_features``: the width (default: the largest
    index in the file); ``limit``: read only the first rows; ``zero_based``: ``"auto"``
    (as LIBSVM's tools and scikit-learn guess it), ``True`` or ``False``.
    A malformed line raises :class:`zipml.ZipmlError` naming the file, line and token.
    """
    base = {"auto": "auto", True: "0", False: "1"}.get(zero_based)
    if base is None:
        raise ValueError(f"zero_based must be 'auto', True or False, got {zero_based!r}")
    return _core.load_libsvm(os.fspath(path), int(n_features or 0), int(limit or 0), base)


def load_idx(images, labels, limit=None, scale="rows"):
    """Read an IDX image file and its label file (plain or gzip), as MNIST comes.

    Returns ``(X, y)``: ``X`` float32 (n_samples, pixels), ``y`` int64. ``scale="rows"`` scales
    each image to [0, 1] by its own minimum and maximum, as zipml-train does for images (and
    the original ZipML notebooks for MNIST); ``None`` keeps the raw 0..255 pixel values.
    """
    if scale not in ("rows", None):
        raise ValueError(f"scale must be 'rows' or None, got {scale!r}")
    X, y = _core.load_idx(os.fspath(images), os.fspath(labels), int(limit or 0), scale == "rows")
    return X, y.astype(np.int64)


def load_fashion_mnist(data_home=None, scale="rows", train_limit=None, test_limit=None):
    """Fashion-MNIST from Debian's ``dataset-fashion-mnist`` package.

    Returns ``(X_train, y_train, X_test, y_test)``: 60,000 and 10,000 images of 784 pixels
    (float32, C-contiguous), labels 0..9 (int64). ``scale`` as in :func:`load_idx`;
    ``data_home``: the folder of the four ``.gz`` files (default
    ``/usr/share/datasets/fashion-mnist``). Missing files raise :class:`zipml.ZipmlError`
    naming them and the package that installs them.
    """
    files = _core.fashion_mnist_files(os.fspath(data_home) if data_home else "")
    X_train, y_train = load_idx(files[0], files[1], train_limit, scale)
    X_test, y_test = load_idx(files[2], files[3], test_limit, scale)
    return X_train, y_train, X_test, y_test


class PackedStream:
    """A packed stream: the samples as the SGD engine reads them, one copy per precision.

    Made by :func:`pack` from arrays or by :func:`load_stream` from a ``.zps`` file (as
    ``zipml-train --save-stream`` writes them). The estimators train on it as it is
    (``fit(stream)``): no scaling or packing happens again, and the model is bit for bit the
    one training from the arrays gives. Attributes describe how it was packed; ``words`` is a
    read-only NumPy view of its 64-bit words (no copy), ``features()`` decodes rows to the
    values the float arithmetic trains on.
    """

    def __init__(self, core_stream):
        if not isinstance(core_stream, _core.Stream):
            raise TypeError("PackedStream wraps a stream from zipml.pack() or zipml.load_stream()")
        self._s = core_stream

    n_samples = property(lambda self: self._s.rows, doc="rows")
    n_features = property(lambda self: self._s.n_features, doc="features per row (no bias)")
    precision = property(lambda self: self._s.precision, doc="'float32', 'q8', 'q4', 'q2' or 'q1'")
    rounding = property(lambda self: self._s.rounding, doc="'nearest', 'stochastic' or 'none'")
    range = property(lambda self: self._s.range, doc="the features' range: '0..1' or '-1..1'")
    double_sampling = property(lambda self: self._s.double_sampling)
    seed = property(lambda self: self._s.seed)
    shuffled = property(lambda self: self._s.shuffled, doc="rows shuffled once (else in the data's order)")
    classes = property(lambda self: np.asarray(self._s.classes, dtype=np.float32),
                       doc="a classifier's sorted labels (empty for regression)")
    scaling = property(lambda self: self._s.scaling, doc="'rows', 'columns' or 'none'")
    source = property(lambda self: self._s.source)
    nbytes = property(lambda self: self._s.nbytes, doc="bytes sent per epoch")
    labels = property(lambda self: self._s.labels, doc="the rows' labels (float32)")
    words = property(lambda self: self._s.words, doc="the 64-bit words, (n_samples, row_words), read-only")

    def features(self, start=0, stop=None):
        """Rows [start, stop) decoded to float32 (n, n_features): quantized values as trained on."""
        return self._s.features(int(start), None if stop is None else int(stop))

    def save(self, path):
        """Write the stream as a packed stream file (atomically); ``zipml-train --train`` reads it."""
        self._s.save(os.fspath(path))

    def __len__(self):
        return self._s.rows

    def __repr__(self):
        return (f"PackedStream({self.n_samples} x {self.n_features}, {self.precision}"
                f"{'' if self.precision == 'float32' else ', ' + self.rounding}, range {self.range}, "
                f"{self.nbytes / 1e6:.1f} MB)")


def load_stream(path, verify=True):
    """Map a packed stream file (``.zps``). ``verify``: check its CRC-32 and rows now (else
    only its sizes). A damaged or foreign file raises :class:`zipml.ZipmlError` saying where."""
    return PackedStream(_core.load_stream(os.fspath(path), bool(verify)))


def pack(X, y, precision="q4", rounding="nearest", double_sampling=False, scale="auto", range="auto",
         order="file", random_state=None, regression=False, arithmetic="float"):
    """Pack arrays into a :class:`PackedStream` as an estimator with these parameters would.

    ``y`` must be numeric (the labels are stored in the stream's label words). ``scale`` and
    ``range`` as for the estimators (the scaler is stored with the stream and applied to the
    data predicted on); ``order``: ``"file"`` or ``"shuffle"`` (once, seeded);
    ``regression``: the labels are targets, not classes.
    """
    from ._estimators import _as_seed, _check_choice

    X = np.ascontiguousarray(X, dtype=np.float32)
    y = np.ascontiguousarray(y, dtype=np.float32)
    spec = _core.Spec()
    spec.precision = _check_choice("precision", precision, ("float32", "q8", "q4", "q2", "q1"))
    spec.rounding = _check_choice("rounding", rounding, ("nearest", "stochastic"))
    spec.double_sampling = bool(double_sampling)
    spec.scale = _check_choice("scale", scale, ("auto", "rows", "columns", "none"))
    spec.range = _check_choice("range", range, ("auto", "0..1", "-1..1"))
    spec.order = _check_choice("order", order, ("file", "shuffle"))
    spec.arithmetic = _check_choice("arithmetic", arithmetic, ("float", "engine"))
    spec.seed = _as_seed(random_state)
    return PackedStream(_core.pack(spec, X, y, bool(regression)))
