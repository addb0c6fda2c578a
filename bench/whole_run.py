#!/usr/bin/env python3
"""Time to a trained model: zipml-train's whole process against scikit-learn's fit, same run.

The main job (10-class L2-SVM on Fashion-MNIST from the Debian package's gzip files, 10 epochs,
one thread) as a user waits for it: `zipml-train --precision P --threads 1 -q --profile`,
timed from outside as a whole process (start-up, reading and inflating the files, scaling,
packing, the epochs, the evaluation). scikit-learn's SGDClassifier(loss="squared_hinge",
max_iter=10, tol=None) gets the same rows scaled the same way (each row min-max to [0, 1]) and
is timed for fit() alone: its reading and scaling are not counted, which favours it.

With --from-stream, each precision's packed stream file is written first (untimed:
`zipml-train --precision P --save-stream P.zps`), and the timed runs train from it
(`zipml-train --train P.zps --test ... --test-labels ...`): no inflate, parse, scale or pack
of the training set; the test set is still read from its gzip files, and counted.

Runs alternate (zipml, scikit-learn, zipml, ...) so that a noisy neighbour hurts both; the
figures are medians. Prints one line per configuration, the ratios, and the phases of zipml's
median run (its --profile lines).

Usage: whole_run.py ZIPML_TRAIN [--precisions q4,float32] [--repeat 3] [--data-dir DIR]
                    [--extra "zipml-train options"] [--label NAME] [--from-stream]
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.linear_model import SGDClassifier  # noqa: E402


def read_idx(path, images):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if images:
        n, rows, cols = (int.from_bytes(raw[4 + 4 * k:8 + 4 * k], "big") for k in range(3))
        return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows * cols).astype(np.float32)
    return np.frombuffer(raw, dtype=np.uint8, offset=8).astype(np.int64)


def rows_to_unit(x):
    lo = x.min(axis=1, keepdims=True)
    span = x.max(axis=1, keepdims=True) - lo
    span[span == 0] = 1
    return (x - lo) / span


def sklearn_fit(xtr, ytr, xte, yte):
    clf = SGDClassifier(loss="squared_hinge", max_iter=10, tol=None, random_state=0)
    t0 = time.perf_counter()
    clf.fit(xtr, ytr)
    seconds = time.perf_counter() - t0
    return seconds, float(clf.score(xte, yte))


def zipml_run(train, precision, extra, summary, stream=None, data_dir=None):
    if stream is None:
        source = ["--precision", precision]
    else:  # the precision (and everything else that made the words) is in the file's header
        source = ["--train", stream, "--test", f"{data_dir}/t10k-images-idx3-ubyte.gz",
                  "--test-labels", f"{data_dir}/t10k-labels-idx1-ubyte.gz"]
    cmd = [train] + source + ["--threads", "1", "-q", "--profile", "--summary", summary] + extra
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    seconds = time.perf_counter() - t0
    with open(summary) as f:
        run = json.load(f)["runs"][0]
    profile = out[out.index("profile"):].rstrip() if "profile" in out else ""
    return seconds, run.get("test_accuracy"), profile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("zipml_train")
    ap.add_argument("--precisions", default="q4,float32")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--extra", default="", help="more zipml-train options, space-separated")
    ap.add_argument("--label", default=None, help="what the zipml runs read (for the table)")
    ap.add_argument("--from-stream", action="store_true",
                    help="train from packed stream files written (untimed) before the runs")
    args = ap.parse_args()
    if args.label is None:
        args.label = "packed stream file" if args.from_stream else "gzip IDX files"
    d = args.data_dir
    xtr = rows_to_unit(read_idx(f"{d}/train-images-idx3-ubyte.gz", True))
    ytr = read_idx(f"{d}/train-labels-idx1-ubyte.gz", False)
    xte = rows_to_unit(read_idx(f"{d}/t10k-images-idx3-ubyte.gz", True))
    yte = read_idx(f"{d}/t10k-labels-idx1-ubyte.gz", False)
    precisions = args.precisions.split(",")
    extra = args.extra.split()
    zipml = {p: [] for p in precisions}
    sk = []
    with tempfile.TemporaryDirectory() as tmp:
        summary = os.path.join(tmp, "s.json")
        streams = {p: None for p in precisions}
        if args.from_stream:
            for p in precisions:
                streams[p] = os.path.join(tmp, f"{p}.zps")
                subprocess.run([args.zipml_train, "--precision", p, "--epochs", "1", "-q", "--save-stream", streams[p]],
                               check=True, capture_output=True)
        for _ in range(args.repeat):
            for p in precisions:
                zipml[p].append(zipml_run(args.zipml_train, p, extra, summary, streams[p], d))
            sk.append(sklearn_fit(xtr, ytr, xte, yte))
    sk_median = statistics.median(s for s, _ in sk)
    print(f"scikit-learn SGDClassifier fit: median {sk_median:.2f} s of {args.repeat}, "
          f"test accuracy {sk[0][1]:.4f}")
    for p in precisions:
        runs = sorted(zipml[p], key=lambda r: r[0])
        med = runs[len(runs) // 2]
        print(f"zipml-train {p:>7} ({args.label}), whole process: median {med[0]:.3f} s of {args.repeat}, "
              f"test accuracy {med[1]:.4f}, {sk_median / med[0]:.1f}x scikit-learn's fit")
        for line in med[2].splitlines():
            print("    " + line)


if __name__ == "__main__":
    sys.exit(main())
