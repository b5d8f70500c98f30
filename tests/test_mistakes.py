"""helpers.mistakes: the hand-written loop reproduces helpers.train.fit, and each switch does what it says."""

import copy

import numpy as np
import pytest
import torch

from helpers import data, mistakes, models, train


@pytest.fixture(scope="module")
def tiny():
    return data.make_scenes(n_train=96, n_val=48, n_test=48, seed=1)


@pytest.fixture(scope="module")
def init(tiny):
    return models.build_model(tiny, seed=0)


def _loop(init, tiny, **kw):
    return mistakes.train_loop(copy.deepcopy(init), tiny, epochs=kw.pop("epochs", 2), batch_size=32, seed=0,
                               device="cpu", progress=False, **kw)


def test_correct_loop_reproduces_fit(tiny, init):
    ref = train.fit(copy.deepcopy(init), tiny, "bce_with_logits", epochs=2, batch_size=32, seed=0, device="cpu",
                    progress=False)
    mine = _loop(init, tiny)
    cols = ["train_loss", "val_loss", "val_micro_f1", "val_macro_f1", "val_map", "val_pred_pos_rate", "grad_norm"]
    np.testing.assert_allclose(mine.history[cols].to_numpy(), ref.history[cols].to_numpy(), rtol=1e-6, atol=1e-7)
    for a, b in zip(mine.model.parameters(), ref.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_history_and_steps_columns(tiny, init):
    r = _loop(init, tiny, eval_test=True)
    assert list(r.history["epoch"]) == [1, 2]
    assert {"test_macro_f1", "test_map", "val_labels_f1_zero"} <= set(r.history.columns)
    assert len(r.steps) == 2 * 3 and r.steps["step"].tolist() == list(range(1, 7))
    assert r.predict_proba(tiny.X_test).shape == tiny.Y_test.shape


def test_stale_optimizer_leaves_weights_untouched(tiny, init):
    r = _loop(init, tiny, optimize="stale")
    for a, b in zip(r.model.parameters(), init.parameters(), strict=True):
        assert torch.equal(a, b)


def test_head_only_moves_only_the_head(tiny, init):
    r = _loop(init, tiny, optimize="head")
    head = mistakes.last_linear(r.model)
    assert not torch.equal(head.weight, mistakes.last_linear(init).weight)
    assert torch.equal(r.model[0].weight, init[0].weight)


def test_eval_mode_keeps_batchnorm_statistics(tiny, init):
    r = _loop(init, tiny, train_mode=False)
    bn = r.model[1]
    assert torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))
    assert not r.model.training


def test_forgotten_zero_grad_accumulates(tiny, init):
    right, wrong = _loop(init, tiny, epochs=1), _loop(init, tiny, epochs=1, zero_grad=False)
    assert wrong.steps["grad_norm"].iloc[-1] > right.steps["grad_norm"].iloc[-1]
    assert wrong.steps["grad_norm"].iloc[0] == pytest.approx(right.steps["grad_norm"].iloc[0])


def test_prior_bias(tiny, init):
    Y = np.array([[1, 0], [0, 0], [1, 0], [0, 1]], dtype=np.float32)
    np.testing.assert_allclose(mistakes.prior_bias(Y).numpy(), [0.0, np.log(0.25 / 0.75)], atol=1e-6)
    r = _loop(init, tiny, epochs=1, bias_init="prior")
    assert r.switches["bias_init"] == "prior"
    with pytest.raises(ValueError, match="non-empty"):
        mistakes.prior_bias(np.zeros(3))


def test_unnormalise(tiny):
    raw = mistakes.unnormalise(tiny)
    np.testing.assert_allclose(raw.X_train, tiny.X_train * 255, rtol=1e-6)
    assert tiny.X_train.max() <= 1.0  # the original is untouched
    Z = np.zeros((4, 2), dtype=np.float32)
    tab = data.MultiLabelData("t", "tabular", Z, Z, Z, Z, Z, Z, ["a", "b"],
                              info={"standardize": {"mean": [5.0, 100.0], "std": [2.0, 50.0]}})
    back = mistakes.unnormalise(tab)
    np.testing.assert_allclose(back.X_val[0], [5.0, 100.0])
    with pytest.raises(ValueError, match="standardization"):
        mistakes.unnormalise(data.MultiLabelData("t", "tabular", Z, Z, Z, Z, Z, Z, ["a", "b"]))


def test_lr_range_test_and_suggestion(tiny, init):
    rt = mistakes.lr_range_test(init, tiny, lr_min=1e-4, lr_max=1.0, steps=12, batch_size=32, device="cpu")
    assert rt["lr"].is_monotonic_increasing and len(rt) <= 12
    s = mistakes.suggest_lr(rt)
    assert set(s) == {"steepest", "min_loss", "min_loss_over_10"} and s["steepest"] <= s["min_loss"]
    with pytest.raises(ValueError):
        mistakes.lr_range_test(init, tiny, lr_min=1.0, lr_max=0.1)


def test_select_epoch():
    import pandas as pd

    h = pd.DataFrame({"epoch": [1, 2, 3], "val_loss": [0.5, 0.3, 0.4], "val_macro_f1": [0.1, 0.2, 0.3]})
    assert mistakes.select_epoch(h, "val_loss") == 2 and mistakes.select_epoch(h, "val_macro_f1") == 3
    with pytest.raises(ValueError, match="no column"):
        mistakes.select_epoch(h, "val_f1")


def test_autocast_loss_on_cpu():
    x, y = torch.linspace(-20, 20, 41), torch.zeros(41)
    bce, logits = mistakes.autocast_loss("bce", x, y), mistakes.autocast_loss("bce_with_logits", x, y)
    assert logits["ok"] and logits["dtype"] == "float32"
    np.testing.assert_allclose(logits["loss"][-1], 20.0, rtol=1e-3)
    if bce["ok"]:  # the CPU runs it in float32 on bfloat16 probabilities: pinned at the clamp early
        assert bce["loss"][-1] == 100.0
    else:
        assert "autocast" in bce["error"]


def test_bad_switches_raise(tiny, init):
    for kw in ({"optimize": "some"}, {"bias_init": "zero"}, {"loss": "mse"}, {"epochs": 0}):
        with pytest.raises(ValueError):
            _loop(init, tiny, **kw)


def test_loop_feeds_a_monitor_and_logs_its_seconds(tiny, init):
    from helpers import results

    results.clear_fit_log()
    r = _loop(init, tiny, epochs=3, desc="watched")
    assert r.monitor is not None and r.monitor.steps == len(r.steps) == 3 * 3  # 96 rows / 32 per batch
    assert len(r.monitor.epochs) == 3 and r.monitor.epochs[-1]["val_metric"] == pytest.approx(r.history["val_map"].iloc[-1])
    assert r.monitor.report().facts["steps"] == 9
    fits = results.training_summary()["fits"]
    assert [f["setup"] for f in fits] == ["watched"] and fits[0]["epochs"] == 3 and fits[0]["seconds"] >= 0
    assert _loop(init, tiny, monitor=False).monitor is None



def test_label_sorted_order_groups_rows_by_label():
    Y = np.array([[0, 1], [1, 0], [0, 0], [1, 1]])
    order = mistakes.label_sorted_order(Y)
    assert sorted(order.tolist()) == [0, 1, 2, 3]
    assert Y[order][:, 0].tolist() == [1, 1, 0, 0]  # the first label's positives first
    assert Y[order].tolist() == [[1, 1], [1, 0], [0, 1], [0, 0]]


def test_sorted_order_changes_the_run_and_is_the_same_every_epoch(tiny, init):
    ref, srt = _loop(init, tiny), _loop(init, tiny, order="sorted")
    assert not np.isclose(ref.history["train_loss"].iloc[0], srt.history["train_loss"].iloc[0])
    assert srt.switches["order"] == "sorted"
    with pytest.raises(ValueError, match="order='random'"):
        _loop(init, tiny, order="random")


def test_stop_at_ends_the_run_at_the_first_epoch_reaching_it(tiny, init):
    full = _loop(init, tiny, epochs=3)
    target = float(full.history["val_map"].iloc[1])
    stopped = _loop(init, tiny, epochs=3, stop_at=("val_map", target))
    first = mistakes.first_epoch_reaching(full.history, "val_map", target)
    assert len(stopped.history) == first <= 2
    assert mistakes.first_epoch_reaching(full.history, "val_map", 2.0) is None


def test_at_epoch(tiny, init):
    a = _loop(init, tiny, epochs=2)
    assert mistakes.at_epoch(a.history, "val_map", 1) == float(a.history["val_map"].iloc[0])
    assert mistakes.at_epoch(a.history, "val_map") == mistakes.at_epoch(a.history, "val_map", 99)


def test_keep_probs_and_checkpoint_scores(tiny, init):
    r = _loop(init, tiny, epochs=3, eval_test=True, keep_probs=True)
    assert len(r.probs) == 3 and r.probs[0]["val"].shape == tiny.Y_val.shape
    assert r.probs[-1]["test"].shape == tiny.Y_test.shape
    s = mistakes.checkpoint_scores(r, tiny)
    assert list(s["epoch"]) == [1, 2, 3]
    # the stored probabilities are the ones the history scored: same test mAP and macro-F1 at 0.5
    np.testing.assert_allclose(s["test_map"], r.history["test_map"], rtol=1e-6)
    np.testing.assert_allclose(s["test_macro_f1"], r.history["test_macro_f1"], rtol=1e-6)
    # tuned thresholds can only help on the split they were tuned on
    assert (s["val_tuned_macro_f1"] >= r.history["val_macro_f1"] - 1e-12).all()
    last = mistakes.tuned_scores(r, tiny)
    assert last["tuned_macro_f1"] == pytest.approx(s["test_tuned_macro_f1"].iloc[-1])
    with pytest.raises(ValueError, match="keep_probs"):
        _loop(init, tiny, keep_probs=True)
    with pytest.raises(ValueError, match="kept no probabilities"):
        mistakes.checkpoint_scores(_loop(init, tiny, eval_test=True), tiny)


def test_select_checkpoints_and_entries():
    import pandas as pd

    s = pd.DataFrame({"epoch": [1, 2, 3, 4], "train_loss": [0.5, 0.3, 0.2, 0.1], "val_loss": [0.6, 0.4, 0.45, 0.5],
                      "val_tuned_macro_f1": [0.3, 0.5, 0.7, 0.6], "test_tuned_macro_f1": [0.31, 0.52, 0.69, 0.61],
                      "test_tuned_micro_f1": [0.3] * 4, "test_macro_f1": [0.1, 0.2, 0.3, 0.4],
                      "test_micro_f1": [0.1] * 4, "test_map": [0.4, 0.5, 0.6, 0.65]})
    picks = mistakes.select_checkpoints(s)
    assert picks == {"min val loss": 2, "max val tuned macro-F1": 3, "last epoch": 4}
    entries = {e["setup"]: e for e in mistakes.selection_entries(s, picks)}
    assert entries["checkpoint: min val loss"]["tuned_macro_f1"] == 0.52
    assert entries["checkpoint: max val tuned macro-F1"]["epoch"] == 3
    assert entries["checkpoint: last epoch"]["map"] == 0.65
    ev = mistakes.overfitting_evidence(s, picks)
    assert ev["epoch_min_val_loss"] == 2 and ev["val_loss_last"] == 0.5 and ev["val_tuned_macro_f1_max_after"] == 0.7


def test_f1s_match_evaluate():
    from helpers import metrics

    rng = np.random.default_rng(1)
    y = (rng.random((60, 5)) < 0.3).astype(int)
    y[:, 4] = 0  # a label without positives
    p = rng.random((60, 5))
    thr = np.array([0.2, 0.4, 0.5, 0.7, 0.9])
    full = metrics.evaluate(y, p, threshold=thr)
    mine = mistakes._f1s(y, p >= thr)
    assert mine["macro_f1"] == pytest.approx(full["macro_f1"]) and mine["micro_f1"] == pytest.approx(full["micro_f1"])
