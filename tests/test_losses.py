"""helpers.losses: loss values against hand computations, the setups that raise, pos_weight, names."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers import losses as L


def sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


X = torch.tensor([[0.0, 2.0], [-1.0, 0.5]])
Y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])


# --- registry ------------------------------------------------------------------------------------
def test_registry_names_and_flags():
    assert list(L.LOSSES) == ["bce_with_logits", "cross_entropy", "cross_entropy_long", "bce_on_logits",
                              "double_sigmoid", "mse", "sigmoid_bce", "masked_bce", "focal", "asymmetric"]
    assert {n for n, s in L.LOSSES.items() if s.accepts_pos_weight} == {"bce_with_logits", "double_sigmoid",
                                                                       "masked_bce"}
    assert {n for n, s in L.LOSSES.items() if s.raises} == {"cross_entropy_long", "bce_on_logits"}
    assert {n for n, s in L.LOSSES.items() if s.model_output == "sigmoid"} == {"double_sigmoid", "mse",
                                                                                   "sigmoid_bce"}
    for name, setup in L.LOSSES.items():
        assert setup.name == name and setup.summary
        assert isinstance(setup.criterion(), torch.nn.Module)


def test_sigmoid_bce_is_bce_with_logits_until_float32_saturates():
    """The article's Sigmoid + BCELoss equals BCEWithLogitsLoss on moderate logits, in value and gradient, and
    parts from it where float32 sigmoid(x) rounds to 1 (BCELoss clamps the log at -100, gradient 0)."""
    s = L.get_loss("sigmoid_bce")
    x = torch.tensor([[-4.0, -0.5, 0.0, 2.0, 6.0]], requires_grad=True)
    y = torch.tensor([[0.0, 1.0, 0.0, 1.0, 0.0]])
    loss = s.criterion()(torch.sigmoid(x), y)
    ref = torch.nn.BCEWithLogitsLoss()(x, y)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    (g,) = torch.autograd.grad(loss, x)
    (g_ref,) = torch.autograd.grad(torch.nn.BCEWithLogitsLoss()(x, y), x)
    assert torch.allclose(g, g_ref, atol=1e-6)
    far = torch.tensor([[40.0]], requires_grad=True)
    sat = s.criterion()(torch.sigmoid(far), torch.zeros(1, 1))
    assert sat.item() == pytest.approx(100.0) and torch.autograd.grad(sat, far)[0].item() == 0.0
    assert torch.nn.BCEWithLogitsLoss()(far, torch.zeros(1, 1)).item() == pytest.approx(40.0)
    assert torch.equal(s.probabilities(torch.tensor([0.2, 0.9])), torch.tensor([0.2, 0.9]))


def test_get_loss_unknown_lists_valid_names():
    assert L.get_loss("focal") is L.LOSSES["focal"]
    with pytest.raises(ValueError, match="unknown loss 'bce'.*bce_with_logits, cross_entropy"):
        L.get_loss("bce")
    with pytest.raises(ValueError, match="parse_setup"):
        L.get_loss("bce_with_logits+neg_over_pos")


def test_setup_is_frozen():
    with pytest.raises(AttributeError):
        L.LOSSES["mse"].raises = True


# --- loss values by hand ---------------------------------------------------------------------------
def test_bce_with_logits_by_hand():
    terms = [math.log(2), math.log(1 + math.exp(2)), math.log(1 + math.exp(-1)), math.log(1 + math.exp(-0.5))]
    got = L.get_loss("bce_with_logits").criterion()(X, Y)
    assert float(got) == pytest.approx(sum(terms) / 4, rel=1e-6)


def test_pos_weight_scales_positive_terms_only():
    pw = torch.tensor([3.0, 0.5])
    # positives: (0, 0) in column 0 -> x3; (1, 1) in column 1 -> x0.5; negatives unchanged
    terms = [3 * math.log(2), math.log(1 + math.exp(2)), math.log(1 + math.exp(-1)),
             0.5 * math.log(1 + math.exp(-0.5))]
    got = L.get_loss("bce_with_logits").criterion(pos_weight=pw)(X, Y)
    assert float(got) == pytest.approx(sum(terms) / 4, rel=1e-6)
    # numpy pos_weight works too
    got_np = L.get_loss("bce_with_logits").criterion(pos_weight=np.array([3.0, 0.5]))(X, Y)
    assert float(got_np) == pytest.approx(float(got))


def test_pos_weight_refused_where_not_accepted():
    with pytest.raises(ValueError, match="'focal' does not accept pos_weight; only these do: "
                                         "bce_with_logits, double_sigmoid"):
        L.get_loss("focal").criterion(pos_weight=torch.ones(2))
    assert L.get_loss("double_sigmoid").criterion(pos_weight=torch.ones(2)).pos_weight is not None


def test_focal_scalar_cases_by_hand():
    crit = L.get_loss("focal").criterion()
    # x=0, t=1: p=0.5, ce=log 2, p_t=0.5, alpha_t=0.25
    assert float(crit(torch.tensor([0.0]), torch.tensor([1.0]))) == pytest.approx(0.25 * 0.5**2 * math.log(2))
    # x=2, t=0: p_t = 1 - p, so (1 - p_t) = p; ce = log(1 + e^2); alpha_t = 0.75
    p = sig(2.0)
    want_neg = 0.75 * p**2 * math.log(1 + math.exp(2))
    assert float(crit(torch.tensor([2.0]), torch.tensor([0.0]))) == pytest.approx(want_neg, rel=1e-6)
    # x=-1, t=1: p_t = p; ce = log(1 + e^1)
    p = sig(-1.0)
    want_pos = 0.25 * (1 - p) ** 2 * math.log(1 + math.e)
    assert float(crit(torch.tensor([-1.0]), torch.tensor([1.0]))) == pytest.approx(want_pos, rel=1e-6)
    # mean reduction over elements
    both = crit(torch.tensor([2.0, -1.0]), torch.tensor([0.0, 1.0]))
    assert float(both) == pytest.approx((want_neg + want_pos) / 2, rel=1e-6)
    # a negative alpha switches alpha weighting off
    no_alpha = L.sigmoid_focal_loss(torch.tensor([0.0]), torch.tensor([1.0]), alpha=-1)
    assert float(no_alpha) == pytest.approx(0.25 * math.log(2))


def test_asymmetric_by_hand_with_clip_shift():
    crit = L.get_loss("asymmetric").criterion()
    # positive x=1: -log(sig(1)) * (1 - sig(1)) ** gamma_pos (=1)
    sp = sig(1.0)
    want_pos = -math.log(sp) * (1 - sp)
    assert float(crit(torch.tensor([1.0]), torch.tensor([1.0]))) == pytest.approx(want_pos, rel=1e-6)
    # negative x=0.5: shifted xs_neg = 1 - sig(0.5) + 0.05; -log(xs_neg) * (1 - xs_neg) ** gamma_neg (=4)
    xn = 1 - sig(0.5) + 0.05
    want_neg = -math.log(xn) * (1 - xn) ** 4
    assert float(crit(torch.tensor([0.5]), torch.tensor([0.0]))) == pytest.approx(want_neg, rel=1e-6)
    # an easy negative (1 - sig(-4) + 0.05 > 1) is clamped to 1: zero loss and zero gradient
    x = torch.tensor([-4.0], requires_grad=True)
    easy = crit(x, torch.tensor([0.0]))
    easy.backward()
    assert float(easy.detach()) == 0.0 and float(x.grad) == 0.0
    # mean over elements, where the reference returns the sum
    xs, ys = torch.tensor([1.0, 0.5, -4.0]), torch.tensor([1.0, 0.0, 0.0])
    assert float(crit(xs, ys)) == pytest.approx((want_pos + want_neg) / 3, rel=1e-6)
    assert float(L.AsymmetricLoss(reduction="sum")(xs, ys)) == pytest.approx(want_pos + want_neg, rel=1e-6)


def test_asymmetric_gradient_flows_through_focusing_weight():
    # L(x) = -(1 - s) log s for a positive; dL/dx = s(1-s) log s - (1-s)^2 (the first term is the
    # focusing weight's gradient, which a no-grad weight would drop).
    x = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    L.AsymmetricLoss()(x, torch.tensor([1.0], dtype=torch.float64)).backward()
    s = sig(0.3)
    assert float(x.grad) == pytest.approx(s * (1 - s) * math.log(s) - (1 - s) ** 2, rel=1e-9)


def test_mse_on_sigmoid_outputs():
    out = torch.tensor([[0.8, 0.1], [0.4, 0.6]])
    setup = L.get_loss("mse")
    want = ((0.8 - 1) ** 2 + 0.1**2 + 0.4**2 + (0.6 - 1) ** 2) / 4
    assert float(setup.criterion()(out, Y)) == pytest.approx(want, rel=1e-6)
    assert torch.equal(setup.probabilities(out), out)


def test_cross_entropy_float_multihot_is_unnormalised():
    x = torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.5, 0.0], [2.0, 0.0, 0.0]])
    y = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    logp = torch.log_softmax(x, dim=1)
    # row 0 (two labels) counts both terms; row 2 (no label) costs nothing; mean over the 3 rows
    want = -(logp[0, 0] + logp[0, 1] + logp[1, 2]) / 3
    setup = L.get_loss("cross_entropy")
    assert float(setup.criterion()(x, setup.targets(y))) == pytest.approx(float(want), rel=1e-6)
    probs = setup.probabilities(x)
    assert torch.allclose(probs.sum(dim=1), torch.ones(3))
    assert int((probs > 0.5).sum(dim=1).max()) <= 1  # softmax can't put two labels above 0.5


# --- the setups that raise -------------------------------------------------------------------------
def test_cross_entropy_long_raises_inside_torch():
    setup = L.get_loss("cross_entropy_long")
    target = setup.targets(Y)
    assert target.dtype == torch.int64 and target.shape == Y.shape
    with pytest.raises(RuntimeError, match="Expected floating point type for target with class probabilities"):
        setup.criterion()(X, target)


def test_bce_on_logits_raises_on_cpu():
    setup = L.get_loss("bce_on_logits")
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        setup.criterion()(X, setup.targets(Y))


def test_targets_are_float_elsewhere():
    for name in ("bce_with_logits", "cross_entropy", "focal", "asymmetric", "mse", "double_sigmoid"):
        assert L.get_loss(name).targets(np.array([[1, 0]])).dtype == torch.float32


# --- double sigmoid ----------------------------------------------------------------------------------
def test_double_sigmoid_probabilities_squeezed():
    logits = torch.linspace(-50, 50, 1001)
    outputs = torch.sigmoid(logits)  # what the model with a sigmoid head emits
    probs = L.get_loss("double_sigmoid").probabilities(outputs)
    assert float(probs.min()) >= 0.5 and float(probs.max()) <= 0.7311
    assert float(probs.max()) == pytest.approx(sig(1.0), abs=1e-6)
    assert bool((probs >= 0.5).all())  # every label predicted positive at 0.5


# --- pos_weight ---------------------------------------------------------------------------------------
YT = np.array([[1, 0, 1], [1, 0, 1], [0, 1, 0], [1, 0, 0]])  # positives per label 3, 1, 2 of 4


@pytest.mark.parametrize("strategy, want", [
    ("neg_over_pos", [1 / 3, 3.0, 1.0]),
    ("sqrt_neg_over_pos", [math.sqrt(1 / 3), math.sqrt(3.0), 1.0]),
    ("max_over_count", [1.0, 3.0, 1.5]),
])
def test_compute_pos_weight_strategies(strategy, want):
    w = L.compute_pos_weight(YT, strategy)
    assert w.dtype == torch.float32 and w.shape == (3,)
    assert w.tolist() == pytest.approx(want, rel=1e-6)
    assert L.compute_pos_weight(torch.as_tensor(YT, dtype=torch.float32), strategy).tolist() == w.tolist()


def test_compute_pos_weight_none_and_unknown():
    assert L.compute_pos_weight(YT, "none") is None
    with pytest.raises(ValueError, match="unknown pos_weight strategy 'inverse'.*none, neg_over_pos"):
        L.compute_pos_weight(YT, "inverse")
    with pytest.raises(ValueError, match="0/1 labels"):
        L.compute_pos_weight(YT * 2, "neg_over_pos")
    with pytest.raises(ValueError, match=r"\(N, L\)"):
        L.compute_pos_weight(YT[:, 0], "neg_over_pos")


def test_zero_positive_labels():
    Y0 = YT.copy()
    Y0[:, 1] = 0
    with pytest.raises(ValueError, match=r"label\(s\) \[1\] have no positive.*label 1: 0 of 4.*on_empty='one'"):
        L.compute_pos_weight(Y0, "neg_over_pos")
    for strategy in ("neg_over_pos", "sqrt_neg_over_pos", "max_over_count"):
        w = L.compute_pos_weight(Y0, strategy, on_empty="one")
        assert torch.isfinite(w).all() and float(w[1]) == 1.0
    assert L.compute_pos_weight(Y0, "max_over_count", on_empty="one").tolist() == pytest.approx([1.0, 1.0, 1.5])
    with pytest.raises(ValueError, match="on_empty"):
        L.compute_pos_weight(YT, "neg_over_pos", on_empty="skip")


# --- names ------------------------------------------------------------------------------------------
def test_setup_name_and_parse_round_trip():
    assert L.setup_name("bce_with_logits") == "bce_with_logits"
    assert L.setup_name("bce_with_logits", "neg_over_pos") == "bce_with_logits+neg_over_pos"
    for loss_name, setup in L.LOSSES.items():
        strategies = L.POS_WEIGHT_STRATEGIES if setup.accepts_pos_weight else ("none",)
        for strategy in strategies:
            assert L.parse_setup(L.setup_name(loss_name, strategy)) == (loss_name, strategy)


def test_setup_name_validation():
    with pytest.raises(ValueError, match="'focal' does not accept pos_weight"):
        L.setup_name("focal", "neg_over_pos")
    with pytest.raises(ValueError, match="'mse' does not accept pos_weight"):
        L.parse_setup("mse+sqrt_neg_over_pos")
    with pytest.raises(ValueError, match="unknown pos_weight strategy"):
        L.parse_setup("bce_with_logits+balanced")
    with pytest.raises(ValueError, match="unknown loss"):
        L.parse_setup("bce+neg_over_pos")


# --- masked BCE (partial labels) -------------------------------------------------------------------
def test_masked_bce_equals_bce_on_known_targets():
    pw = torch.tensor([3.0, 0.5])
    for weight in (None, pw):
        ref = torch.nn.BCEWithLogitsLoss(pos_weight=weight)(X, Y)
        got = L.get_loss("masked_bce").criterion(pos_weight=weight)(X, Y)
        assert float(got) == pytest.approx(float(ref), rel=1e-6)


def test_masked_bce_ignores_unknown_entries():
    Yp = Y.clone()
    Yp[0, 1] = L.UNKNOWN  # the (0, 1) entry: logit 2, target 0 -> left out
    terms = [math.log(2), math.log(1 + math.exp(-1)), math.log(1 + math.exp(-0.5))]
    assert float(L.masked_bce_with_logits(X, Yp)) == pytest.approx(sum(terms) / 3, rel=1e-6)
    x = X.clone().requires_grad_(True)
    L.MaskedBCEWithLogitsLoss()(x, Yp).backward()
    assert x.grad[0, 1] == 0 and (x.grad[Yp != L.UNKNOWN] != 0).all()
    assert float(L.masked_bce_with_logits(X, torch.full_like(Y, L.UNKNOWN))) == 0.0
    assert L.masked_bce_with_logits(X, Yp, reduction="none").shape == X.shape
    assert float(L.masked_bce_with_logits(X, Yp, reduction="sum")) == pytest.approx(sum(terms), rel=1e-6)


def test_masked_bce_refuses_other_targets():
    with pytest.raises(ValueError, match="0, 1 or -1"):
        L.masked_bce_with_logits(X, torch.tensor([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="same shape"):
        L.masked_bce_with_logits(X, Y[:1])
    assert isinstance(L.MaskedBCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss)
