#!/usr/bin/env python3
# Run: python3 examples/python/regression_double_sampling.py [--quick] [PLOT.png]
# The notebook regression_double_sampling.ipynb is generated from this file (make_notebooks.py).

# %% [markdown]
# # Least squares on low-precision data, with double sampling
#
# The original ZipML-PYNQ regression workflow (YearPredictionMSD: features scaled to
# [-1, 1] by columns, targets to [0, 1], least squares by SGD) on a regression set that
# ships with scikit-learn and needs no download: the diabetes data (442 patients,
# 10 features).
#
# Rounding each feature to the nearest of a few levels biases the least-squares gradient
# x (x.w - y): with few bits the model converges to the wrong point. Double sampling
# (Zhang et al., ICML 2017) quantizes each sample twice, stochastically and independently,
# and uses one copy in the dot product and the other in the update: the gradient is then
# unbiased. This compares float32 and 8, 4 and 2 bits with nearest rounding against 4 and
# 2 bits with stochastic rounding and double sampling.

# %%
# Settings. `--quick` (or ZIPML_EXAMPLES_QUICK=1) runs fewer epochs so that a test runs this
# in seconds. No argparse: inside Jupyter, sys.argv is the kernel's.
import os
import sys

quick = "--quick" in sys.argv or os.environ.get("ZIPML_EXAMPLES_QUICK") == "1"
plot_path = next((a for a in sys.argv[1:] if a.endswith(".png")), "regression_double_sampling.png")
epochs = 50 if quick else 200

# %%
import matplotlib

if "ipykernel" not in sys.modules:  # a script: no display; Jupyter keeps its inline backend
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split

import zipml

# %% [markdown]
# ## The data
#
# The raw features (age in years, blood pressure, ...; `scaled=False`), as YearPredictionMSD
# comes. The estimator scales them itself: `scale="columns", range="-1..1"` min-max scales
# each column of the training set to [-1, 1] (the scaler is kept and applied to the data it
# predicts on), and `scale_y="0..1"` scales the targets to [0, 1] for training and maps the
# predictions back. A fixed `random_state` keeps the split the same on every run.

# %%
X, y = load_diabetes(return_X_y=True, scaled=False)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
print(f"train {X_train.shape}, test {X_test.shape}, targets {y.min():.0f}..{y.max():.0f}")

# The exact least-squares solution, as a reference for the test R^2 (89 test patients: a few
# hundredths of R^2 either way are noise).
print(f"exact least squares (sklearn LinearRegression): test R^2 {LinearRegression().fit(X_train, y_train).score(X_test, y_test):.4f}")

common = dict(scale="columns", range="-1..1", scale_y="0..1")

# %% [markdown]
# ## Nearest rounding, and double sampling
#
# `fit` packs the samples once, as the original did when it wrote the quantized data set to
# the board's memory, and every epoch reads the same packed samples. With double sampling
# that means the same two quantizations every epoch: each pair is unbiased, but the epochs
# then descend one fixed, non-symmetric system (the sum of Q1(x) Q2(x)^T over the rows),
# which need not converge: at 2 bits it can grow, depending on the seed. `requantize=True`
# packs a fresh pair every epoch (`zipml-train --requantize`), which gives the fresh samples
# the unbiasedness argument needs, at the cost of a re-pack per epoch.
#
# `loss_curve_` is the mean loss of each pass on the samples as the engine read them (the
# scaled targets' units), so noisier quantizations show a higher loss than their model has on
# the exact data; the R^2 columns score the models on the exact features.

# %%
configs = [
    ("float32", dict(precision="float32")),
    ("q8 nearest", dict(precision="q8")),
    ("q4 nearest", dict(precision="q4")),
    ("q2 nearest", dict(precision="q2")),
    ("q4 double sampling", dict(precision="q4", rounding="stochastic", double_sampling=True)),
    ("q2 double sampling", dict(precision="q2", rounding="stochastic", double_sampling=True)),
]
curves, models = {}, {}
for name, params in configs:
    runs = [("", {})] if not params.get("double_sampling") else [(", packed once", {}),
                                                                   (", fresh each epoch", {"requantize": True})]
    for suffix, extra in runs:
        model = zipml.SGDRegressor(epochs=epochs, **common, **params, **extra).fit(X_train, y_train)
        curves[name + suffix], models[name + suffix] = model.loss_curve_, model

print(f"{epochs} epochs, step {model.step_:g}, scaling: {model.scaling_}")
print(f"{'':38}  {'last loss':>10}  {'train R^2':>9}  {'test R^2':>9}")
for name, model in models.items():
    print(f"{name:38}  {curves[name][-1]:10.5f}  {model.score(X_train, y_train):9.4f}  "
          f"{model.score(X_test, y_test):9.4f}")

# %% [markdown]
# ## Loss per epoch
#
# A logarithmic axis, cut a little above the first epochs' losses: a run that grows leaves
# the plot at the top. Stochastic rounding's pass loss includes the rounding noise of the
# samples it is measured on, so its curves lie above nearest rounding's even where its model
# fits the exact data better (the train R^2 above).

# %%
colors = {"float32": "black", "q8": "tab:orange", "q4": "tab:green", "q2": "tab:red"}
fig, ax = plt.subplots(figsize=(6.8, 4.4))
for name, curve in curves.items():
    # one colour per precision; solid: nearest, dash-dot: double sampling, dashed: fresh each epoch
    style = "--" if "fresh" in name else "-." if "double" in name else "-"
    ax.plot(range(1, len(curve) + 1), curve, label=name, color=colors[name.split()[0]], linestyle=style)
ax.set_yscale("log")
low = min(min(c) for c in curves.values())
ax.set_ylim(0.8 * low, 4 * max(c[0] for c in curves.values()))
ax.set_xlabel("epoch")
ax.set_ylabel("training loss (pass mean, scaled targets)")
ax.set_title(f"diabetes, least squares, {len(X_train)} samples")
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize="small")
fig.tight_layout()
fig.savefig(plot_path, dpi=120)
print(f"wrote {plot_path}")
