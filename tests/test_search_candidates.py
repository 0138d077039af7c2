"""The search space (bnn2hls.search.candidates) and the synthetic IR builder (bnn2hls.models.synthetic)."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from bnn2hls import reference
from bnn2hls.search.candidates import DATASETS, WIDTHS, Candidate, compiled_network, evaluate_candidate, load_split, predicted_network, structure, train_candidate
from bnn2hls.models.synthetic import synthetic_network

pytestmark = pytest.mark.tier("unit")


# --------------------------------------------------------------------------------------
# Candidate
# --------------------------------------------------------------------------------------
def test_candidate_key_and_round_trip():
    c = Candidate("mnist5k", 2, 256)
    assert c.key == "mnist5k-d2-w256"
    assert c.topology == "784-256-256-10"
    d = c.to_dict()
    assert d == {"dataset": "mnist5k", "depth": 2, "width": 256}
    assert Candidate.from_dict(json.loads(json.dumps(d))) == c
    assert pickle.loads(pickle.dumps(c)) == c
    assert pickle.loads(pickle.dumps(evaluate_candidate)) is evaluate_candidate  # workers run it
    assert Candidate("digits", 1, 16).topology == "64-16-10"
    assert len({c, Candidate("mnist5k", 2, 256)}) == 1


@pytest.mark.parametrize("bad", [("cifar", 1, 16), ("mnist5k", 0, 16), ("mnist5k", 1, 0), ("mnist5k", 1.5, 16)])
def test_candidate_rejects_bad_fields(bad):
    with pytest.raises(ValueError):
        Candidate(*bad)


def test_width_ladder_folds():
    assert list(WIDTHS) == sorted(set(WIDTHS))
    assert all(w % 8 == 0 for w in WIDTHS)
    assert all(1.3 <= b / a <= 1.5 for a, b in zip(WIDTHS, WIDTHS[1:]))
    for ds in DATASETS.values():
        assert ds.features % 8 == 0 and ds.input_bits == 1 and ds.classes == 10


# --------------------------------------------------------------------------------------
# Predicted IR
# --------------------------------------------------------------------------------------
def test_predicted_network_shapes():
    net = predicted_network(Candidate("mnist5k", 3, 96), seed=1)
    iq = net.input_quant
    assert (iq.source_shape, iq.out_shape, iq.bits) == ((1, 28, 28), (1, 1, 784), 1)
    dense = net.matrix_layers
    assert [(l.fan_in, l.out_channels, l.binarize, l.thresholds is not None) for l in dense] == [
        (784, 96, True, True), (96, 96, True, True), (96, 96, True, True), (96, 10, False, False)]
    assert all(l.pe == 1 and l.simd == 1 and l.input_bits == 1 for l in dense)
    assert net.head.in_shape == (1, 1, 10)
    # The host input step is the trained model's (2x - 1, flatten, sign): real images run.
    _, _, x_test, _ = load_split("digits")
    out = reference.run(predicted_network(Candidate("digits", 1, 16)), np.array(x_test[:8]))
    assert out.shape == (8, 10)
    # Seeded contents.
    a, b = predicted_network(Candidate("digits", 2, 32), 3), predicted_network(Candidate("digits", 2, 32), 3)
    assert all(np.array_equal(x.weights, y.weights) for x, y in zip(a.matrix_layers, b.matrix_layers))


def test_predicted_equals_compiled_structure(tmp_path):
    """The IR the cost models see before training is the one the compiler builds after it;
    and the compiled IR's reference engine classifies every test image as torch does."""
    c = Candidate("digits", 1, 16)
    r = evaluate_candidate(c, seed=0, out_dir=tmp_path, epochs=1)
    assert (tmp_path / "model.onnx").is_file() and (tmp_path / "model.onnx.data").is_file()
    assert r["model"] == str(tmp_path / "model.onnx") and r["candidate"] == c.to_dict()
    assert r["agree"] == 1.0 and r["reference_accuracy"] == r["accuracy"]
    assert r["n_test"] == len(load_split("digits")[3]) and r["epochs_done"] == 1
    json.dumps(r)
    compiled = compiled_network(r["model"], c)
    assert structure(compiled) == structure(predicted_network(c))
    # Names differ at most on the host side; the datapath layers line up one to one.
    assert [l.kind for l in compiled.layers] == [l.kind for l in predicted_network(c).layers]


# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------
def test_training_is_deterministic():
    c = Candidate("digits", 1, 32)
    a, b = train_candidate(c, seed=5, epochs=2), train_candidate(c, seed=5, epochs=2)
    assert a.accuracy == b.accuracy and a.epochs_done == b.epochs_done == 2
    wa = [p.detach().numpy() for p in a.model.parameters()]
    wb = [p.detach().numpy() for p in b.model.parameters()]
    assert all(np.array_equal(x, y) for x, y in zip(wa, wb))
    other = train_candidate(c, seed=6, epochs=2)
    assert not all(np.array_equal(x, p.detach().numpy()) for x, p in zip(wa, other.model.parameters()))
    assert not a.model.training


def test_time_budget_stops_at_an_epoch_boundary():
    r = train_candidate(Candidate("digits", 1, 16), epochs=3, max_seconds=0.0)
    assert r.epochs_done == 1 and r.stopped_early


def test_small_mnist_candidate_learns():
    r = train_candidate(Candidate("mnist5k", 1, 64))
    assert r.accuracy > 0.8, r.accuracy  # chance is 0.1; measured 0.89
    assert r.epochs_done == DATASETS["mnist5k"].epochs and not r.stopped_early


# --------------------------------------------------------------------------------------
# Synthetic builder (moved from benchmarks/characterize.py; values pinned from the old one)
# --------------------------------------------------------------------------------------
def test_synthetic_network_pinned():
    from benchmarks.characterize import SWEEP, build_network

    net = synthetic_network("s_dense", *SWEEP["s_dense"])
    first = net.matrix_layers[0]
    assert first.weights.shape == (128, 256) and (first.pe, first.simd) == (16, 32)
    assert first.weights[:2, :8].astype(int).tolist() == [[1, 1, 1, 0, 1, 0, 1, 1], [1, 1, 0, 1, 0, 1, 1, 0]]
    assert first.thresholds[:5].tolist() == [-12, 3, -9, 2, 3]
    assert first.flip[:5].tolist() == [False, False, False, True, False]
    assert [l.binarize for l in net.matrix_layers] == [True, True, False]

    odd = synthetic_network("s_bin_odd", *SWEEP["s_bin_odd"])
    conv = odd.matrix_layers[0]
    assert conv.weights.shape == (8, 9) and conv.border is not None
    assert conv.thresholds[:4].tolist() == [0, 0, -5, 0] and int(conv.weights[:, :5].sum()) == 21

    # characterize.py's build_network is this builder.
    again = build_network("s_dense", SWEEP["s_dense"])
    assert all(np.array_equal(x.weights, y.weights) and np.array_equal(x.thresholds, y.thresholds)
               for x, y in zip(net.matrix_layers[:-1], again.matrix_layers[:-1]))
