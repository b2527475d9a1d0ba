"""``replay.diagnose``: each finding on a real recorded run that reproduces it, and none on a healthy one.

The runs are recorded with Keras, briefly: experiment 2's sigmoid +
normal(0.01) net and experiment 4's three initializers on the circles
(the scripts' own ``build_model``), plus small nets made to fail one way
each (a large negative bias, a huge learning rate, a learning rate of 0).
The expected numbers are recomputed with numpy from the run.
"""

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from replay import OptionError, Run
from replay.cli import main
from replay.diagnose import (
    CHECKS,
    GRADIENT_FACTOR,
    SATURATED_FRACTION,
    SATURATION_Z,
    Diagnosis,
    Finding,
    diagnose,
)

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
#: The recorder warns when the 'diverged' run diverges, as it should.
pytestmark = pytest.mark.filterwarnings("ignore:replay. run 'diverged' diverged:RuntimeWarning")


def _script(name):
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    return importlib.import_module(name)


def _fit(path, name, model, inputs, targets, epochs, **options):
    from replay import Recorder

    recorder = Recorder(path, name, inputs, targets, probes=False, **options)
    model.fit(inputs, targets, epochs=epochs, batch_size=32, verbose=0, callbacks=[recorder])


def _small_net(layers, *, loss="binary_crossentropy", learning_rate=0.05, seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((2,)), *layers])
    model.compile(keras.optimizers.SGD(learning_rate), loss)
    return model


@pytest.fixture(scope="module")
def runs_file(tmp_path_factory):
    """One file with every run of these tests (about 15 s of training on JAX)."""
    import keras

    path = tmp_path_factory.mktemp("diagnose") / "runs.h5"
    part2 = _script("part2_weight_initializers")
    part4 = _script("part4_circles_initializers")
    from replay.datasets import ball

    inputs, targets = ball(200, n_dims=10, seed=42)
    name, activation, factory = part2.PAIRS[0]  # sigmoid + RandomNormal(0.01)
    _fit(path, name, part2.build_model(activation, factory), inputs, targets, 3)

    (x_train, y_train), _ = part4.split_data()
    for initializer in part4.INITIALIZERS:  # zeros, normal-x10, he
        _fit(path, initializer, part4.build_model(initializer), x_train, y_train, 15)

    dense = keras.layers.Dense
    _fit(path, "dead", _small_net([
        dense(8, activation="relu", name="hidden",
              bias_initializer=keras.initializers.Constant(-10.0)),
        dense(1, activation="sigmoid", name="output")]), x_train, y_train, 4, gradients=False)
    _fit(path, "diverged", _small_net([
        dense(8, activation="relu", name="hidden", kernel_initializer="he_normal"),
        dense(1, name="output")], loss="mse", learning_rate=1e3),
        x_train, 100.0 * y_train.astype(np.float32), 4)
    _fit(path, "lr0", _small_net([
        dense(8, activation="relu", name="hidden", kernel_initializer="he_normal"),
        dense(1, activation="sigmoid", name="output")], learning_rate=0.0), x_train, y_train, 12)
    return path


def _only(diagnosis, kind, layer=None):
    found = [finding for finding in diagnosis.of_kind(kind)
             if layer is None or finding.layer == layer]
    assert len(found) == 1, diagnosis.format()
    return found[0]


def test_experiment_2_sigmoid_normal_has_vanishing_gradients(runs_file):
    run = Run(runs_file, "sigmoid-normal")
    diagnosis = run.diagnose()
    finding = _only(diagnosis, "vanishing-gradients")
    assert finding.layer == "hidden_1"
    assert finding.layers == tuple(f"hidden_{index}" for index in range(1, 6))
    assert finding.epochs == (0.0, 3.0) and finding.snapshots == (0, 3)
    assert finding.severity == "warning" and "Glorot" in finding.advice
    # The factor per layer: a least-squares fit of log10 std against depth, median over snapshots.
    factors = []
    for epoch in range(run.n_snapshots):
        stds = [run.gradients(f"hidden_{index}", epoch)["kernel"].std() for index in range(1, 6)]
        factors.append(10 ** np.polyfit(np.arange(5), np.log10(stds), 1)[0])
    assert finding.value == pytest.approx(np.median(factors), rel=1e-3)
    assert finding.value >= GRADIENT_FACTOR
    assert not diagnosis.of_kind("exploding-gradients")


def test_experiment_4_zeros_has_symmetric_dead_frozen_units_and_a_stalled_loss(runs_file):
    run = Run(runs_file, "zeros")
    diagnosis = diagnose(run)
    last = run.n_snapshots - 1
    for layer, units in (("hidden_1", 10), ("hidden_2", 5)):
        symmetric = _only(diagnosis, "symmetric-units", layer)
        assert symmetric.snapshots == (0, last) and symmetric.units == tuple(range(units))
        assert symmetric.value == units and "symmetry never broken" in symmetric.message
        kernel = run.weights(layer, last)["kernel"]
        assert np.all(kernel == kernel[:, :1])  # identical columns indeed
        assert _only(diagnosis, "dead-units", layer).units == tuple(range(units))
        assert "gradient is exactly 0" in _only(diagnosis, "frozen-weights", layer).message
    stalled = _only(diagnosis, "stalled-loss")
    assert stalled.layer is None and stalled.snapshots == (0, last) and stalled.value < 0.01
    assert not diagnosis.for_layer("output")  # its bias learns the class balance


def test_experiment_4_normal_x10_is_saturated_and_frozen(runs_file):
    run = Run(runs_file, "normal-x10")
    diagnosis = diagnose(run)
    saturated = _only(diagnosis, "saturated-units", "output")
    assert saturated.snapshots == (0, run.n_snapshots - 1)
    bound = 1 / (1 + np.exp(-SATURATION_Z["sigmoid"]))
    wrong = []
    for epoch in range(run.n_snapshots):
        outputs = run.outputs(epoch)[:, 0]
        confident = (outputs >= bound) | (outputs <= 1 - bound)
        assert confident.mean() >= SATURATED_FRACTION
        wrong.append(np.mean(confident & ((outputs > 0.5) != (run.targets()[:, 0] > 0.5))))
    assert saturated.value == pytest.approx(max(wrong))  # the most confidently wrong share
    for layer in ("hidden_1", "hidden_2", "output"):
        frozen = _only(diagnosis, "frozen-weights", layer)
        assert frozen.snapshots == (1, run.n_snapshots - 1)
        assert all(np.array_equal(run.weights(layer, 1)[name], run.weights(layer, -1)[name])
                   for name in ("kernel", "bias"))
    assert _only(diagnosis, "stalled-loss").snapshots[0] == 1


def test_experiment_4_he_is_healthy(runs_file):
    diagnosis = diagnose(Run(runs_file, "he"))
    assert diagnosis.alarming == [], diagnosis.format()
    assert diagnosis.skipped == []


def test_a_large_negative_bias_kills_every_relu_unit(runs_file):
    run = Run(runs_file, "dead")
    diagnosis = diagnose(run)
    dead = _only(diagnosis, "dead-units", "hidden")
    assert dead.units == tuple(range(8)) and dead.value == 8
    assert dead.snapshots == (0, run.n_snapshots - 1) and "leaky relu" in dead.advice
    assert np.all(run.activations("hidden", -1) == 0)
    skipped = dict(diagnosis.skipped)
    assert "gradients=True" in skipped["vanishing-gradients"]  # recorded without gradients


def test_a_huge_learning_rate_diverges_and_the_other_checks_stop_there(runs_file):
    run = Run(runs_file, "diverged")
    diagnosis = diagnose(run)
    divergence = _only(diagnosis, "divergence")
    finite = [np.isfinite(run.per_sample_loss(epoch)).all() for epoch in range(run.n_snapshots)]
    first_bad = finite.index(False)
    assert divergence.snapshots == (first_bad, run.n_snapshots - 1)
    assert "learning rate" in divergence.advice
    assert diagnosis.kinds() == {"divergence"}
    assert "after divergence" in dict(diagnosis.skipped)


def test_a_learning_rate_of_zero_stalls_the_loss_and_freezes_every_layer(runs_file):
    run = Run(runs_file, "lr0")
    diagnosis = diagnose(run)
    stalled = _only(diagnosis, "stalled-loss")
    assert stalled.value == 0 and stalled.epochs == (0.0, 12.0)
    assert {finding.layer for finding in diagnosis.of_kind("frozen-weights")} == {
        "hidden", "output"}
    # One hidden layer: no gradient ratio to measure, and it says so.
    assert "at least 2 hidden layers" in dict(diagnosis.skipped)["vanishing-gradients"]


def test_checks_select_findings_and_unknown_ones_are_refused(runs_file):
    run = Run(runs_file, "zeros")
    diagnosis = run.diagnose(checks=["symmetric-units"])
    assert diagnosis.kinds() == {"symmetric-units"} and len(diagnosis) == 2
    with pytest.raises(OptionError, match="Unknown check 'dead'.*dead-units"):
        diagnose(run, checks=["dead"])
    with pytest.raises(OptionError, match="source"):
        diagnose(run, source="mesh")


def test_findings_serialise_and_tag(runs_file):
    diagnosis = diagnose(Run(runs_file, "zeros"))
    assert isinstance(diagnosis, Diagnosis) and all(isinstance(f, Finding) for f in diagnosis)
    data = json.loads(json.dumps(diagnosis.to_dict()))
    assert {finding["kind"] for finding in data["findings"]} == diagnosis.kinds()
    assert set(diagnosis.kinds()) <= set(CHECKS)
    dead = _only(diagnosis, "dead-units", "hidden_1")
    assert dead.tag == "dead 10" and dead.covers(0) and not dead.covers(10_000)


def test_cli_prints_one_line_per_finding_grouped_by_run(runs_file, capsys):
    assert main(["diagnose", str(runs_file), "--run", "zeros", "he"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"{runs_file}: 2 runs"
    zeros = diagnose(Run(runs_file, "zeros"))
    header = lines.index(zeros.format().splitlines()[0])
    body = lines[header + 1: header + 1 + len(zeros)]
    assert [line.split()[:3] for line in body] == [
        [f.severity, f.kind, f.layer or "(model)"] for f in zeros]
    assert "run 'he' (16 snapshots, epochs 0..15): nothing found" in out


def test_cli_json(runs_file, capsys):
    assert main(["diagnose", str(runs_file), "--run", "dead", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (run,) = data["runs"]
    assert run["run"] == "dead"
    assert {finding["kind"] for finding in run["findings"]} >= {"dead-units"}
    assert {item["check"] for item in run["skipped"]} >= {"vanishing-gradients"}


def test_cli_missing_file_is_an_error(tmp_path, capsys):
    assert main(["diagnose", str(tmp_path / "missing.h5")]) == 2
    assert "No such run file" in capsys.readouterr().err


def test_symmetric_units_of_arrays_without_keras():
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(50, 2))
    kernel = rng.normal(size=(3, 2, 4))
    kernel[:, :, 3] = kernel[:, :, 1]  # units 1 and 3 share their weights
    weights = {"hidden": {"kernel": kernel, "bias": np.zeros((3, 4))}}
    activations = {"hidden": np.tanh(np.einsum("nd,sdu->snu", inputs, kernel))}
    run = Run.from_arrays(inputs=inputs, targets=(inputs[:, :1] > 0).astype(float),
                          activations=activations, weights=weights,
                          outputs=np.full((3, 50, 1), 0.5), activation_names={"hidden": "tanh"})
    diagnosis = diagnose(run)
    finding = _only(diagnosis, "symmetric-units", "hidden")
    assert finding.units == (1, 3) and finding.snapshots == (0, 2) and finding.value == 2
    assert "no gradients recorded" in dict(diagnosis.skipped)["vanishing-gradients"]


def test_layer_violins_tag_the_layers_of_findings_only_when_asked(runs_file):
    import matplotlib.pyplot as plt

    from replay.views import LayerViolins

    run = Run(runs_file, "zeros")
    violins = LayerViolins(run, "activations", findings=run.diagnose())
    violins.plot(-1)
    assert [text.get_text().splitlines() for text in violins.tags_] == [
        ["dead 10", "symmetric 10", "frozen"], ["dead 5", "symmetric 5", "frozen"]]
    assert set(violins.tags_) <= set(violins.frame(-1))  # returned: they blit
    plt.close(violins.figure_)
    plain = LayerViolins(run, "activations")
    plain.plot(-1)
    assert plain.tags_ == []
    plt.close(plain.figure_)
