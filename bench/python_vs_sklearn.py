#!/usr/bin/env python3
"""zipml.SGDClassifier against scikit-learn's SGDClassifier: fit on the same arrays, same process.

Fashion-MNIST from Debian's package, read once with zipml.load_fashion_mnist (each image scaled
to [0, 1], as zipml-train and the original do); both estimators get those same float32 arrays.
scikit-learn: SGDClassifier(loss="squared_hinge", max_iter=10, tol=None) -- the squared hinge of
zipml's L2-SVM, 10 epochs as zipml's default here, its other defaults. zipml: SGDClassifier with
its defaults (the original's settings; 10 epochs on Fashion-MNIST) per precision, on all cores
and on one (scikit-learn's fit is single-threaded). Only fit() is timed, for both.

Runs alternate (zipml, scikit-learn, zipml, ...) so that a noisy neighbour hurts both; the
figures are medians of --repeat runs. Prints a line per configuration and the ratios
(scikit-learn's median fit time / zipml's).

Usage: PYTHONPATH=build/python python3 bench/python_vs_sklearn.py [--precisions q4,float32]
       [--repeat 3] [--data-dir DIR]
"""
import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from sklearn.linear_model import SGDClassifier  # noqa: E402

import zipml  # noqa: E402


def timed_fit(make, X, y, Xt, yt):
    est = make()
    t0 = time.perf_counter()
    est.fit(X, y)
    seconds = time.perf_counter() - t0
    return seconds, est.score(Xt, yt)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--precisions", default="q4,float32")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    X, y, Xt, yt = zipml.load_fashion_mnist(args.data_dir)
    print(f"Fashion-MNIST: {X.shape[0]} x {X.shape[1]} training, {Xt.shape[0]} test; "
          f"zipml {zipml.__version__}, {os.cpu_count()} CPUs; medians of {args.repeat} fits")
    configs = [(f"zipml {p} threads={t or 'all'}", lambda p=p, t=t: zipml.SGDClassifier(precision=p, threads=t))
               for p in args.precisions.split(",") for t in (0, 1)]
    sk = ("scikit-learn SGDClassifier", lambda: SGDClassifier(loss="squared_hinge", max_iter=10, tol=None, random_state=0))
    times = {name: [] for name, _ in configs + [sk]}
    acc = {}
    for _ in range(args.repeat):
        for name, make in configs + [sk]:
            s, a = timed_fit(make, X, y, Xt, yt)
            times[name].append(s)
            acc[name] = a
    sk_median = statistics.median(times[sk[0]])
    print(f"{'estimator':<32} {'fit s (median)':>14} {'runs':>24} {'test acc':>9} {'sklearn / it':>13}")
    for name, _ in configs + [sk]:
        m = statistics.median(times[name])
        runs = " ".join(f"{t:.3f}" for t in times[name])
        print(f"{name:<32} {m:>14.3f} {runs:>24} {acc[name]:>9.4f} {sk_median / m:>12.1f}x")


if __name__ == "__main__":
    main()
