"""helpers.finetune: the pretrained backbone's save/load, the heads, and each switch of the fine-tuning loop."""

import copy

import numpy as np
import pytest
import torch

from helpers import finetune as ft
from helpers.data import make_scenes


@pytest.fixture(scope="module")
def scenes():
    return make_scenes(120, 60, 60, objects=3, seed=0)


@pytest.fixture(scope="module")
def single():
    return make_scenes(200, 60, 20, objects=(1, 1), seed=0)


def _net(d, init="zero_prior", seed=0):
    return ft.Net(ft.build_backbone(d.input_shape, features=16, seed=seed),
                  ft.new_head(16, d.n_labels, init=init, Y_train=d.Y_train, seed=seed))


def test_backbone_features_are_non_negative(scenes):
    f = ft.build_backbone(scenes.input_shape, features=16)(torch.as_tensor(scenes.X_train[:8]))
    assert f.shape == (8, 16) and bool((f >= 0).all())


def test_zero_prior_head_starts_at_the_prior(scenes):
    head = ft.new_head(16, 10, init="zero_prior", Y_train=scenes.Y_train).eval()
    p = scenes.Y_train.mean(0)
    out = head(torch.rand(5, 16) * 10)
    assert torch.allclose(torch.sigmoid(out), torch.as_tensor(p, dtype=torch.float32).expand(5, -1), atol=1e-5)


def test_new_head_rejects_bad_init(scenes):
    with pytest.raises(ValueError, match="init="):
        ft.new_head(16, 10, init="xavier")
    with pytest.raises(ValueError, match="Y_train"):
        ft.new_head(16, 10, init="zero_prior")


def test_save_and_load_roundtrip(tmp_path, scenes):
    bb = ft.build_backbone(scenes.input_shape, features=16, seed=3)
    path = ft.save_backbone(bb, tmp_path)
    back = ft.load_backbone(path, scenes.input_shape, features=16)
    for (k, a), (k2, b) in zip(bb.state_dict().items(), back.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b)
    with pytest.raises(FileNotFoundError, match="no saved backbone"):
        ft.load_backbone(tmp_path / "missing.pt", scenes.input_shape)


def test_normalise_uses_given_stats(scenes):
    mean, std = ft.normalisation(scenes.X_train)
    dn = ft.normalise(scenes, mean, std)
    assert abs(float(dn.X_train.mean())) < 1e-4 and abs(float(dn.X_train.std()) - 1) < 1e-3
    with pytest.raises(ValueError, match="constant"):
        ft.normalisation(np.zeros((3, 4)))


def test_pretrain_needs_single_label(scenes, single):
    with pytest.raises(ValueError, match="single-label"):
        ft.pretrain(scenes, epochs=1, features=16, device="cpu")
    bb, hist = ft.pretrain(single, epochs=1, features=16, device="cpu")
    assert isinstance(bb, ft.Backbone) and list(hist.columns) == ["epoch", "train_loss", "val_accuracy"]


def test_frozen_backbone_weights_fixed_and_bn_switch(scenes):
    net = _net(scenes)
    w0 = copy.deepcopy(net.backbone.state_dict())
    fixed = ft.finetune(copy.deepcopy(net), scenes, epochs=1, freeze=True, backbone_bn="eval", device="cpu",
                        monitor=False)
    drift = ft.finetune(copy.deepcopy(net), scenes, epochs=1, freeze=True, backbone_bn="train", device="cpu",
                        monitor=False)
    for k, v in w0.items():  # eval mode: nothing of the backbone moves, statistics included
        assert torch.equal(fixed.model.backbone.state_dict()[k].cpu(), v)
    assert fixed.history["bn_drift"].iloc[-1] == 0
    assert drift.history["bn_drift"].iloc[-1] > 0  # train mode: the running statistics move
    weights = [k for k in w0 if "running" not in k and "num_batches" not in k]
    assert all(torch.equal(drift.model.backbone.state_dict()[k].cpu(), w0[k]) for k in weights)


def test_param_groups_learning_rates(scenes):
    net = _net(scenes)
    # two epochs: the zero-initialised head passes no gradient to the backbone on the first step
    one = ft.finetune(copy.deepcopy(net), scenes, epochs=2, batch_size=64, backbone_lr=3e-3, device="cpu", monitor=False)
    two = ft.finetune(copy.deepcopy(net), scenes, epochs=2, batch_size=64, device="cpu", monitor=False)
    assert one.switches["backbone_lr"] == 3e-3 and two.switches["backbone_lr"] == pytest.approx(3e-4)
    assert not torch.equal(one.model.backbone[0].weight, two.model.backbone[0].weight)


def test_validation_without_eval_trains_the_same_weights(scenes):
    net = _net(scenes)
    ok = ft.finetune(copy.deepcopy(net), scenes, epochs=2, device="cpu", monitor=False)
    bad = ft.finetune(copy.deepcopy(net), scenes, epochs=2, eval_validation=False, device="cpu", monitor=False)
    for (k, a), b in zip(ok.model.state_dict().items(), bad.model.state_dict().values(), strict=True):
        if "running" not in k and "num_batches" not in k:
            assert torch.equal(a, b), k
    assert not ok.history["val_map"].equals(bad.history["val_map"])
    # reading in train mode leaves the model untouched
    before = copy.deepcopy(ok.model.state_dict())
    ok.predict_proba(scenes.X_val, eval_mode=False)
    assert all(torch.equal(before[k], v) for k, v in ok.model.state_dict().items())


def test_judge_and_first_losses(scenes):
    r = ft.finetune(_net(scenes), scenes, epochs=1, device="cpu")
    j = ft.judge(r, scenes)
    assert set(j) >= {"tuned_macro_f1", "map", "macro_f1_at_0.5"} and 0 <= j["map"] <= 1
    bb = ft.build_backbone(scenes.input_shape, features=16)
    heads = {h: ft.new_head(16, 10, init=h, Y_train=scenes.Y_train) for h in ft.HEAD_INIT}
    fl = ft.first_losses(bb, scenes, heads)
    assert fl["zero_prior"] == pytest.approx(fl["prior predictor"], abs=1e-5) and fl["feature_min"] >= 0


def test_finetune_rejects_bad_switches(scenes):
    with pytest.raises(ValueError, match="backbone_bn"):
        ft.finetune(_net(scenes), scenes, backbone_bn="frozen")
    with pytest.raises(ValueError, match="lr > 0"):
        ft.finetune(_net(scenes), scenes, lr=0)
