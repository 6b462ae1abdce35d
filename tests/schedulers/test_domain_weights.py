import json

import numpy as np
import pytest

from datamill.schedulers.domain_weights import DomainWeights, reference_losses, update_weights

REF = {"web": 3.0, "books": 3.5, "docs": 2.5}


def _stream(steps=30, seed=0):
    """Synthetic per-source validation losses: web stays 0.4 above its reference, books 0.3
    below, docs at it (plus noise)."""
    rng = np.random.default_rng(seed)
    for k in range(1, steps + 1):
        noise = rng.normal(0, 0.02, 3)
        yield 10 * k, {"web": 3.4 + noise[0], "books": 3.2 + noise[1], "docs": 2.5 + noise[2]}


def test_weights_move_toward_the_source_above_its_reference():
    dw = DomainWeights(REF)
    assert dw.weights(0) == pytest.approx({"books": 1 / 3, "docs": 1 / 3, "web": 1 / 3})
    web = [dw.weights(0)["web"]]
    for step, losses in _stream():
        assert dw.on_eval(step, losses)
        w = dw.weights(step)
        assert sum(w.values()) == pytest.approx(1.0, abs=1e-12)
        assert min(w.values()) >= dw.smoothing / 3 - 1e-15
        web.append(w["web"])
    assert all(b > a for a, b in zip(web, web[1:]))  # monotone toward web
    w = dw.weights(300)
    assert w["web"] > 0.99 and w["books"] < w["docs"]  # books (below its reference) is pushed down most
    assert len(dw.history) == 31 and dw.history[-1]["step"] == 300


def test_smoothing_floor_is_respected_under_extreme_excess():
    dw = DomainWeights(REF, smoothing=0.03, eta=50.0)
    for step in range(1, 20):
        dw.on_eval(step, {"web": 10.0, "books": 0.0, "docs": 0.0})
        w = np.array(list(dw.weights(step).values()))
        assert w.sum() == pytest.approx(1.0) and w.min() >= 0.03 / 3 - 1e-12
    assert dw.weights(20)["books"] == pytest.approx(0.01, rel=1e-6)  # sits exactly on the floor c/k


def test_update_matches_sheared_llama_formula():
    w = np.array([0.67, 0.045, 0.045, 0.02, 0.045, 0.025, 0.15])  # RedPajama start (Sheared LLaMA)
    diff = np.array([0.3, -0.1, 0.05, 0.0, 0.2, -0.4, 0.1])
    alpha = w * np.exp(diff)
    alpha /= alpha.sum()
    want = (1 - 1e-4) * alpha + 1e-4 / 7
    np.testing.assert_allclose(update_weights(w, diff, eta=1.0, smoothing=1e-4, clip=False), want / want.sum())
    clipped = update_weights(w, diff, eta=1.0, smoothing=0.0, clip=True)
    below = diff <= 0  # with the paper's clip, sources at or below reference keep their relative weights
    np.testing.assert_allclose(clipped[below] / clipped[below].sum(), w[below] / w[below].sum())
    bandit = update_weights(w, diff, eta=1.0, smoothing=0.0, clip=False, kind="bandit")
    np.testing.assert_allclose(bandit, np.exp(w + diff) / np.exp(w + diff).sum())
    np.testing.assert_array_equal(update_weights(w, diff, eta=1, smoothing=0, clip=False, kind="constant"), w)


def test_clip_does_not_punish_sources_below_reference():
    plain, clipped = DomainWeights(REF), DomainWeights(REF, clip=True)
    for step, losses in _stream(10):
        plain.on_eval(step, losses)
        clipped.on_eval(step, losses)
    assert clipped.weights()["books"] == pytest.approx(clipped.weights()["docs"], rel=0.05)
    assert plain.weights()["books"] < 0.5 * plain.weights()["docs"]


def test_missing_source_reuses_its_last_excess_and_every_gates_updates():
    dw = DomainWeights(REF, every=100)
    assert dw.on_eval(50, {"web": 3.5, "books": 3.5, "docs": 2.5})
    assert not dw.on_eval(100, {"web": 9.0})  # 50 steps after the last update: skipped
    assert dw.on_eval(150, {"books": 3.5, "docs": 2.5})  # web absent: its last excess (0.5) again
    assert dw.history[-1]["excess"]["web"] == pytest.approx(0.5)
    w = np.ones(3) / 3  # books, docs, web; two updates with web's excess +0.5
    for _ in range(2):
        a = w * np.exp([0, 0, 0.5])
        w = 0.9999 * a / a.sum() + 1e-4 / 3
    np.testing.assert_allclose(list(dw.weights().values()), w, rtol=1e-12)


def test_initial_mixture_and_average():
    dw = DomainWeights(REF, initial={"web": 2, "books": 1, "docs": 1}, update_type="constant")
    assert dw.weights() == pytest.approx({"books": 0.25, "docs": 0.25, "web": 0.5})
    dw.on_eval(10, {"web": 4.0, "books": 3.5, "docs": 2.5})
    assert dw.weights()["web"] == pytest.approx(0.5) and dw.average()["web"] == pytest.approx(0.5)


def test_reference_from_a_reference_run(tmp_path):
    rows = [{"step": 10, "loss": 4.0}, {"step": 10, "val_loss": 3.1, "val_loss/web": 3.3, "val_loss/docs": 2.9},
            {"step": 20, "val_loss": 3.0, "val_loss/web": 3.2, "val_loss/docs": 2.8}, {"step": 20, "loss": 3.9}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert reference_losses(str(tmp_path)) == {"web": 3.2, "docs": 2.8}
    assert DomainWeights(str(tmp_path / "metrics.jsonl")).sources == ["docs", "web"]
    with pytest.raises(ValueError, match="domain_weights.reference"):
        reference_losses(str(tmp_path / "nope"))


def test_state_round_trip_and_history_file(tmp_path):
    path = tmp_path / "weights.jsonl"
    a = DomainWeights(REF, history_path=str(path))
    stream = list(_stream(6))
    for step, losses in stream[:3]:
        a.on_eval(step, losses)
    state = json.loads(json.dumps(a.state_dict()))  # checkpoints may serialize it
    for step, losses in stream[3:]:
        a.on_eval(step, losses)
    b = DomainWeights(REF, history_path=str(path))
    b.load_state_dict(state)
    assert len(path.read_text().splitlines()) == 3  # lines after the checkpoint are forgotten
    for step, losses in stream[3:]:
        b.on_eval(step, losses)
    assert b.weights() == a.weights() and b.history == a.history
    assert [json.loads(x)["step"] for x in path.read_text().splitlines()] == [s for s, _ in stream]


def test_errors_name_the_key():
    with pytest.raises(ValueError, match="no reference loss"):
        DomainWeights(REF).on_eval(1, {"code": 1.0})
    with pytest.raises(ValueError, match="domain_weights.initial"):
        DomainWeights(REF, initial={"code": 1.0})
    with pytest.raises(ValueError, match="domain_weights.update_type"):
        DomainWeights(REF, update_type="greedy")
