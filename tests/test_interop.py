"""``Run.to_xarray`` and ``Run.history_frame`` (the ``[xarray]`` extra): named dimensions, same numbers."""

import numpy as np
import pytest

from replay import OptionError, Run

xarray = pytest.importorskip("xarray")
pandas = pytest.importorskip("pandas")


def test_a_layer_as_a_data_array(part1_file):
    run = Run(part1_file, "sigmoid")
    array = run.to_xarray("hidden", epochs="0:13:4")
    assert array.dims == ("snapshot", "sample", "unit")
    assert list(array.snapshot.values) == [0, 4, 8, 12]
    np.testing.assert_array_equal(array.epoch.values, run.epochs[[0, 4, 8, 12]])
    np.testing.assert_array_equal(array.sel(snapshot=8).values, run.activations("hidden", 8))
    z = run.to_xarray("hidden", quantity="preactivations", epochs=[-1])
    np.testing.assert_array_equal(z.isel(snapshot=0).values, run.preactivations("hidden", -1))
    assert array.attrs["run"] == "sigmoid" and array.attrs["activation"] == "sigmoid"
    mean = array.mean("sample").sel(unit=1).values
    np.testing.assert_allclose(mean, [run.activations("hidden", e)[:, 1].mean()
                                      for e in (0, 4, 8, 12)], rtol=1e-6)


def test_the_whole_run_as_a_dataset(part1_file):
    run = Run(part1_file, "relu")
    dataset = run.to_xarray()
    assert set(dataset.data_vars) == {"hidden", "outputs", "loss", "inputs", "targets"}
    assert dataset["hidden"].dims == ("snapshot", "sample", "hidden_unit")
    assert dataset.sizes["snapshot"] == run.n_snapshots
    np.testing.assert_array_equal(dataset["loss"].isel(snapshot=-1).values,
                                  run.per_sample_loss(-1))
    np.testing.assert_array_equal(dataset["inputs"].values, run.inputs())
    with pytest.raises(OptionError, match="quantity"):
        run.to_xarray(quantity="weights")


def test_history_frame(part1_file):
    run = Run(part1_file, "sigmoid")
    frame = run.history_frame()
    assert frame.index.name == "epoch" and list(frame.index) == list(run.history["epoch"])
    assert {"loss", "accuracy"} <= set(frame.columns) and "epoch" not in frame.columns
    np.testing.assert_array_equal(frame["loss"].values, run.history["loss"])
