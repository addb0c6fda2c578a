"""The Python examples (examples/python/): each script runs in quick mode and prints what it
should; each notebook is what make_notebooks.py makes of its script, and its code cells run in
order (in one namespace, as a Jupyter kernel runs them, without Jupyter)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"

# What each example must print in quick mode (regular expressions, each on some line), and
# whether it reads Fashion-MNIST.
NUMBER = r"-?\d+\.\d+"
EXPECTED = {
    "fashion_mnist_precisions": dict(
        fashion=True, png="fashion_mnist_precisions.png",
        lines=[rf"^\s*{p}\s+0\.\d+\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$" for p in ("float32", "q8", "q4", "q2", "q1")]
        + [r"step 0\.000244141 \(2\^-12\)"]),
    "regression_double_sampling": dict(
        fashion=False, png="regression_double_sampling.png",
        lines=[rf"^{re.escape(name)}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$"
               for name in ("float32", "q8 nearest", "q4 nearest", "q2 nearest", "q4 double sampling, packed once",
                            "q2 double sampling, packed once", "q4 double sampling, fresh each epoch",
                            "q2 double sampling, fresh each epoch")]
        + [r"exact least squares .*test R\^2 0\.\d+"]),
    "vs_sklearn": dict(
        fashion=True, png=None,
        lines=[rf"^{re.escape(name)}\s+{NUMBER}\s+0\.\d+\s+{NUMBER}x$"
               for name in ("scikit-learn SGDClassifier", "zipml q4, all cores", "zipml q4, 1 thread",
                            "zipml float32, all cores", "zipml float32, 1 thread")]),
}


def _check_output(name, out, cwd):
    expected = EXPECTED[name]
    lines = out.splitlines()
    for pattern in expected["lines"]:
        assert any(re.search(pattern, line) for line in lines), f"{name}: no line matches {pattern!r} in:\n{out}"
    if expected["png"]:
        png = cwd / expected["png"]
        assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{name}: no PNG at {png}"
    if name == "fashion_mnist_precisions":
        import zipml
        if "verilator" in zipml._core.backends:
            assert re.search(r"board sim\s+q4: .* bit-identical: True", out), out
        # the quick subset's accuracies: far from the full set's 0.83, but well above chance
        for line in lines:
            m = re.match(r"^\s*(float32|q8|q4|q2|q1)\s+(0\.\d+)", line)
            if m:
                assert float(m.group(2)) > 0.6, line


@pytest.fixture(params=sorted(EXPECTED))
def example(request):
    if EXPECTED[request.param]["fashion"]:
        return request.param, request.getfixturevalue("fashion_mnist_dir")
    return request.param, None


def test_script_quick(example, tmp_path):
    name, data_dir = example
    env = dict(os.environ)  # PYTHONPATH (the staged package) kept
    env.pop("ZIPML_EXAMPLES_QUICK", None)  # --quick alone must do it
    if data_dir:
        env["ZIPML_FASHION_MNIST_DIR"] = data_dir
    r = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), "--quick"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"{name} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    _check_output(name, r.stdout, tmp_path)


def _make_notebooks(out_dir, *scripts):
    r = subprocess.run([sys.executable, str(EXAMPLES / "make_notebooks.py"), "--out-dir", str(out_dir),
                        *map(str, scripts)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_notebook_is_its_script_and_runs(example, tmp_path, monkeypatch, capsys):
    name, data_dir = example
    committed = EXAMPLES / f"{name}.ipynb"
    assert committed.exists(), f"{committed} is missing: run examples/python/make_notebooks.py"
    _make_notebooks(tmp_path / "gen", EXAMPLES / f"{name}.py")
    generated = (tmp_path / "gen" / f"{name}.ipynb").read_text(encoding="utf-8")
    nb = json.loads(committed.read_text(encoding="utf-8"))
    assert nb == json.loads(generated), f"{committed} is stale: run examples/python/make_notebooks.py"
    assert nb["nbformat"] == 4 and nb["metadata"]["kernelspec"]["name"] == "python3"
    assert all(c.get("outputs", []) == [] for c in nb["cells"])

    # Run the code cells in order in one namespace, as a kernel would, in quick mode.
    monkeypatch.setenv("ZIPML_EXAMPLES_QUICK", "1")
    if data_dir:
        monkeypatch.setenv("ZIPML_FASHION_MNIST_DIR", data_dir)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["notebook"])
    namespace = {"__name__": "__main__"}
    for i, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        exec(compile("".join(cell["source"]), f"{name}.ipynb[code cell {i}]", "exec"), namespace)
    import matplotlib.pyplot as plt
    plt.close("all")
    _check_output(name, capsys.readouterr().out, tmp_path)


def test_make_notebooks_check_and_markdown(tmp_path):
    script = tmp_path / "tiny.py"
    script.write_text("#!/usr/bin/env python3\n# preamble\n\n# %% [markdown]\n# # Title\n#\n# text\n\n"
                      "# %%\nx = 1\n\n\n# %%\nprint(x)\n", encoding="utf-8")
    _make_notebooks(tmp_path, script)
    nb = json.loads((tmp_path / "tiny.ipynb").read_text(encoding="utf-8"))
    assert [(c["cell_type"], c["source"]) for c in nb["cells"]] == [
        ("markdown", ["# Title\n", "\n", "text"]), ("code", ["x = 1"]), ("code", ["print(x)"])]
    ok = subprocess.run([sys.executable, str(EXAMPLES / "make_notebooks.py"), "--check", str(script)],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    script.write_text(script.read_text(encoding="utf-8") + "x = 2\n", encoding="utf-8")
    stale = subprocess.run([sys.executable, str(EXAMPLES / "make_notebooks.py"), "--check", str(script)],
                           capture_output=True, text=True)
    assert stale.returncode == 1 and "tiny.ipynb" in stale.stderr
    script.write_text("# %% [markdown]\nnot a comment\n", encoding="utf-8")
    bad = subprocess.run([sys.executable, str(EXAMPLES / "make_notebooks.py"), "--out-dir", str(tmp_path),
                          str(script)], capture_output=True, text=True)
    assert bad.returncode != 0 and "tiny.py:2" in bad.stderr
