#!/usr/bin/env bash
# The README's Python install, as a newcomer runs it: a fresh venv (with the system's packages,
# where Debian's numpy, scikit-learn and meson-python are), `pip install --no-build-isolation`
# of a clean copy of the source tree, then import and fit from another directory. The RTL
# engines are left out of this build (-Drtl=disabled) to keep the test short; the python
# suite's other tests cover them in the build tree.
#   test_pip_install.sh PYTHON SOURCE_DIR
set -euo pipefail
python=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# a clean copy: the files git tracks or would track (the work tree's), no build directories
mkdir "$work/src-copy"
(cd "$src" && git ls-files -co --exclude-standard -z |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  xargs -0 cp --parents -t "$work/src-copy")
"$python" -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install --no-build-isolation --no-index --no-deps -q \
  --config-settings=setup-args=-Drtl=disabled "$work/src-copy"
cd "$work"
"$work/venv/bin/python" - <<'PY'
import numpy as np
import zipml
assert "/venv/" in zipml.__file__, zipml.__file__
X = np.random.default_rng(7).normal(size=(300, 6)).astype(np.float32)
y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
clf = zipml.SGDClassifier(precision="q4").fit(X, y)
acc = clf.score(X, y)
print(f"pip-installed zipml {zipml.__version__} from {zipml.__file__}: backends {zipml._core.backends}, "
      f"q4 training accuracy {acc:.3f}")
assert acc > 0.9, acc
PY
