#!/usr/bin/env python3
# Run: python3 examples/python/vs_sklearn.py [--quick]
# The notebook vs_sklearn.ipynb is generated from this file (make_notebooks.py).

# %% [markdown]
# # zipml next to scikit-learn's SGDClassifier
#
# The same arrays, the same loss (the squared hinge, one-vs-rest over the ten classes),
# the same number of passes, in one process: scikit-learn's `SGDClassifier` against
# `zipml.SGDClassifier` at 4 bits and at float32. Each fit is timed with
# `time.perf_counter` (the median of a few runs); the script prints the test accuracy of
# each and how many times faster zipml's fit is.
#
# scikit-learn's one-vs-rest fit runs the classes one after the other on one thread
# (`n_jobs=None`); zipml trains all ten models in one pass over the data and uses every core
# unless `threads=1`. Both are timed here, so the one-thread ratio compares like with like.

# %%
# Settings. `--quick` (or ZIPML_EXAMPLES_QUICK=1) uses small subsets and one run per fit so
# that a test runs this in seconds. No argparse: inside Jupyter, sys.argv is the kernel's.
import os
import sys

quick = "--quick" in sys.argv or os.environ.get("ZIPML_EXAMPLES_QUICK") == "1"
train_limit, test_limit = (3000, 1000) if quick else (None, None)  # None: all 60,000 / 10,000
repeats = 1 if quick else 3
epochs = 10

# %%
import statistics
import time
from functools import partial

from sklearn.linear_model import SGDClassifier as SklearnSGD

import zipml

X_train, y_train, X_test, y_test = zipml.load_fashion_mnist(
    os.environ.get("ZIPML_FASHION_MNIST_DIR"), train_limit=train_limit, test_limit=test_limit)
print(f"train {X_train.shape}, test {X_test.shape}")


def timed_fit(make, repeats):
    """Fit a fresh estimator `repeats` times; the last one and the median seconds."""
    seconds = []
    for _ in range(repeats):
        est = make()
        t0 = time.perf_counter()
        est.fit(X_train, y_train)
        seconds.append(time.perf_counter() - t0)
    return est, statistics.median(seconds)


# %% [markdown]
# ## The contestants
#
# scikit-learn: `loss="squared_hinge"` and its other defaults (the "optimal" step schedule,
# alpha = 1e-4, shuffling), except `max_iter=10, tol=None`: ten passes, as zipml makes. Its
# own default, up to 1000 passes until the loss stops falling by 1e-3, did not stop early
# on the full set here: all 1000 passes, about 10 minutes (measured 2026-12-07).
#
# zipml: `SGDClassifier`'s defaults (the original ZipML-PYNQ settings: C+ = 1, C- = 1.5,
# step 2^-12, file order) with `epochs=10`; `threads=0` (all cores) and `threads=1`.

# %%
# scikit-learn's fit is single-threaded (one-vs-rest, n_jobs=None); zipml uses all cores
# unless threads=1.
contestants = [("scikit-learn SGDClassifier",
                partial(SklearnSGD, loss="squared_hinge", max_iter=epochs, tol=None, random_state=0))]
for precision in ("q4", "float32"):
    for threads in (0, 1):
        label = f"zipml {precision}, {'all cores' if threads == 0 else '1 thread'}"
        contestants.append((label, partial(zipml.SGDClassifier, precision=precision, epochs=epochs, threads=threads)))

results = {}
for label, make in contestants:
    est, seconds = timed_fit(make, repeats)
    results[label] = (seconds, est.score(X_test, y_test))

# %%
sk_seconds = results["scikit-learn SGDClassifier"][0]
print(f"{epochs} passes, {len(X_train):,} images; fit seconds: median of {repeats}")
print(f"{'':28}  {'fit s':>7}  {'test acc':>8}  {'speed vs sklearn':>16}")
for label, (seconds, accuracy) in results.items():
    print(f"{label:28}  {seconds:7.3f}  {accuracy:8.4f}  {sk_seconds / seconds:15.1f}x")
