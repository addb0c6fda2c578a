"""The estimators as scikit-learn sees them: check_estimator, Pipeline, GridSearchCV, pickle,
partial_fit, and the errors users meet."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

import zipml

# Checks that cannot run here, and why (docs/PYTHON.md lists them too).
SKIPPED_CHECKS = {
    "check_classifier_data_not_an_array": "needs pandas, which the test machine does not install",
    "check_regressor_data_not_an_array": "needs pandas, which the test machine does not install",
}


@pytest.mark.parametrize(
    "estimator",
    [
        zipml.SGDClassifier(),
        zipml.SGDClassifier(loss="logistic", precision="q4", rounding="stochastic"),
        zipml.SGDClassifier(precision="q1", order="shuffle-each-epoch", minibatch=4),
        zipml.SGDRegressor(),
        zipml.SGDRegressor(precision="q8", rounding="stochastic", double_sampling=True),
    ],
    ids=["l2svm-float32", "logistic-q4-stochastic", "l2svm-q1-shuffled", "least-squares-float32",
         "least-squares-q8-double-sampling"],
)
def test_check_estimator(estimator):
    failed, skipped = [], []
    for est, check in check_estimator(estimator, generate_only=True):
        name = getattr(check, "func", check).__name__
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                check(est)
        except Exception as e:  # SkipTest included: only the listed ones may skip
            if name in SKIPPED_CHECKS and type(e).__name__ == "SkipTest":
                skipped.append(name)
                continue
            failed.append(f"{name}: {type(e).__name__}: {e}")
    assert not failed, "\n".join(failed)


def test_classifier_learns_and_reports(three_blobs):
    X, y = three_blobs
    clf = zipml.SGDClassifier(precision="q4").fit(X, y)
    assert clf.score(X, y) > 0.95
    assert clf.coef_.shape == (3, 12) and clf.intercept_.shape == (3,)
    assert list(clf.classes_) == [0, 1, 2]
    assert clf.n_iter_ >= 10 and len(clf.loss_curve_) == clf.n_iter_
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.scaling_.startswith("columns")  # blobs are not in [0, 1]
    d = clf.decision_function(X)
    assert d.shape == (600, 3)
    assert np.array_equal(clf.classes_[d.argmax(axis=1)], clf.predict(X))


def test_string_labels_and_binary_decision(two_blobs):
    X, y = two_blobs
    names = np.array(["cat", "dog"])[y]
    clf = zipml.SGDClassifier().fit(X, names)
    assert list(clf.classes_) == ["cat", "dog"]
    d = clf.decision_function(X)
    assert d.shape == (400,)
    assert np.array_equal(np.where(d > 0, "dog", "cat"), clf.predict(X))
    assert clf.score(X, names) > 0.95


def test_logistic_probabilities(three_blobs):
    X, y = three_blobs
    clf = zipml.SGDClassifier(loss="logistic").fit(X, y)
    p = clf.predict_proba(X)
    assert p.shape == (600, 3)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert np.array_equal(clf.classes_[p.argmax(axis=1)], clf.predict(X))
    assert not hasattr(zipml.SGDClassifier(), "predict_proba")  # l2svm has none


def test_regressor_fits_a_linear_target(regression_data):
    X, y = regression_data
    for precision in ("float32", "q8"):
        reg = zipml.SGDRegressor(precision=precision, epochs=40).fit(X, y)
        assert reg.score(X, y) > 0.95, precision
        assert reg.coef_.shape == (8,) and np.shape(reg.intercept_) == (1,)


def test_scale_y_maps_predictions_back(regression_data):
    X, y = regression_data
    y_big = 1000.0 * y + 5000.0  # beyond the engine's Q9.23 range unless scaled
    reg = zipml.SGDRegressor(scale_y="0..1", arithmetic="engine", epochs=40).fit(X, y_big)
    assert reg.score(X, y_big) > 0.95
    assert abs(np.mean(reg.predict(X)) - np.mean(y_big)) < 50.0
    with pytest.raises(zipml.ZipmlError, match="outside the engine's Q9.23 range"):
        zipml.SGDRegressor(arithmetic="engine").fit(X, y_big)


def test_pipeline_and_grid_search(three_blobs):
    X, y = three_blobs
    pipe = make_pipeline(StandardScaler(), zipml.SGDClassifier(precision="q8"))
    assert pipe.fit(X, y).score(X, y) > 0.95
    grid = GridSearchCV(zipml.SGDClassifier(), {"precision": ["q2", "q8"], "C_neg": [1.0, 1.5]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_["precision"] in ("q2", "q8")
    assert grid.best_score_ > 0.9


def test_pickle_gives_the_same_predictions(three_blobs, tmp_path):
    X, y = three_blobs
    for clf in (zipml.SGDClassifier(precision="q2"), zipml.SGDClassifier(arithmetic="engine")):
        clf.fit(X, y)
        again = pickle.loads(pickle.dumps(clf))
        assert np.array_equal(again.decision_function(X), clf.decision_function(X))
        assert np.array_equal(again.coef_, clf.coef_)
        # the saved-model format underneath: zipml-predict reads what save writes
        clf.save(tmp_path / "m.zml")
        loaded = zipml.load_model(tmp_path / "m.zml")
        assert np.array_equal(loaded.decision_function(X), clf.decision_function(X))


def test_partial_fit_is_fit_epoch_by_epoch(three_blobs):
    X, y = three_blobs
    for arithmetic in ("float", "engine"):
        whole = zipml.SGDClassifier(precision="q4", step=1 / 64, epochs=3, order="file", arithmetic=arithmetic)
        whole.fit(X, y)
        part = zipml.SGDClassifier(precision="q4", step=1 / 64, order="file", arithmetic=arithmetic)
        for _ in range(3):
            part.partial_fit(X, y, classes=np.unique(y))
        assert np.array_equal(part.coef_, whole.coef_), arithmetic
        assert part.n_iter_ == 3 and part.t_ == 3 * len(y)


def test_partial_fit_batches_and_classes(three_blobs):
    X, y = three_blobs
    clf = zipml.SGDClassifier(precision="q8")
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X[:100], y[:100])
    # a first batch without class 2: the model still has a lane for it
    first = y != 2
    clf.partial_fit(X[first][:200], y[first][:200], classes=[0, 1, 2])
    assert clf.coef_.shape == (3, 12)
    for _ in range(10):
        for b in range(0, 600, 150):
            clf.partial_fit(X[b:b + 150], y[b:b + 150])
    assert clf.score(X, y) > 0.9
    with pytest.raises(ValueError, match="not one of classes"):
        clf.partial_fit(X[:5], np.full(5, 7))
    with pytest.raises(ValueError, match="12 features"):
        clf.partial_fit(X[:5, :4], y[:5])


def test_partial_fit_on_an_rtl_engine_is_refused(two_blobs):
    X, y = two_blobs
    if "verilator" not in zipml._core.backends:
        pytest.skip("built without Verilator")
    clf = zipml.SGDClassifier(backend="verilator", epochs=1)
    clf.partial_fit(X, y, classes=[0, 1])  # the first batch trains from zero: fine
    with pytest.raises(zipml.ZipmlError, match="cannot load one"):
        clf.partial_fit(X, y)


def test_bad_input_says_what_and_where(three_blobs):
    X, y = three_blobs
    bad = X.copy()
    bad[7, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        zipml.SGDClassifier().fit(bad, y)
    # the C++ core names the element itself (for callers that skip scikit-learn's checks)
    with pytest.raises(zipml.ZipmlError, match=r"X\[7, 3\] is nan"):
        zipml._core.fit(zipml._core.Spec(), bad, y.astype(np.float32), False)
    with pytest.raises(ValueError, match="precision='q3'"):
        zipml.SGDClassifier(precision="q3").fit(X, y)
    with pytest.raises(ValueError, match="minibatch=3"):
        zipml.SGDClassifier(minibatch=3).fit(X, y)
    with pytest.raises(ValueError, match="double_sampling"):
        zipml.SGDClassifier(precision="q4", double_sampling=True).fit(X, y)
    with pytest.raises(zipml.ZipmlError, match=r"X\[0, \d+\] is .*outside \[0, 1\]"):
        zipml.SGDClassifier(scale="none", range="0..1").fit(X, y)
    with pytest.raises(zipml.ZipmlError, match="diverged"):
        zipml.SGDRegressor(step=4.0, epochs=5).fit(X * 1000, y.astype(np.float32) * 1000)
    assert issubclass(zipml.ZipmlError, ValueError)


def test_verbose_prints_a_line_per_epoch(two_blobs, capsys):
    X, y = two_blobs
    zipml.SGDClassifier(epochs=3, verbose=1).fit(X, y)
    lines = [l for l in capsys.readouterr().out.splitlines() if "epoch" in l]
    assert len(lines) == 3 and lines[0].startswith("SGDClassifier: epoch 1: pass loss")
