"""NetworkGraph: edges follow the shown epoch's weights, nodes the mean activations; the caps.

The runs are made with numpy (``Run.from_arrays`` and ``tests/synthetic.py``):
a 2 → 4 tanh → 3 relu → 2 relu → 1 sigmoid net whose weights drift over 6
snapshots, with one relu unit held dead by a large negative bias.
"""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from replay import OptionError, Run
from replay.cli import main
from replay.views import VIEWS, NetworkGraph
from replay.views.network_graph import MAX_EDGE_WIDTH, MIN_EDGE_WIDTH

LAYERS = (("hidden_1", 4, "tanh"), ("hidden_2", 3, "relu"), ("hidden_3", 2, "relu"),
          ("output", 1, "sigmoid"))
ACTIVATIONS = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0),
               "sigmoid": lambda z: 1 / (1 + np.exp(-z))}


def deep_run(snapshots=6, n_samples=80, widths=None, seed=0):
    """A numpy run of a 3-hidden-layer Dense net; unit 1 of hidden_2 is dead throughout."""
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(n_samples, 2))
    targets = (inputs[:, :1] * inputs[:, 1:] > 0).astype(np.float64)
    layers = LAYERS if widths is None else tuple(
        (name, width, activation) for (name, _, activation), width in zip(LAYERS, widths))
    weights, activations = {}, {}
    fan_ins = [2, *[units for _, units, _ in layers]]
    for fan_in, (name, units, _) in zip(fan_ins, layers):
        kernel, drift = rng.normal(size=(2, fan_in, units))
        bias = 0.1 * rng.normal(size=units)
        weights[name] = {
            "kernel": np.stack([kernel + 0.3 * step * drift for step in range(snapshots)]),
            "bias": np.stack([bias] * snapshots)}
    weights["hidden_2"]["bias"][:, 1] = -100.0  # unit 1 never active
    outputs = np.empty((snapshots, n_samples, 1))
    for step in range(snapshots):
        values = inputs
        for name, _, activation in layers:
            z = values @ weights[name]["kernel"][step] + weights[name]["bias"][step]
            values = ACTIVATIONS[activation](z)
            if name != "output":
                activations.setdefault(name, []).append(values)
        outputs[step] = values
    return Run.from_arrays(
        inputs=inputs, targets=targets, outputs=outputs, weights=weights,
        activations={name: np.stack(values) for name, values in activations.items()},
        activation_names={name: activation for name, _, activation in layers}, name="deep")


@pytest.fixture(scope="module")
def run():
    return deep_run()


def test_edges_follow_the_weights_of_the_shown_epoch(run):
    view = NetworkGraph(run)
    for epoch in (0, 3, 5):
        view.plot(epoch)
        expected = np.concatenate([run.weights(name, epoch)["kernel"].ravel()
                                   for name, _, _ in LAYERS])
        np.testing.assert_allclose(view.edges_.get_array(), expected)
        limit = max(np.abs(run.weights(name, e)["kernel"]).max()
                    for name, _, _ in LAYERS for e in range(run.n_snapshots))
        assert view.weight_limit_ == pytest.approx(limit)
        widths = MIN_EDGE_WIDTH + (MAX_EDGE_WIDTH - MIN_EDGE_WIDTH) * np.abs(expected) / limit
        np.testing.assert_allclose(view.edges_.get_linewidths(), widths)
    # Edge i*units + j of a layer runs from node i of its column to node j of the next.
    segments = view.edges_.get_segments()
    kernel_2 = 2 * 4  # the edges of hidden_1 come first
    i, j = 2, 1
    np.testing.assert_allclose(segments[kernel_2 + i * 3 + j],
                               [view.positions_[2 + i], view.positions_[2 + 4 + j]])
    assert view.weight_norm.vmin == -view.weight_limit_
    plt.close(view.figure_)


def test_nodes_show_the_mean_activation_or_one_sample(run):
    view = NetworkGraph(run)
    view.plot(4)
    expected = np.concatenate([run.inputs().mean(axis=0),
                               *[run.activations(name, 4).mean(axis=0)
                                 for name, _, _ in LAYERS[:-1]],
                               run.outputs(4).mean(axis=0)])
    np.testing.assert_allclose(view.nodes_.get_array(), expected, rtol=1e-6)
    assert view.columns == ["inputs", "hidden_1", "hidden_2", "hidden_3", "output"]
    assert [tick.get_text() for tick in view.ax_.get_xticklabels()][1] == "hidden_1\n4 tanh"
    plt.close(view.figure_)

    single = NetworkGraph(run, sample=7, colorbars=False)
    single.plot(2)
    expected = np.concatenate([run.inputs()[7],
                               *[run.activations(name, 2)[7] for name, _, _ in LAYERS[:-1]],
                               run.outputs(2)[7]])
    np.testing.assert_allclose(single.nodes_.get_array(), expected, rtol=1e-6)
    plt.close(single.figure_)


def test_it_moves_between_epochs_and_blits(run):
    view = NetworkGraph(run).attach()
    first = [np.array(artist.get_array()) for artist in view.frame(0)[:2]]
    later = [np.array(artist.get_array()) for artist in view.frame(5)[:2]]
    assert not np.allclose(first[0], later[0]) and not np.allclose(first[1], later[1])
    assert view.blit_safe and VIEWS["network-graph"].view_class is NetworkGraph
    plt.close(view.figure_)


def test_a_sub_chain_starts_from_the_layer_before_it(run):
    view = NetworkGraph(run, layers=["hidden_2", "hidden_3"])
    view.plot(1)
    assert view.columns == ["hidden_1", "hidden_2", "hidden_3"]
    assert len(view.edges_.get_segments()) == 4 * 3 + 3 * 2
    np.testing.assert_allclose(view.nodes_.get_array()[:4],
                               run.activations("hidden_1", 1).mean(axis=0), rtol=1e-6)
    plt.close(view.figure_)
    with pytest.raises(OptionError, match="consecutive Dense layers"):
        NetworkGraph(run, layers=["hidden_1", "hidden_3"])


def test_wide_layers_and_many_edges_are_refused_with_what_to_do():
    wide = deep_run(snapshots=2, widths=(40, 3, 2, 1))
    with pytest.raises(OptionError, match=r"at most 32 units per layer, and layer 'hidden_1' "
                                          r"has 40.*layers=\[\.\.\.\].*'hidden_2'"):
        NetworkGraph(wide)
    NetworkGraph(wide, layers=["hidden_3", "output"])  # the narrow end fits
    NetworkGraph(wide, max_units=40)  # or raise the cap
    crowded = deep_run(snapshots=2, widths=(32, 32, 32, 1))
    with pytest.raises(OptionError, match="at most 2000 edges.*2144 weights"):
        NetworkGraph(crowded)


def test_findings_ring_their_units_while_they_hold(run):
    diagnosis = run.diagnose()
    dead = [finding for finding in diagnosis.of_kind("dead-units")
            if finding.layer == "hidden_2"]
    assert dead and dead[0].units == (1,)
    view = NetworkGraph(run, findings=diagnosis)
    view.plot(3)
    ring = view.positions_[view.starts[2] + 1]  # column 2 is hidden_2
    assert any(np.allclose(offset, ring) for offset in view.rings_.get_offsets())
    assert "dead 1" in view.tags_[2].get_text()
    plt.close(view.figure_)
    plain = NetworkGraph(run)  # no findings: nothing extra is drawn
    plain.plot(3)
    assert plain.rings_ is None and plain.tags_ is None
    plt.close(plain.figure_)


def test_replay_compare_draws_the_network_graph(part1_file, tmp_path, capsys):
    out = tmp_path / "graphs.png"
    assert main(["compare", str(part1_file), "--view", "network-graph", "--out", str(out)]) == 0
    assert out.stat().st_size > 0
    assert "wrote" in capsys.readouterr().out
