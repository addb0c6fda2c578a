#!/usr/bin/env python3
# Run: python3 examples/python/fashion_mnist_precisions.py [--quick] [PLOT.png]
# The notebook fashion_mnist_precisions.ipynb is generated from this file (make_notebooks.py).

# %% [markdown]
# # Fashion-MNIST at every precision
#
# The workflow of the original ZipML-PYNQ MNIST notebook, on Fashion-MNIST: a 10-class
# L2-SVM (one-vs-rest, C+ = 1, C- = 1.5, step 2^-12, 10 epochs in file order: the original's
# settings, which are `zipml.SGDClassifier()`'s defaults on 60,000 images) trained on the
# same images at float32 and at 8, 4, 2 and 1 bits per feature. It prints the test accuracy,
# the time of each fit and the megabytes the engine reads per epoch, and plots the training
# loss per epoch of each precision: the precision-convergence trade-off.
#
# At the end, if this zipml was built with Verilator, the same training runs on the
# simulated PYNQ board (the board's driver code over the Verilated RTL engine) and its
# model is compared with the CPU's engine arithmetic.

# %%
# Settings. `--quick` (or ZIPML_EXAMPLES_QUICK=1) trains on small subsets so that a test
# runs this in seconds. No argparse: inside Jupyter, sys.argv is the kernel's.
import os
import sys

quick = "--quick" in sys.argv or os.environ.get("ZIPML_EXAMPLES_QUICK") == "1"
plot_path = next((a for a in sys.argv[1:] if a.endswith(".png")), "fashion_mnist_precisions.png")
train_limit, test_limit = (3000, 1000) if quick else (None, None)  # None: all 60,000 / 10,000
epochs = 3 if quick else 10

# %%
import time

import matplotlib

if "ipykernel" not in sys.modules:  # a script: no display; Jupyter keeps its inline backend
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import zipml

# %% [markdown]
# ## The data
#
# `zipml.load_fashion_mnist()` reads Debian's `dataset-fashion-mnist` package
# (`/usr/share/datasets/fashion-mnist`; `ZIPML_FASHION_MNIST_DIR` or `data_home=` for
# another folder) and scales each image to [0, 1] by its own minimum and maximum, as the
# original notebooks did for MNIST. The arrays are float32 and C-contiguous, which the
# estimators read in place.

# %%
X_train, y_train, X_test, y_test = zipml.load_fashion_mnist(
    os.environ.get("ZIPML_FASHION_MNIST_DIR"), train_limit=train_limit, test_limit=test_limit)
print(f"train {X_train.shape}, test {X_test.shape}, features in [{X_train.min()}, {X_train.max()}]")

# %% [markdown]
# ## One training per precision
#
# `epochs` is given explicitly: the default, `"auto"`, runs 600,000 samples' worth, which is
# the original's 10 epochs on the full set but many more on the quick subset. The step is
# `"auto"`: chosen from the rows' mean squared norm, it is 2^-12 here, the original's.
# `stream_bytes_` is what one epoch streams to the engine (the packed samples): the reason
# for low precision on an FPGA, whose SGD is bound by the memory bandwidth.

# %%
precisions = ["float32", "q8", "q4", "q2", "q1"]
results = {}
print(f"{'precision':>9}  {'test acc':>8}  {'fit s':>6}  {'MB/epoch':>8}  {'last loss':>9}")
for precision in precisions:
    clf = zipml.SGDClassifier(precision=precision, epochs=epochs)
    t0 = time.perf_counter()
    clf.fit(X_train, y_train)
    seconds = time.perf_counter() - t0  # what the caller waits for: scaling check, packing, epochs
    accuracy = clf.score(X_test, y_test)
    results[precision] = clf
    print(f"{precision:>9}  {accuracy:8.4f}  {seconds:6.3f}  {clf.stream_bytes_ / 1e6:8.1f}  "
          f"{clf.loss_curve_[-1]:9.5f}")
print(f"step {clf.step_:g} (2^{np.log2(clf.step_):.0f}), {clf.n_iter_} epochs, order: {clf.order_}")

# %% [markdown]
# ## The precision-convergence plot
#
# The training loss of each epoch (the mean L2-SVM loss over the pass, summed over the ten
# one-vs-rest models), one line per precision. Fewer bits stream fewer bytes per epoch; on
# the full set q8 and q4 follow float32's curve, q2 and q1 end higher, and the test accuracy
# drops only at 1 bit.

# %%
fig, ax = plt.subplots(figsize=(6.4, 4.2))
for precision, clf in results.items():
    ax.plot(range(1, len(clf.loss_curve_) + 1), clf.loss_curve_, marker="o", markersize=3,
            label=f"{precision} ({clf.stream_bytes_ / 1e6:.1f} MB/epoch)")
ax.set_xlabel("epoch")
ax.set_ylabel("training loss (pass mean)")
ax.set_title(f"Fashion-MNIST, 10-class L2-SVM, {len(X_train):,} images")
ax.grid(True, alpha=0.3)
ax.legend()
fig.tight_layout()
fig.savefig(plot_path, dpi=120)
print(f"wrote {plot_path}")

# %% [markdown]
# ## The simulated PYNQ board
#
# `backend="pynq", board="sim"` runs the driver code of the board (AXI DMA, GPIO, buffers)
# against models of its registers and the Verilated RTL engine, cycle by cycle: slow, so
# a small subset. The engine computes in fixed point (Q9.23 model words); the CPU's
# `arithmetic="engine"` is the same arithmetic, so the two models are bit-identical. All 10
# classes train in one pass per epoch: the simulated engine has 10 lanes. On a real board,
# `board="hw"` with a bitstream (see docs/BOARD.md) runs the same code, in as many passes as
# its engine needs (one at float32 and 8 bits, two at 4 bits, five at 2 and 1 bits).

# %%
if "verilator" in zipml._core.backends:
    n_board = 300 if quick else 2000
    board_epochs = 1 if quick else 2
    board_precisions = ["q4"] if quick else precisions
    Xb, yb = X_train[:n_board], y_train[:n_board]
    for precision in board_precisions:
        params = dict(precision=precision, epochs=board_epochs)
        t0 = time.perf_counter()
        board = zipml.SGDClassifier(backend="pynq", board="sim", **params).fit(Xb, yb)
        board_seconds = time.perf_counter() - t0
        cpu = zipml.SGDClassifier(arithmetic="engine", **params).fit(Xb, yb)
        same = np.array_equal(board.coef_, cpu.coef_) and np.array_equal(board.intercept_, cpu.intercept_)
        print(f"board sim {precision:>7}: {n_board} images, {board_epochs} epoch(s), {board_seconds:.2f} s; "
              f"test acc {board.score(X_test, y_test):.4f} (CPU engine arithmetic "
              f"{cpu.score(X_test, y_test):.4f}); coef_ bit-identical: {same}")
else:
    print("this zipml was built without Verilator: no simulated board")
