"""The data sets of the experiments."""

import subprocess
import sys

import numpy as np
import pytest

from replay import OptionError
from replay.datasets import blobs_mod2, square_blobs_mod2


def test_blobs_are_scikit_learns_make_blobs_with_labels_mod_2():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    inputs, targets = blobs_mod2()
    expected, blob = sklearn_datasets.make_blobs(n_samples=1000, centers=4, n_features=2,
                                                 random_state=0)
    assert inputs.shape == (1000, 2) and targets.shape == (1000, 1)
    assert inputs.dtype == np.float32 and targets.dtype == np.float32
    # The same points and labels, shuffled: match them up by sorting.
    order, expected_order = np.lexsort(inputs.T), np.lexsort(expected.T)
    np.testing.assert_allclose(inputs[order], expected[expected_order], rtol=1e-6)
    np.testing.assert_array_equal(targets[order, 0], blob[expected_order] % 2)
    again, _ = blobs_mod2()
    np.testing.assert_array_equal(inputs, again)


def test_importing_replay_does_not_import_scikit_learn():
    code = ("import sys, replay, replay.datasets, replay.views, replay.render; "
            "print('sklearn' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


def test_blobs_without_scikit_learn_say_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(OptionError, match="pip install scikit-learn"):
        blobs_mod2()


def test_square_blobs_need_numpy_only():
    inputs, targets = square_blobs_mod2(200)
    assert inputs.shape == (200, 2) and set(np.unique(targets)) == {0.0, 1.0}
