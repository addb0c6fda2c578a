"""zipml-train on LIBSVM files written by scikit-learn's dump_svmlight_file.

The training file has zero-based indices (scikit-learn's default), the test file one-based:
zipml must read both right. The weights zipml-train exports (--export-npy) must give, in
numpy, the test accuracy zipml-train reports, and zipml's float32 accuracy must be close to
scikit-learn's own logistic regression on the same data.

Usage: sklearn_interop.py ZIPML_TRAIN FOLDER
"""
import json
import subprocess
import sys

import numpy as np
from sklearn.datasets import dump_svmlight_file, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import MinMaxScaler

zipml_train, folder = sys.argv[1], sys.argv[2]
x, y = make_classification(n_samples=1500, n_features=8, n_informative=5, n_redundant=1, n_classes=3,
                           n_clusters_per_class=1, class_sep=1.5, random_state=0)
x_train, x_test, y_train, y_test = x[:1000], x[1000:], y[:1000], y[1000:]
scaler = MinMaxScaler().fit(x_train)  # zipml's quantizer wants [0, 1]: --scale none below
x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
dump_svmlight_file(x_train, y_train, f"{folder}/train.svm", zero_based=True)
dump_svmlight_file(x_test, y_test, f"{folder}/test.svm", zero_based=False)
assert " 0:" in open(f"{folder}/train.svm").read(), "the training file should hold index 0"

precisions = ["float32", "q8", "q4"]
cmd = [zipml_train, "--train", f"{folder}/train.svm", "--test", f"{folder}/test.svm", "--scale", "none",
       "--model", "logistic", "--step", "0.03125", "--epochs", "20", "--order", "shuffle",
       "--precision", ",".join(precisions), "--export-npy", f"{folder}/w.npy",
       "--summary", f"{folder}/summary.json", "--quiet"]
run = subprocess.run(cmd, capture_output=True, text=True)
print(run.stdout, run.stderr, sep="")
assert run.returncode == 0, f"zipml-train failed with exit status {run.returncode}"

summary = {r["precision"]: r for r in json.load(open(f"{folder}/summary.json"))["runs"]}
reference = LogisticRegression(max_iter=2000).fit(x_train, y_train).score(x_test, y_test)
print(f"scikit-learn LogisticRegression: test accuracy {reference:.4f}")
features = np.hstack([np.ones((len(x_test), 1)), x_test]).astype(np.float32)  # bias first
failed = 0
for p in precisions:
    w = np.load(f"{folder}/w.{p}.npy")
    ours = summary[p]["test_accuracy"]
    from_npy = float(np.mean(np.argmax(features @ w.T, axis=1) == y_test))  # lanes: classes 0, 1, 2
    ok = w.shape == (3, 9) and abs(from_npy - ours) <= 2 / len(y_test) and ours >= reference - 0.08
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {p}: zipml {ours:.4f}, numpy on the exported weights {from_npy:.4f}, "
          f"shape {w.shape}")
sys.exit(1 if failed else 0)
