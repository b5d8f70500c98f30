"""helpers.sampling (notebook 09): rarest-label row weights, the seeded WeightedRandomSampler, effective
label frequencies, and the +oversample setup of helpers.many_labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import data as D
from helpers import many_labels as M
from helpers import sampling, train

# label 0 in 3 rows, label 1 in 1 row (with label 0), label 2 in 2 rows; the last row has no label
Y = np.array([[1, 1, 0], [1, 0, 0], [1, 0, 1], [0, 0, 1], [0, 0, 0]])


def test_rarest_label_weights_by_hand():
    w = sampling.rarest_label_weights(Y)
    # row 0: rarest is label 1 (1 positive); row 1: label 0 (3); rows 2, 3: label 2 (2); row 4: no label -> 1/3
    assert w.tolist() == pytest.approx([1.0, 1 / 3, 1 / 2, 1 / 2, 1 / 3])


def test_effective_frequency_plain_and_weighted():
    assert sampling.effective_frequency(Y).tolist() == pytest.approx(Y.mean(axis=0).tolist())
    w = sampling.rarest_label_weights(Y)
    total = w.sum()
    expected = [(w[0] + w[1] + w[2]) / total, w[0] / total, (w[2] + w[3]) / total]
    assert sampling.effective_frequency(Y, w).tolist() == pytest.approx(expected)


def test_frequent_label_rides_along_with_rare_rows():
    # the frequent label 0 sits in every rare label's rows: oversampling barely lowers its share
    rng = np.random.default_rng(0)
    Yc = np.zeros((400, 6))
    Yc[:, 0] = 1
    for j in range(1, 6):
        Yc[rng.choice(400, size=2 * j, replace=False), j] = 1
    f_plain, f_over = sampling.effective_frequency(Yc), sampling.effective_frequency(Yc, sampling.rarest_label_weights(Yc))
    assert f_plain[0] == 1.0 and f_over[0] == pytest.approx(1.0)  # still in every drawn row
    assert (f_over[1:] > 5 * f_plain[1:]).all()
    # without co-occurrence (one label per row) the frequent label's share falls
    Ys = np.zeros((100, 2))
    Ys[:90, 0], Ys[90:, 1] = 1, 1
    assert sampling.effective_frequency(Ys, sampling.rarest_label_weights(Ys))[0] == pytest.approx(0.5)


def test_sampler_is_seeded_and_draws_n_rows():
    a, b, c = (list(sampling.sampler(Y, seed=s)) for s in (3, 3, 4))
    assert a == b and len(a) == len(Y) and set(a) <= set(range(len(Y)))
    assert len(list(sampling.sampler(Y, seed=3, num_samples=50))) == 50
    assert isinstance(sampling.sampler(Y), torch.utils.data.WeightedRandomSampler)
    assert a != c or list(sampling.sampler(Y, seed=5)) != a


@pytest.mark.parametrize("bad, match", [(np.zeros(3), "non-empty"), (np.zeros((2, 3)), "no positive"),
                                        (np.array([[1, -1]]), "only 0 and 1")])
def test_bad_labels_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        sampling.rarest_label_weights(bad)


def test_bad_weights_refused():
    with pytest.raises(ValueError, match="weights must be"):
        sampling.effective_frequency(Y, np.ones(3))


def test_oversample_setup_parsed_and_trained_on_the_sampler(monkeypatch):
    assert M.parse("bce_with_logits+oversample") == ("bce_with_logits", False)
    assert M.parse("bce_with_logits+oversample+prior_bias") == ("bce_with_logits", True)
    assert M.oversampled("bce_with_logits+prior_bias+oversample") and not M.oversampled("bce_with_logits+prior_bias")
    with pytest.raises(ValueError):
        M.parse("bce_with_logits+oversample+oversample")
    seen = {}
    real_fit = train.fit.__wrapped__ if hasattr(train.fit, "__wrapped__") else train.fit

    def spy(*a, **kw):
        seen["sampler"] = kw.get("sampler")
        return real_fit(*a, **kw)

    monkeypatch.setattr(M.train_mod, "fit", spy)
    d = D.make_many_label_scenes(20, 200, 50, 50, seed=0)
    M.fit_setup(d, "bce_with_logits+oversample", epochs=1, seed=0, device="cpu", progress=False)
    assert isinstance(seen["sampler"], torch.utils.data.WeightedRandomSampler)
    M.fit_setup(d, "bce_with_logits", epochs=1, seed=0, device="cpu", progress=False)
    assert seen["sampler"] is None


def test_fit_takes_each_epochs_rows_from_the_sampler():
    d = D.make_many_label_scenes(20, 200, 50, 50, seed=0, drop_empty_labels=True)

    class Rows:  # a sampler that counts its epochs
        epochs = 0

        def __iter__(self):
            Rows.epochs += 1
            return iter([0, 1] * 16)

    r = train.fit(M.models_mod.build_model(d, seed=0), d, epochs=2, batch_size=8, seed=0, device="cpu",
                  progress=False, sampler=Rows(), lr=1e-12)
    assert Rows.epochs == 2 and len(r.history) == 2
    # every batch is rows [0, 1, 0, 1, ...]: with lr ~0 the epoch's loss is that batch's (train mode, as fit)
    model = M.models_mod.build_model(d, seed=0).train()
    idx = torch.as_tensor([0, 1] * 4)
    with torch.no_grad():
        want = float(torch.nn.BCEWithLogitsLoss()(model(torch.as_tensor(d.X_train)[idx]), torch.as_tensor(d.Y_train)[idx]))
    assert r.history["train_loss"].iloc[0] == pytest.approx(want, rel=1e-4)


def _table(setups, seeds, base, effects, thresholds=("0.5", "tuned"), metrics=("macro_f1", "map")):
    rng = np.random.default_rng(0)
    rows = []
    for s in seeds:
        noise = rng.normal(0, 0.002)
        for k in setups:
            for t in thresholds:
                rows.append({"status": "ok", "seed": s, "setup": k, "threshold": t,
                             **{m: base + effects.get(k, 0.0) + noise + rng.normal(0, 0.001) for m in metrics}})
    import pandas as pd

    return pd.DataFrame(rows)
