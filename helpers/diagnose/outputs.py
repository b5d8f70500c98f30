"""Rules on the model's outputs at initialization and how they meet the loss: does the model run,
what does it return, do shapes match, and is the final activation the one the loss expects
(softmax on multi-label targets, a double sigmoid, non-negative logits, logits into BCELoss)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from helpers.diagnose.context import Context, fmt, output_form, seed, shape, softmax_axis, unwrap
from helpers.diagnose.loss import adopt_raw_criterion
from helpers.diagnose.registry import rule


def _model_error_fix(ctx: Context, e: Exception) -> str:
    text = str(e)
    if not ctx.x.is_floating_point() and ctx.param_dtype() is not None and "type" in text:
        return "inputs = inputs.float() / 255" if ctx.x.dtype == torch.uint8 else "inputs = inputs.float()"
    if "shapes cannot be multiplied" in text or "size mismatch" in text:
        return f"match the first layer's in_features to inputs.shape[1:] = {tuple(ctx.x.shape[1:])}"
    if "Expected more than 1 value per channel" in text:
        return "use batches of 2+ rows (drop_last=True) with BatchNorm"
    return "run model(inputs[:2]) to see the traceback"


@rule("MODEL_ERROR", "error", "model(inputs) raises, or returns something that holds no tensor; the exception "
      "text is reported and output checks are skipped.", "fix the model or the inputs; the message quotes torch")
def forward(ctx: Context) -> bool:
    """Run the copy once without gradient (train mode, seeded); False when it failed."""
    last: dict[str, Any] = {}

    def hook(mod, inp, out):
        last["mod"], last["inp"], last["out"] = mod, inp, out

    leaves = [m for m in ctx.model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        seed(ctx.device)
        with torch.no_grad():
            raw = ctx.model(ctx.x)
    except Exception as e:  # noqa: BLE001 -- report, don't crash: the exception is the finding
        ctx.add("MODEL_ERROR", "error",
                f"model(inputs) with inputs {shape(ctx.x)} {ctx.x.dtype} raises {type(e).__name__}: {str(e)[:400]}",
                _model_error_fix(ctx, e))
        return False
    finally:
        for h in handles:
            h.remove()
    if not isinstance(raw, torch.Tensor):
        adopt_raw_criterion(ctx, raw)
    out, note = unwrap(raw, tuple(ctx.y.shape), ctx.out_key)
    if out is None:
        ctx.add("MODEL_ERROR", "error", f"model(inputs) returned a {type(raw).__name__}, which holds no tensor of "
                "outputs.", "return the logits tensor from forward()")
        return False
    if out.ndim == 0 or out.shape[0] != ctx.x.shape[0] and out.numel() == 1:
        ctx.add("MODEL_ERROR", "error",
                f"model(inputs) returned a single number (shape {shape(out)}) for a batch of {ctx.x.shape[0]} rows: "
                f"forward() reduces its output (a .mean()/.sum(), or it returns a loss); a classifier returns one "
                f"row of logits per input, shape (N, L).", "return the (N, L) logits from forward(), no reduction")
        return False
    output_not_tensor(ctx, note)
    ctx.out = out.detach()
    final = last.get("mod") if last.get("out") is out else None
    ctx.final = final
    inp = last.get("inp") if final is not None else None
    if isinstance(final, nn.Sigmoid) and inp and isinstance(inp[0], torch.Tensor):
        ctx.pre_final = inp[0].detach()
    ctx.form, ctx.form_why = output_form(ctx.out, final)
    o = ctx.out.float()
    ctx.facts.update(outputs_shape=list(o.shape), outputs_dtype=str(out.dtype), output_form=ctx.form,
                     final_module=type(final).__name__ if final is not None else None)
    if bool(torch.isfinite(o).all()) and o.numel():
        ctx.facts.update(outputs_min=o.min().item(), outputs_max=o.max().item(),
                         outputs_std=o.std().item() if o.numel() > 1 else 0.0)
    if ctx.kind in ("ce", "nll") and o.ndim > 2:
        ctx.class_axis = 1
    elif ctx.form == "softmax" and o.ndim > 2:
        ctx.class_axis = softmax_axis(o) or -1
    return True


@rule("OUTPUT_NOT_TENSOR", "info", "the model returns a tuple/dict/object; checks used the tensor named in the "
      "message (in a dict without 'logits', the entry shaped like the targets).", "pass out.logits to the loss")
def output_not_tensor(ctx: Context, note: str | None) -> None:
    if note:
        ctx.add("OUTPUT_NOT_TENSOR", "info", note + "; pass that same tensor to the loss in training.",
                "loss = criterion(out.logits, targets)" if "logits" in note else "loss = criterion(out[0], y)")


def output_shape(ctx: Context) -> None:
    """NON_FINITE outputs and SHAPE_MISMATCH between outputs and targets (rules registered in targets)."""
    o, y = ctx.out.float(), ctx.y
    if not bool(torch.isfinite(o).all()) and not ctx.has("NON_FINITE"):
        ctx.add("NON_FINITE", "error",
                f"outputs {shape(o)} contain {int(torch.isnan(o).sum())} NaN and {int(torch.isinf(o).sum())} inf "
                f"values at initialization, though the inputs are finite: an op in forward() overflows (exp, log, "
                f"division) or the weights hold NaN.", "assert torch.isfinite(model(x)).all()")
    ctx.facts["n_labels"] = int(o.shape[-1]) if o.ndim >= 2 else 1
    ctx.shapes_ok = ctx.batch_ok
    if ctx.batch_ok and not ctx.single_label and not ctx.two_way and tuple(o.shape) != tuple(y.shape):
        ctx.shapes_ok = False
        hint = ""
        if o.ndim == y.ndim + 1 and o.shape[-1] == 1:
            hint = " A (N, 1) output against (N,) targets broadcasts to (N, N) in MSELoss and raises in BCEWithLogitsLoss."
        ctx.add("SHAPE_MISMATCH", "warning" if ctx.kind == "other" else "error",
                f"outputs have shape {shape(o)} but targets {shape(y)}: {ctx.loss_name} compares them element by "
                f"element.{hint} Does the last layer have out_features = number of labels "
                f"({y.shape[1] if y.ndim >= 2 else 1})?",
                "outputs = outputs.squeeze(-1)" if hint else "nn.Linear(hidden, n_labels)  # last layer")


def _rng(o: torch.Tensor) -> str:
    return f"[{fmt(o.min().item())}, {fmt(o.max().item())}]"


@rule("SOFTMAX_ON_MULTILABEL", "error",
      "CrossEntropyLoss/NLLLoss, a final Softmax/LogSoftmax, or outputs summing to 1 along an axis, while some "
      "target rows (per position, for (N, C, L) outputs) have 2+ positive labels.",
      "nn.BCEWithLogitsLoss() on logits")
def softmax_on_multilabel(ctx: Context) -> None:
    if ctx.two_way:
        return  # one two-way softmax per label: the labels do not compete
    if not (ctx.kind in ("ce", "nll") or ctx.form in ("softmax", "log_softmax")):
        return
    y = ctx.y
    if y.ndim > 2 and y.shape != ctx.out.shape:
        return
    per_row = ctx.label_rows().sum(1)
    multi = int((per_row >= 2).sum())
    if not multi:
        return
    n_labels = ctx.out.shape[ctx.class_axis]
    reason = (f"{ctx.loss_name} applies a softmax over the {n_labels} outputs" if ctx.kind in ("ce", "nll")
              else f"the outputs are a softmax ({ctx.form_why})")
    where = "target rows" if y.ndim <= 2 else f"positions (over dim {ctx.class_axis % y.ndim} of {shape(y)})"
    empty_rows = int((per_row == 0).sum())
    ctx.add("SOFTMAX_ON_MULTILABEL", "error",
            f"{reason}, but {multi} of {len(per_row)} {where} have 2 or more positive labels (up to "
            f"{int(per_row.max())}): softmax makes labels compete for one unit of probability, so a row with k "
            f"positives gets at best 1/k each and at most one label can pass 0.5."
            + (f" {empty_rows} have no positive label at all, which a softmax cannot express." if empty_rows else ""),
            "criterion = nn.BCEWithLogitsLoss()  # no final softmax; float multi-hot targets")


@rule("DOUBLE_SIGMOID", "error",
      "BCEWithLogitsLoss on outputs that are already probabilities (final Sigmoid/Softmax, or all N*L >= 16 "
      "values in [0, 1] and < 5% exactly 0): trained probabilities live in (0.5, 0.731).",
      "remove the final nn.Sigmoid")
def double_sigmoid(ctx: Context) -> None:
    if ctx.kind == "bce_logits" and ctx.form in ("sigmoid", "softmax"):
        ctx.add("DOUBLE_SIGMOID", "error",
                f"the outputs are already probabilities ({ctx.form_why}; range {_rng(ctx.out)}) and {ctx.loss_label} "
                f"applies a sigmoid again: the probabilities it trains are sigmoid(p) in (0.5, 0.731), so read that "
                f"way every label looks positive at threshold 0.5; read directly (model(x) > 0.5, the usual way "
                f"with nn.Sigmoid in the model) the rate can fall to 0. A negative's loss cannot go below 0.693 nor "
                f"a positive's below 0.313.",
                f"remove the final {'nn.Sigmoid()' if ctx.form == 'sigmoid' else 'nn.Softmax()'}; keep "
                f"nn.BCEWithLogitsLoss()")


@rule("LOGITS_NONNEGATIVE", "error",
      "BCEWithLogitsLoss on outputs that cannot be negative (final ReLU/ReLU6/Softplus, or all values >= 0): "
      "sigmoid >= 0.5 for every label.", "remove the activation after the last nn.Linear")
def logits_nonnegative(ctx: Context) -> None:
    if ctx.kind == "bce_logits" and ctx.form == "nonneg":
        ctx.add("LOGITS_NONNEGATIVE", "error",
                f"{ctx.form_why} (range {_rng(ctx.out)}), so as logits sigmoid(outputs) >= 0.5 for every label: no "
                f"label can be predicted absent at threshold 0.5, and units stuck at 0 get no gradient through "
                f"the ReLU.", "remove the activation after the last nn.Linear")


@rule("PROBS_EXPECTED", "error", "BCELoss on values outside [0, 1] (logits), or on the output of a final "
      "ReLU/ReLU6/Softplus, which is not bounded by 1 and is exactly 0 (log 0) on dead units.", "nn.BCEWithLogitsLoss()")
def probs_expected(ctx: Context) -> None:
    o = ctx.out.float()
    if ctx.kind != "bce":
        return
    if o.min().item() < 0 or o.max().item() > 1:
        ctx.add("PROBS_EXPECTED", "error",
                f"BCELoss expects probabilities in [0, 1] but the outputs range over {_rng(o)} (raw logits): torch "
                f"raises 'all elements of input should be between 0 and 1'.",
                "criterion = nn.BCEWithLogitsLoss()  # takes logits")
    elif isinstance(ctx.final, (nn.ReLU, nn.ReLU6, nn.Softplus)):
        zeros = int((o == 0).sum())
        ctx.add("PROBS_EXPECTED", "error",
                f"BCELoss expects probabilities, but the model ends in nn.{type(ctx.final).__name__} (outputs range "
                f"{_rng(o)}, {zeros} of {o.numel()} exactly 0): nothing keeps them at or below 1, so BCELoss raises "
                f"once one passes 1, and an output of exactly 0 on a positive target costs log(0), clamped to -100 "
                f"per entry, with no gradient through the dead unit.",
                "replace the final activation by nn.Sigmoid(), or drop it and use nn.BCEWithLogitsLoss()")


SATURATED_LOGIT = 15.0  # |x| past which sigmoid(x) in float32 is within ~3e-7 of 0 or 1 (exactly 1 from ~16.6)
HALF_DTYPES = (torch.float16, torch.bfloat16)


def _saturation(ctx: Context) -> str:
    """Evidence that Sigmoid + BCELoss harms here: saturated pre-sigmoid values, probabilities already
    exactly 0 or 1, or half precision; "" when there is none."""
    dtypes = {ctx.out.dtype, ctx.param_dtype()}
    half = next((d for d in HALF_DTYPES if d in dtypes), None)
    if half is not None:
        return (f"the model runs in {str(half).replace('torch.', '')}, where p rounds to exactly 0 or 1 much sooner "
                f"(and torch refuses BCELoss under CUDA autocast)")
    pre = ctx.pre_final
    if pre is not None and pre.numel() and bool(torch.isfinite(pre.float()).all()):
        big = pre.float().abs()
        n_big = int((big > SATURATED_LOGIT).sum())
        if n_big:
            return (f"{n_big} of {big.numel()} pre-sigmoid values already exceed |x| > {SATURATED_LOGIT:g} "
                    f"(up to {fmt(big.max().item())}), where sigmoid saturates in float32")
        return ""
    o = ctx.out.float()
    n_edge = int(((o == 0) | (o == 1)).sum())
    if n_edge:
        return f"{n_edge} of {o.numel()} probabilities are already exactly 0 or 1"
    return ""


@rule("SIGMOID_THEN_BCELOSS", "info/warning",
      "final Sigmoid (or probabilities) + BCELoss: a valid setup that trains (info); a warning when the "
      "pre-sigmoid values are saturated (|x| > 15), probabilities are exactly 0 or 1, or the model is "
      "float16/bfloat16: then log(p) is clamped at -100 and the gradient vanishes.",
      "logits + nn.BCEWithLogitsLoss()")
def sigmoid_then_bceloss(ctx: Context) -> None:
    if ctx.kind == "bce" and ctx.form == "sigmoid" and not ctx.has("PROBS_EXPECTED"):
        harm = _saturation(ctx)
        base = (f"the model outputs probabilities ({ctx.form_why}; range {_rng(ctx.out)}) for BCELoss: a valid "
                f"setup that trains, but once the sigmoid saturates (|x| beyond about 15-17 in float32) p rounds "
                f"to exactly 0 or 1, BCELoss clamps log(p) at -100 and the gradient vanishes; BCEWithLogitsLoss "
                f"fuses sigmoid and log stably (and, unlike BCELoss, is allowed under CUDA autocast).")
        if harm:
            ctx.add("SIGMOID_THEN_BCELOSS", "warning", f"{base} Here {harm}.",
                    "drop the final nn.Sigmoid(); criterion = nn.BCEWithLogitsLoss()")
        else:
            ctx.add("SIGMOID_THEN_BCELOSS", "info", f"{base} No saturation seen at initialization.",
                    "drop the final nn.Sigmoid(); criterion = nn.BCEWithLogitsLoss()")


@rule("MSE_FOR_CLASSIFICATION", "warning",
      "MSELoss/L1Loss/SmoothL1Loss/HuberLoss on binary targets: weak gradients when wrong.",
      "nn.BCEWithLogitsLoss()")
def mse_for_classification(ctx: Context) -> None:
    if ctx.kind == "regression":
        ctx.add("MSE_FOR_CLASSIFICATION", "warning",
                f"{ctx.loss_label} on binary targets (outputs range {_rng(ctx.out)}): through a sigmoid its gradient "
                f"(p - y) p (1 - p) vanishes exactly when a prediction is confidently wrong, and on raw outputs it "
                f"penalizes confident correct logits; it trains slowly and calibrates badly.",
                "criterion = nn.BCEWithLogitsLoss()  # on logits")


@rule("CONSTANT_OUTPUT", "warning", "every row of the batch gets the same output: the model ignores its inputs "
      "(zero init, dead units, identical inputs).", "default init; check inputs differ")
def constant_output(ctx: Context) -> None:
    o = ctx.out.float()
    if o.shape[0] >= 2 and (o - o[:1]).abs().max().item() <= 1e-6 * (1 + o.abs().max().item()):
        ctx.add("CONSTANT_OUTPUT", "warning",
                f"all {o.shape[0]} rows of the batch get the same outputs (range {_rng(o)}): the model ignores its "
                f"inputs, so it can only learn the label base rates (weights initialized to zero or a constant, "
                f"dead units, or identical input rows).", "keep PyTorch's default init (no nn.init.zeros_ on weights)")


def check_outputs(ctx: Context) -> None:
    output_shape(ctx)
    if ctx.single_label or not bool(torch.isfinite(ctx.out).all()):
        return
    for check in (softmax_on_multilabel, double_sigmoid, logits_nonnegative, probs_expected, sigmoid_then_bceloss,
                  mse_for_classification, constant_output):
        check(ctx)
