"""The RTL backends from Python: the simulated PYNQ board (the same driver code as the board,
over the Verilated engine) and the Verilator backend give the CPU engine arithmetic's model
bit for bit."""

import numpy as np
import pytest

import zipml
from conftest import blobs, linear_target

pytestmark = pytest.mark.skipif("verilator" not in zipml._core.backends,
                                reason="built without Verilator (the simulated engines need it)")

PRECISIONS = ["float32", "q8", "q4", "q2", "q1"]


def words(est):
    w = est._trained.state_words
    assert w is not None, "the engine arithmetic keeps Q9.23 words"
    return w


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("classes", [2, 3], ids=["binary", "3-class"])
def test_board_and_verilator_match_the_cpu_engine_arithmetic(precision, classes):
    seed = 40 + classes
    X, y = blobs(160, 10, classes, seed)
    params = dict(precision=precision, epochs=2, step=1 / 32, order="shuffle", random_state=seed)
    cpu = zipml.SGDClassifier(arithmetic="engine", **params).fit(X, y)
    board = zipml.SGDClassifier(backend="pynq", board="sim", **params).fit(X, y)
    rtl = zipml.SGDClassifier(backend="verilator", **params).fit(X, y)
    assert np.array_equal(words(board), words(cpu)), f"seed={seed}"
    assert np.array_equal(words(rtl), words(cpu)), f"seed={seed}"
    assert np.array_equal(board.coef_, cpu.coef_)
    assert np.array_equal(board.predict(X), cpu.predict(X))
    assert board._trained.backend == "pynq" and rtl._trained.backend == "verilator"


def test_ten_classes_from_a_packed_stream_on_the_board_in_one_pass():
    """The driver asks the engine its lanes: a packed stream of 10 classes
    trains on the simulated board's 10-lane engine as on the CPU."""
    seed = 46
    X, y = blobs(200, 9, 10, seed)
    s = zipml.pack(X, y, precision="q4", arithmetic="engine", random_state=seed)
    cpu = zipml.SGDClassifier(arithmetic="engine", epochs=2, step=1 / 32).fit(s)
    board = zipml.SGDClassifier(backend="pynq", board="sim", epochs=2, step=1 / 32).fit(s)
    assert board.coef_.shape == (10, 9)
    assert np.array_equal(words(board), words(cpu)), f"seed={seed}"


@pytest.mark.parametrize("precision", ["float32", "q8", "q2"])
def test_board_regression_matches_the_cpu_engine_arithmetic(precision):
    seed = 44
    X, y = linear_target(150, 7, seed)
    params = dict(precision=precision, epochs=3, step=1 / 16, random_state=seed)
    cpu = zipml.SGDRegressor(arithmetic="engine", **params).fit(X, y)
    board = zipml.SGDRegressor(backend="pynq", board="sim", **params).fit(X, y)
    assert np.array_equal(words(board), words(cpu)), f"seed={seed}"


def test_a_missing_board_is_a_clear_error():
    X, y = blobs(50, 4, 2, 45)
    with pytest.raises(zipml.ZipmlError) as e:
        zipml.SGDClassifier(backend="pynq", board="hw", epochs=1, bitstream="/nonexistent/zipml_f32.bit").fit(X, y)
    assert "/nonexistent/zipml_f32.bit" in str(e.value) or "board" in str(e.value)


def test_a_dimension_too_large_for_the_engine_is_refused():
    X = np.zeros((4, 5000), dtype=np.float32)
    with pytest.raises(zipml.ZipmlError, match="exceeds the verilator backend's limit"):
        zipml.SGDClassifier(backend="verilator", epochs=1).fit(X, [0, 1, 0, 1])
