"""CUDA paths (``pytest -m cuda``; ``make gpu-check`` runs them). Skipped where CUDA is absent.

The book's CPU runs never reach these lines: ``device="cuda"``, tensors staged on the GPU,
bf16 autocast (``amp=True``), deterministic cuBLAS, and every loss setup computed on the device.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import bench, data, losses, metrics, models, train

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (make gpu-check)")]


@pytest.fixture(scope="module")
def small():
    return data.make_scenes(n_train=2000, n_val=500, n_test=500, seed=1)


def test_auto_picks_cuda_and_fit_trains_there(small):
    assert train.resolve_device("auto").type == "cuda"
    r = train.fit(models.build_model(small), small, "bce_with_logits", epochs=6, progress=False)
    assert r.device.startswith("cuda") and next(r.model.parameters()).is_cuda
    assert r.history["train_loss"].iloc[-1] < 0.8 * r.history["train_loss"].iloc[0]
    p = r.predict_proba(small.X_test)
    assert isinstance(p, np.ndarray) and p.shape == small.Y_test.shape and 0 <= p.min() and p.max() <= 1
    assert metrics.evaluate(small.Y_test, p)["map"] > 0.6  # chance level is about 0.2


def test_bf16_autocast_trains_about_as_well_as_float32(small):
    runs = {amp: train.fit(models.build_model(small), small, "bce_with_logits", epochs=6, amp=amp, progress=False)
            for amp in (False, True)}
    assert runs[True].params["amp"] is True and runs[False].params["amp"] is False
    assert np.isfinite(runs[True].history["train_loss"]).all()
    maps = {amp: metrics.evaluate(small.Y_test, r.predict_proba(small.X_test))["map"] for amp, r in runs.items()}
    assert abs(maps[True] - maps[False]) < 0.05, maps


def test_same_seed_gives_identical_results_on_cuda(small):
    def run():
        r = train.fit(models.build_model(small, seed=3), small, "bce_with_logits", epochs=2, seed=3, progress=False)
        return r.history["train_loss"].to_numpy(), r.predict_proba(small.X_test)

    (loss_a, p_a), (loss_b, p_b) = run(), run()
    np.testing.assert_array_equal(loss_a, loss_b)
    np.testing.assert_array_equal(p_a, p_b)


@pytest.mark.parametrize("name", [n for n, s in losses.LOSSES.items() if not s.raises])
def test_every_trainable_setup_runs_on_cuda_with_pos_weight_on_the_device(small, name):
    setup = losses.get_loss(name)
    strategy = "neg_over_pos" if setup.accepts_pos_weight else None
    r = train.fit(models.build_model(small, output=setup.model_output), small, setup, pos_weight=strategy, epochs=1,
                  progress=False)
    assert r.device.startswith("cuda") and np.isfinite(r.history["train_loss"]).all()
    if strategy:
        assert r.pos_weight is not None and r.pos_weight.shape == (small.n_labels,)


def test_benchmark_runs_on_cuda():
    table = bench.bench("cuda", n_train=1000, epochs=1, repeats=1)
    assert set(table["device"]) == {"cuda"} and {"dataloader", "staged", "fit"} <= set(table["loop"])
    assert (table["seconds"].dropna() > 0).all()
