"""zipml: linear models trained by SGD on full- or low-precision (8, 4, 2, 1-bit) data.

On the CPU, on a Verilator simulation of zipml's RTL SGD engine, or on that engine in the FPGA
of a PYNQ board; a new implementation of ZipML-PYNQ (FCCM 2017, ICML 2017).

>>> import zipml
>>> X_train, y_train, X_test, y_test = zipml.load_fashion_mnist()
>>> clf = zipml.SGDClassifier(precision="q4").fit(X_train, y_train)
>>> clf.score(X_test, y_test)

The estimators are scikit-learn's kind (Pipeline, GridSearchCV, pickle); docs/PYTHON.md has
the rest.
"""

from . import _core
from ._core import ZipmlError
from ._data import PackedStream, load_fashion_mnist, load_idx, load_libsvm, load_stream, pack
from ._estimators import SGDClassifier, SGDRegressor


def load_model(path):
    """A model saved by ``zipml-train --save`` or an estimator's ``save``, as an estimator."""
    import numpy as np

    trained = _core.load_model(str(path))
    if trained.is_classification:
        est = SGDClassifier(loss=trained.model, precision=trained.precision,
                            rounding="nearest" if trained.rounding == "none" else trained.rounding,
                            arithmetic=trained.arithmetic)
        est.classes_ = np.asarray(trained.classes, dtype=np.float32)
        est._cpp_labels = est.classes_.copy()
    else:
        est = SGDRegressor(precision=trained.precision,
                           rounding="nearest" if trained.rounding == "none" else trained.rounding,
                           arithmetic=trained.arithmetic)
    est.n_features_in_ = trained.weights.shape[1] - 1
    est._partial_calls = 0
    est._record(trained, 0)
    return est


__version__ = "0.1.0"
__all__ = ["SGDClassifier", "SGDRegressor", "ZipmlError", "PackedStream", "load_fashion_mnist", "load_idx",
           "load_libsvm", "load_stream", "load_model", "pack", "__version__"]
