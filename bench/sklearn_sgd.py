#!/usr/bin/env python3
"""scikit-learn's SGDClassifier on the data bench_epoch trains on, for the side-by-side table.

bench_epoch writes the scaled features (float32, row-major, no bias column) and the labels
(float32) to raw files and runs this script, which prints one JSON line per configuration:
{"config", "seconds", "train_accuracy", "test_accuracy"}. Single thread (one-vs-rest runs the
classes one after the other with n_jobs=None); `seconds` is fit() only.

Usage: sklearn_sgd.py TRAIN_X TRAIN_Y TEST_X TEST_Y DIM EPOCHS
"""
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # BLAS in predict/score: one thread as well
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.linear_model import SGDClassifier  # noqa: E402


def load(path_x, path_y, dim):
    x = np.fromfile(path_x, dtype=np.float32).reshape(-1, dim)
    y = np.fromfile(path_y, dtype=np.float32).astype(np.int64)
    return x, y


def main():
    train_x, train_y, test_x, test_y, dim, epochs = sys.argv[1:7]
    dim, epochs = int(dim), int(epochs)
    xtr, ytr = load(train_x, train_y, dim)
    xte, yte = load(test_x, test_y, dim)
    configs = {
        # The reference: the defaults (optimal step schedule, alpha 1e-4, shuffling).
        "defaults": dict(loss="squared_hinge", max_iter=epochs, tol=None, random_state=0),
        # zipml's settings where SGDClassifier has them: constant step 2^-12, no penalty, file order.
        "zipml-like": dict(loss="squared_hinge", max_iter=epochs, tol=None, random_state=0, penalty=None,
                           learning_rate="constant", eta0=2.0**-12, shuffle=False),
    }
    for name, kw in configs.items():
        clf = SGDClassifier(**kw)
        t0 = time.perf_counter()
        clf.fit(xtr, ytr)
        seconds = time.perf_counter() - t0
        print(json.dumps({"config": name, "seconds": seconds, "train_accuracy": float(clf.score(xtr, ytr)),
                          "test_accuracy": float(clf.score(xte, yte))}), flush=True)


if __name__ == "__main__":
    main()
