"""Tests for helpers.diagnose: one broken setup per code, a clean setup with no warnings, and the
promises check_setup makes (caller's objects untouched, RNG restored, fast, printable, JSON)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.diagnose import CODE_SEVERITIES, CODE_TABLE, CODES, Finding, Report, check_setup

N, D, L = 96, 12, 6


def make_data(n: int = N, rate: float = 0.3, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardized features and multi-hot targets that depend on them (several labels per row)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, D, generator=g)
    z = x @ torch.randn(D, L, generator=g) / D**0.5 + 0.5 * torch.randn(n, L, generator=g)
    y = (z > torch.quantile(z, 1 - rate, dim=0)).float()
    return x, y


def mlp(*head: nn.Module, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(D, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, L), *head)


def small_cnn(n_labels: int = L) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, n_labels),
    )


X, Y = make_data()
Y_TRAIN = make_data(n=1000, seed=2)[1]


def check(model=None, criterion=None, x=None, y=None, **kw) -> Report:
    kw.setdefault("train_targets", Y_TRAIN)
    return check_setup(model if model is not None else mlp(), criterion or nn.BCEWithLogitsLoss(),
                       X if x is None else x, Y if y is None else y, **kw)


def assert_finding(report: Report, code: str, severity: str) -> Finding:
    found = [f for f in report if f.code == code]
    assert found, f"{code} not reported; got:\n{report}"
    assert severity in {f.severity for f in found}, f"{code} has severity {[f.severity for f in found]}:\n{report}"
    return next(f for f in found if f.severity == severity)


# --- the clean setup ------------------------------------------------------------------------------


def test_clean_setup_has_no_warnings_or_errors():
    assert (Y.sum(1) >= 2).float().mean() > 0.3  # several labels per row
    report = check()
    assert report.ok
    assert [f for f in report if f.severity != "info"] == [], str(report)
    assert report.facts["probe_loss_after"] < report.facts["probe_loss_before"]


def test_clean_setup_with_the_users_optimizers():
    for make_opt in (lambda p: torch.optim.Adam(p, lr=1e-3), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
                     lambda p: torch.optim.AdamW([{"params": p, "lr": 3e-3, "weight_decay": 0.01}])):
        model = mlp()
        report = check(model, optimizer=make_opt(model.parameters()))
        assert [f for f in report if f.severity != "info"] == [], str(report)


def test_the_table_documents_every_code_once():
    assert len(CODES) >= 25
    for code, severities in CODE_SEVERITIES.items():
        assert CODE_TABLE.count(f"\n{code} ") == 1
        assert set(severities) <= {"error", "warning", "info"} and CODES[code]
    import helpers.diagnose as diagnose

    assert CODE_TABLE in diagnose.__doc__


def test_the_table_states_the_thresholds_in_use():
    import helpers.diagnose as d

    table = " ".join(r.doc for r in d.RULES.values())  # the rules' docs, which the table is generated from
    for text in (f"< {d.RARE_MIN_COUNT} positives", f"rate < {d.RARE_MIN_RATE:.1%}", f"> {d.INIT_LOSS_RATIO:g}x",
                 f"std > {d.LOGIT_STD_MAX:g}", f"but > {d.POS_WEIGHT_MAX:g}", f"by < {d.PROBE_MIN_DECREASE:.1%}",
                 f"< {d.COLLAPSE_LOW:.0%} or > {d.COLLAPSE_HIGH:.0%}",
                 f"[{d.COLLAPSE_TRUE_RANGE[0]:.0%}, {d.COLLAPSE_TRUE_RANGE[1]:.0%}]", f"> {d.BIAS_INIT_RATIO:g}x",
                 f"lr > {d.LR_MAX_ADAPTIVE:g}", f"> {d.LR_MAX_SGD:g} for SGD"):
        assert text in table, text


# --- one broken setup per code ---------------------------------------------------------------------


def test_target_dtype_long_targets_for_bce_with_logits():
    f = assert_finding(check(y=Y.long()), "TARGET_DTYPE", "error")
    assert "torch.int64" in f.message and f.fix == "targets = targets.float()"
    assert_finding(check(y=Y.bool()), "TARGET_DTYPE", "error")


def test_article_cross_entropy_with_long_one_hot_targets():
    # the popular article: nn.CrossEntropyLoss()(logits, multi_hot.long()) raises inside torch
    with pytest.raises(RuntimeError):
        nn.CrossEntropyLoss()(mlp()(X), Y.long())
    report = check(criterion=nn.CrossEntropyLoss(), y=Y.long())
    f = assert_finding(report, "TARGET_DTYPE", "error")
    assert "(96, 6)" in f.message and "BCEWithLogitsLoss" in f.fix
    assert_finding(report, "SOFTMAX_ON_MULTILABEL", "error")
    assert not report.ok


def test_target_dtype_float_targets_for_nll_and_int_targets_for_mse():
    assert_finding(check(mlp(nn.LogSoftmax(dim=1)), nn.NLLLoss()), "TARGET_DTYPE", "error")
    assert_finding(check(mlp(nn.Sigmoid()), nn.MSELoss(), y=Y.long()), "TARGET_DTYPE", "warning")


def test_target_not_binary():
    f = assert_finding(check(y=Y * 2 - 1), "TARGET_NOT_BINARY", "error")  # -1/+1 encoding
    assert "-1" in f.message and "(targets + 1) / 2" in f.message
    assert_finding(check(y=Y * 0.9 + 0.05), "TARGET_NOT_BINARY", "warning")  # label smoothing


def test_shape_mismatch_outputs_vs_targets():
    f = assert_finding(check(y=torch.cat([Y, Y[:, :1]], 1), train_targets=None), "SHAPE_MISMATCH", "error")
    assert "(96, 6)" in f.message and "(96, 7)" in f.message
    torch.manual_seed(0)
    one = nn.Sequential(nn.Linear(D, 1))  # (N, 1) outputs against (N,) targets: MSE broadcasts to (N, N)
    assert_finding(check(one, nn.MSELoss(), y=Y[:, 0], train_targets=None), "SHAPE_MISMATCH", "error")


def test_shape_mismatch_batch_sizes_is_a_finding_not_an_exception():
    report = check(y=Y[:32])
    f = assert_finding(report, "SHAPE_MISMATCH", "error")
    assert "96 rows" in f.message and "32" in f.message
    assert report.codes.count("SHAPE_MISMATCH") == 1
    # the model still runs, so its own mistakes are reported too
    assert_finding(check(mlp(nn.Sigmoid()), y=Y[:32]), "DOUBLE_SIGMOID", "error")
    torch.manual_seed(0)
    report = check(nn.Linear(D + 1, L), y=Y[:32])  # and a model that raises is a finding as well
    assert {"SHAPE_MISMATCH", "MODEL_ERROR"} <= set(report.codes)


def test_softmax_on_multilabel():
    f = assert_finding(check(criterion=nn.CrossEntropyLoss()), "SOFTMAX_ON_MULTILABEL", "error")
    assert "2 or more positive labels" in f.message and "BCEWithLogitsLoss" in f.fix
    assert_finding(check(mlp(nn.Softmax(dim=1)), nn.BCELoss()), "SOFTMAX_ON_MULTILABEL", "error")


def test_double_sigmoid_final_module_and_functional():
    f = assert_finding(check(mlp(nn.Sigmoid())), "DOUBLE_SIGMOID", "error")
    assert "(0.5, 0.731)" in f.message and "nn.Sigmoid" in f.message

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = mlp()

        def forward(self, x):
            return torch.sigmoid(self.body(x))  # no Sigmoid module: detected from the values

    f = assert_finding(check(Net()), "DOUBLE_SIGMOID", "error")
    assert "lie in [0, 1]" in f.message


def test_no_double_sigmoid_on_small_logits_from_a_final_linear():
    # a ResNet-shaped head (ReLU, average pool, Linear) whose initial logits all happen to fall in
    # [0, 1]: the last layer is affine, so they are logits, not probabilities
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(D, 16), nn.ReLU(), nn.Linear(16, L))
    with torch.no_grad():
        model[2].weight.uniform_(0.0, 0.02)
        model[2].bias.fill_(0.3)
    out = model(X)
    assert 0 < out.min() and out.max() < 1  # the range alone would read as sigmoid outputs
    report = check(model)
    assert "DOUBLE_SIGMOID" not in report and "LOGITS_NONNEGATIVE" not in report, report
    assert report.facts["output_form"] == "logits"


def test_probs_expected_after_a_final_relu_under_bce_loss():
    # ReLU outputs that happen to lie in [0, 1) are accepted by BCELoss, but they are not probabilities
    model = mlp(nn.ReLU())
    with torch.no_grad():
        model[3].weight.mul_(0.01)
    assert model(X).max() < 1
    f = assert_finding(check(model, nn.BCELoss()), "PROBS_EXPECTED", "error")
    assert "nn.ReLU" in f.message and "Sigmoid" in f.fix
    assert "PROBS_EXPECTED" not in check(mlp(nn.Sigmoid()), nn.BCELoss())


def test_logits_nonnegative_after_final_relu():
    assert_finding(check(mlp(nn.ReLU())), "LOGITS_NONNEGATIVE", "error")


def test_probs_expected_for_bce_loss_on_logits():
    report = check(criterion=nn.BCELoss())
    f = assert_finding(report, "PROBS_EXPECTED", "error")
    assert "range over [" in f.message
    assert_finding(report, "LOSS_ERROR", "error")  # torch raises; the message quotes it


def test_article_pos_weight_from_a_batch_with_an_absent_label():
    # the popular article: pos_weight = max(count) / count, computed on a batch where a label is absent
    y = Y.clone()
    y[:, 2] = 0
    counts = y.sum(0)
    criterion = nn.BCEWithLogitsLoss(pos_weight=counts.max() / counts)
    report = check(criterion=criterion, y=y)
    f = assert_finding(report, "POS_WEIGHT_INVALID", "error")
    assert "label 2" in f.message and "inf" in f.message
    assert_finding(report, "BATCH_TOO_SMALL", "info")


def test_pos_weight_wrong_shape_nonpositive_huge_and_device():
    assert_finding(check(criterion=nn.BCEWithLogitsLoss(pos_weight=torch.ones(L + 2))), "POS_WEIGHT_INVALID", "error")
    pw = torch.ones(L)
    pw[1] = 0
    assert_finding(check(criterion=nn.BCEWithLogitsLoss(pos_weight=pw)), "POS_WEIGHT_INVALID", "error")
    assert_finding(check(criterion=nn.BCEWithLogitsLoss(pos_weight=torch.full((L,), 500.0))),
                   "POS_WEIGHT_INVALID", "warning")
    f = assert_finding(check(criterion=nn.BCEWithLogitsLoss(pos_weight=torch.ones(L, device="meta"))),
                       "POS_WEIGHT_INVALID", "error")
    assert "meta" in f.message


def test_loss_at_init_unnormalized_inputs():
    report = check(x=X * 200 + 128)  # raw 0-255-like features
    f = assert_finding(report, "LOSS_AT_INIT", "warning")
    assert "not normalized" in f.message and "std" in f.fix


def test_no_learning_frozen_parameters():
    model = mlp()
    for p in model.parameters():
        p.requires_grad_(False)
    f = assert_finding(check(model), "NO_LEARNING", "error")
    assert "frozen" in f.message and "requires_grad_(True)" in f.fix
    assert all(not p.requires_grad for p in model.parameters())  # the caller's model is untouched


def test_no_learning_detached_outputs():
    class Detached(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = mlp()

        def forward(self, x):
            return self.body(x).detach()

    f = assert_finding(check(Detached()), "NO_LEARNING", "error")
    assert "grad_fn" in f.message and "detach" in f.message


def test_no_learning_loss_breaks_the_graph_or_ignores_the_parameters():
    f = assert_finding(check(criterion=lambda out, y: F.binary_cross_entropy_with_logits(out.detach(), y)),
                       "NO_LEARNING", "error")
    assert "criterion breaks the graph" in f.message
    w = torch.zeros(1, requires_grad=True)
    f = assert_finding(check(criterion=lambda out, y: F.binary_cross_entropy_with_logits(out.detach() + w, y)),
                       "NO_LEARNING", "error")
    assert "does not depend on the model's parameters" in f.message


def test_no_learning_zero_gradients_and_zero_lr():
    class Rounded(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = mlp()

        def forward(self, x):
            return torch.round(self.body(x) * 4)

    f = assert_finding(check(Rounded()), "NO_LEARNING", "error")
    assert "exactly zero" in f.message
    model = mlp()
    f = assert_finding(check(model, optimizer=torch.optim.SGD(model.parameters(), lr=0.0)), "NO_LEARNING", "error")
    assert "lr is 0" in f.message and re.search(r"\(0\.6\d+ -> 0\.6\d+\)", f.message)  # loss before/after


def test_no_learning_maximize():
    model = mlp()
    f = assert_finding(check(model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1, maximize=True)),
                       "NO_LEARNING", "error")
    assert "maximize=True" in f.message


def test_no_learning_optimizer_of_another_model_and_tiny_lr():
    model = mlp()
    f = assert_finding(check(model, optimizer=torch.optim.Adam(mlp().parameters())), "NO_LEARNING", "error")
    assert "none of the model's" in f.message
    assert_finding(check(model, optimizer=torch.optim.SGD(model.parameters(), lr=1e-5)), "NO_LEARNING", "warning")


def test_optimizer_params_missing_layer():
    model = mlp()
    report = check(model, optimizer=torch.optim.Adam(model[0].parameters(), lr=1e-3))
    f = assert_finding(report, "OPTIMIZER_PARAMS", "warning")
    assert "3.weight" in f.message


def test_learning_rate_too_large():
    model = mlp()
    f = assert_finding(check(model, optimizer=torch.optim.Adam(model.parameters(), lr=5.0)), "LEARNING_RATE",
                       "warning")
    assert "lr=5" in f.message


def test_high_sgd_lr_that_the_probe_bears_out_is_info():
    # SGD at lr 3 with BCEWithLogitsLoss (a per-logit gradient of (p - y) / (N L)) trains: the probe at
    # that lr lowers the loss steadily, so the rule of thumb is a note, not a warning
    model = mlp()
    report = check(model, optimizer=torch.optim.SGD(model.parameters(), lr=3.0))
    f = assert_finding(report, "LEARNING_RATE", "info")
    assert "lowered the loss steadily" in f.message and f.message.count("Next: notebook") == 1
    assert not report.by_severity("warning"), report


def test_high_sgd_lr_stays_a_warning_when_the_probe_loss_rises():
    # the same lr on a cross-entropy head overshoots: the probe's loss climbs above its start first
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(D, 30), nn.Sigmoid(), nn.Linear(30, 4))
    report = check_setup(model, nn.CrossEntropyLoss(), X, X[:, :4].argmax(1),
                         optimizer=torch.optim.SGD(model.parameters(), lr=3.0))
    assert_finding(report, "LEARNING_RATE", "warning")


def test_collapsed_predictions():
    model = mlp()
    with torch.no_grad():
        model[3].bias.fill_(8.0)  # every label predicted present, though 30% are
    report = check(model)
    f = assert_finding(report, "COLLAPSED_PREDICTIONS", "warning")
    assert "100.0%" in f.message and "after the 20-step probe" in f.message
    with torch.no_grad():
        model[3].bias.fill_(-8.0)  # every label absent: the majority side, normal early on
    assert_finding(check(model, probe_steps=0), "COLLAPSED_PREDICTIONS", "info")


def test_no_collapse_warning_for_small_init_logits_on_one_side():
    # a correct setup whose untrained logits all fall a little above 0 (every label predicted present,
    # though 30% are): near the 0.5 boundary that is the draw of the init, not a push
    model = mlp()
    with torch.no_grad():
        model[3].weight.mul_(0.01)
        model[3].bias.fill_(0.3)
    report = check(model, probe_steps=0)
    f = assert_finding(report, "COLLAPSED_PREDICTIONS", "info")
    assert "near the 0.5 boundary" in f.message and not report.by_severity("warning"), report


def test_constant_output_zero_init():
    model = mlp()
    for m in model:
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)
    assert_finding(check(model), "CONSTANT_OUTPUT", "warning")


def test_sigmoid_then_bce_loss_is_info_when_nothing_saturates():
    # a valid setup that trains: no warning, only a note with the fix
    report = check(mlp(nn.Sigmoid()), nn.BCELoss())
    f = assert_finding(report, "SIGMOID_THEN_BCELOSS", "info")
    assert report.ok and not report.by_severity("warning"), report
    assert "BCEWithLogitsLoss" in f.fix


def test_sigmoid_then_bce_loss_warns_when_pre_sigmoid_values_saturate():
    report = check(mlp(nn.Sigmoid()), nn.BCELoss(), x=X * 200)
    f = assert_finding(report, "SIGMOID_THEN_BCELOSS", "warning")
    assert "pre-sigmoid values" in f.message and report.ok


def test_sigmoid_then_bce_loss_warns_in_half_precision():
    report = check(mlp(nn.Sigmoid()).to(torch.bfloat16), nn.BCELoss(), x=X.to(torch.bfloat16))
    f = assert_finding(report, "SIGMOID_THEN_BCELOSS", "warning")
    assert "bfloat16" in f.message


def test_mse_for_classification():
    assert_finding(check(mlp(nn.Sigmoid()), nn.MSELoss()), "MSE_FOR_CLASSIFICATION", "warning")


def test_empty_and_rare_labels_in_train_targets():
    tt = Y_TRAIN.clone()
    tt[:, 1] = 0
    tt[:, 4] = 0
    tt[:3, 4] = 1
    report = check(train_targets=tt)
    f = assert_finding(report, "EMPTY_LABEL", "warning")
    assert "label 1 never positive" in f.message and "inf" in f.message
    f = assert_finding(report, "RARE_LABEL", "warning")
    assert "4 (3)" in f.message and "332.3" in f.message  # pos_weight = 997 / 3


def test_no_train_targets_info():
    assert_finding(check(train_targets=None), "NO_TRAIN_TARGETS", "info")


def test_batch_too_small():
    x, y = X[:8], Y[:8].clone()
    y[:, 0] = 0
    f = assert_finding(check(mlp(), x=x, y=y), "BATCH_TOO_SMALL", "info")
    assert "label 0" in f.message


def test_non_finite_inputs_and_loss():
    x = X.clone()
    x[0, 0] = float("nan")
    f = assert_finding(check(x=x), "NON_FINITE", "error")
    assert "1 NaN" in f.message


def test_loss_reduction():
    # a non-scalar loss: backward() raises, so it is an error (issue 11), not a note
    f = assert_finding(check(criterion=nn.BCEWithLogitsLoss(reduction="none")), "LOSS_REDUCTION", "error")
    assert "(96, 6)" in f.message and "scalar" in f.message
    f = assert_finding(check(criterion=nn.BCEWithLogitsLoss(reduction="sum")), "LOSS_REDUCTION", "info")
    assert "576" in f.message  # N * L elements


def test_model_in_eval():
    model = mlp().eval()
    assert_finding(check(model), "MODEL_IN_EVAL", "info")
    assert not model.training


def test_bias_init_on_sparse_labels():
    x, y = make_data(rate=0.05)
    assert_finding(check(x=x, y=y, train_targets=None), "BIAS_INIT", "info")


def test_model_error_is_a_finding():
    torch.manual_seed(0)
    wrong = nn.Sequential(nn.Linear(D + 3, L))
    f = assert_finding(check(wrong), "MODEL_ERROR", "error")
    assert "mat1 and mat2" in f.message and "in_features" in f.fix


def test_loss_error_from_a_callable():
    def bad_loss(out, y):
        raise ValueError("boom")

    f = assert_finding(check(criterion=bad_loss), "LOSS_ERROR", "error")
    assert "ValueError: boom" in f.message


def test_input_dtype_float64():
    report = check(x=X.double())
    f = assert_finding(report, "INPUT_DTYPE", "error")
    assert "torch.float64" in f.message
    assert "MODEL_ERROR" not in report  # the other checks ran on a float32 copy


def test_loss_unknown_and_lambda_recognition():
    def focal(out, y):
        p = torch.sigmoid(out)
        return (-(y * (1 - p) ** 2 * torch.log(p + 1e-6)) - (1 - y) * p**2 * torch.log(1 - p + 1e-6)).mean()

    assert_finding(check(criterion=focal), "LOSS_UNKNOWN", "info")
    # a lambda calling F.binary_cross_entropy_with_logits is recognized, so DOUBLE_SIGMOID still works
    report = check(mlp(nn.Sigmoid()), lambda out, y: F.binary_cross_entropy_with_logits(out, y))
    assert_finding(report, "DOUBLE_SIGMOID", "error")
    assert "treated as BCEWithLogitsLoss" in report.facts["loss"]


def test_output_not_tensor():
    class HF(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = mlp()

        def forward(self, x):
            return {"logits": self.body(x), "hidden": x}

    report = check(HF(), lambda out, y: F.binary_cross_entropy_with_logits(out["logits"], y))
    assert_finding(report, "OUTPUT_NOT_TENSOR", "info")


def test_single_label_targets():
    assert_finding(check(criterion=nn.CrossEntropyLoss(), y=Y.argmax(1), train_targets=None),
                   "SINGLE_LABEL_TARGETS", "info")
    one_hot = F.one_hot(Y.argmax(1), L).float()
    report = check(criterion=nn.CrossEntropyLoss(), y=one_hot, train_targets=None)
    assert_finding(report, "SINGLE_LABEL_TARGETS", "info")
    assert report.ok and "SOFTMAX_ON_MULTILABEL" not in report and "COLLAPSED_PREDICTIONS" not in report


# --- promises ---------------------------------------------------------------------------------------


def test_callers_objects_and_rng_are_untouched():
    model = small_cnn()
    x = torch.randn(64, 1, 16, 16)
    y = make_data(n=64)[1]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    F.binary_cross_entropy_with_logits(model(x), y).backward()
    opt.step()  # the optimizer has state (exp_avg...) and the parameters have .grad
    model.eval()
    params = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    opt_state = {k: {kk: vv.clone() if torch.is_tensor(vv) else vv for kk, vv in s.items()}
                 for k, s in opt.state_dict()["state"].items()}
    opt_groups = json.dumps(opt.state_dict()["param_groups"])
    x0, y0 = x.clone(), y.clone()
    criterion = nn.BCEWithLogitsLoss(pos_weight=torch.full((L,), 2.0))
    rng = torch.get_rng_state()
    threads = torch.get_num_threads()

    report = check_setup(model, criterion, x, y, optimizer=opt, train_targets=y)

    assert torch.get_num_threads() == threads

    assert "MODEL_IN_EVAL" in report.codes
    assert torch.equal(torch.get_rng_state(), rng)
    assert not model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, params[k]), k
    for p, g in zip(model.parameters(), grads, strict=True):
        assert torch.equal(p.grad, g)
    for k, s in opt.state_dict()["state"].items():
        for kk, vv in s.items():
            assert torch.equal(vv, opt_state[k][kk]) if torch.is_tensor(vv) else vv == opt_state[k][kk]
    assert json.dumps(opt.state_dict()["param_groups"]) == opt_groups
    assert torch.equal(x, x0) and torch.equal(y, y0)
    assert torch.equal(criterion.pos_weight, torch.full((L,), 2.0))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (make gpu-check)")
def test_runs_on_the_models_device_and_restores_its_rng():
    model = mlp().cuda()
    criterion = nn.BCEWithLogitsLoss(pos_weight=torch.ones(L))  # left on the CPU: a classic
    cuda_rng = torch.cuda.get_rng_state()
    report = check_setup(model, criterion, X, Y, train_targets=Y_TRAIN)  # CPU batch: moved to the model
    assert report.facts["device"].startswith("cuda")
    f = assert_finding(report, "POS_WEIGHT_INVALID", "error")
    assert "cpu" in f.message and "moved" in f.message
    assert "NO_LEARNING" not in report and "LOSS_ERROR" not in report
    assert torch.equal(torch.cuda.get_rng_state(), cuda_rng)
    assert criterion.pos_weight.device.type == "cpu" and X.device.type == "cpu"


def test_inplace_first_layer_does_not_modify_inputs():
    torch.manual_seed(0)
    model = nn.Sequential(nn.ReLU(inplace=True), nn.Linear(D, L))
    x = X.clone()
    check(model, x=x)
    assert torch.equal(x, X)


def test_rng_stream_continues_as_if_not_called():
    model = mlp()  # (mlp() seeds torch itself)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check(model)
    assert torch.equal(torch.rand(3), expected)


def test_report_is_deterministic():
    a, b = check(mlp()), check(mlp())
    assert a.facts["probe_loss_after"] == b.facts["probe_loss_after"]


def test_small_cnn_checks_clean_and_reports_its_time():
    # The < 2 s budget is measured outside the tests (no timing assertions: they race a loaded CPU);
    # the report carries its own elapsed time for that measurement.
    model = small_cnn()
    x = torch.randn(128, 1, 16, 16)
    y = make_data(n=128)[1]
    report = check_setup(model, nn.BCEWithLogitsLoss(), x, y, train_targets=Y_TRAIN)
    assert report.facts["elapsed_s"] > 0
    assert report.ok and [f for f in report if f.severity != "info"] == [], str(report)


def test_numpy_inputs_are_accepted():
    report = check(x=X.numpy(), y=Y.numpy(), train_targets=Y_TRAIN.numpy())
    assert [f for f in report if f.severity != "info"] == [], str(report)
    # float64 numpy features are what a user would pass; they are reported, not crashed on
    assert_finding(check(x=X.numpy().astype(np.float64)), "INPUT_DTYPE", "error")


def test_str_html_and_dict():
    report = check(mlp(nn.Sigmoid()), lambda out, y: F.binary_cross_entropy_with_logits(out, y), train_targets=None)
    text = str(report)
    html = report._repr_html_()
    for code in report.codes:
        assert code in text and code in html
    assert text.splitlines()[0].startswith("check_setup: 1 error")
    assert "<lambda>" in text and "&lt;lambda&gt;" in html and "<lambda>" not in html
    d = report.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["ok"] is False and d["counts"]["error"] == 1 and {f["code"] for f in d["findings"]} == set(report.codes)
    assert len(report) == len(d["findings"]) and list(report)[0].severity == "error"
    from IPython.lib.pretty import pretty

    assert pretty(report) == text  # IPython's text/plain (a terminal, nbval) is the table, not the repr
    assert "DOUBLE_SIGMOID" in report and report.get("DOUBLE_SIGMOID") is not None
    assert "No findings" in str(Report()) and "No findings" in Report()._repr_html_()
    with pytest.raises(ValueError, match="unknown finding code"):
        Finding("NOT_A_CODE", "error", "x")
    with pytest.raises(ValueError, match="not 'error'"):
        Finding("MODEL_IN_EVAL", "error", "x")


# --- bad arguments ------------------------------------------------------------------------------------


def test_bad_arguments():
    crit = nn.BCEWithLogitsLoss()
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got function"):
        check_setup(lambda x: x, crit, X, Y)
    with pytest.raises(TypeError, match="swap model and criterion"):
        check_setup(crit, mlp(), X, Y)
    with pytest.raises(TypeError, match=r"not an instance: pass BCEWithLogitsLoss\(\)"):
        check_setup(mlp(), nn.BCEWithLogitsLoss, X, Y)
    with pytest.raises(TypeError, match="criterion must be a loss.*got str"):
        check_setup(mlp(), "bce", X, Y)
    with pytest.raises(TypeError, match="a layer, not a loss"):
        check_setup(mlp(), nn.Sigmoid(), X, Y)
    with pytest.raises(TypeError, match="inputs must be a torch.Tensor or a numpy array, got list"):
        check_setup(mlp(), crit, X.tolist(), Y)
    with pytest.raises(TypeError, match="targets must be .* got list"):
        check_setup(mlp(), crit, X, Y.tolist())
    with pytest.raises(ValueError, match="inputs is an empty batch"):
        check_setup(mlp(), crit, X[:0], Y[:0])
    with pytest.raises(ValueError, match="targets is a scalar"):
        check_setup(mlp(), crit, X, torch.tensor(1.0))
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer"):
        check_setup(mlp(), crit, X, Y, optimizer="adam")
    with pytest.raises(ValueError, match="probe_steps must be an int >= 0"):
        check_setup(mlp(), crit, X, Y, probe_steps=-1)
    with pytest.raises(ValueError, match=r"train_targets must be a non-empty \(N, L\)"):
        check_setup(mlp(), crit, X, Y, train_targets=Y_TRAIN[:, 0])


def test_readme_documents_every_code():
    import re

    from helpers.diagnose import readme_codes
    from helpers.results import repo_root

    text = (repo_root() / "README.md").read_text()
    section = text.split("## Diagnose your own setup")[1].split("\n## ")[0]
    assert set(re.findall(r"`([A-Z][A-Z0-9_]{4,})`", section)) == set(CODES)
    block = section.split("<!-- codes: generated by helpers.diagnose.readme_codes() -->\n")[1].split("\n<!-- /codes -->")[0]
    assert block == readme_codes(), "regenerate the README's list: python -m helpers.diagnose"
