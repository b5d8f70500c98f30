"""The registry of finding codes: one entry per rule, the single source of the docs.

Each rule is a small function decorated with :func:`rule`, which records its code, the severities
it may report, its family (the module it lives in), a one-line doc and its fix. The code table in
the package docstring (:func:`code_table`) and the README's list of codes (:func:`readme_codes`)
are generated from here, and tests check both against it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass

SEVERITIES = ("error", "warning", "info")
FAMILIES = ("targets", "outputs", "loss", "pos_weight", "optimizer", "probe", "predictions", "monitor")


@dataclass(frozen=True)
class Rule:
    """One code: what it means (``doc``), how bad it can be (``severities``), the usual ``fix``,
    its ``family`` and the function that checks it."""

    code: str
    severities: tuple[str, ...]
    family: str
    doc: str
    fix: str
    func: Callable | None = None
    see: str = ""  # the notebook and section that measures this rule's cause (the next step for a reader)


RULES: dict[str, Rule] = {}

# code -> the notebook and section that measures the cause (what a reader does next); a rule may also pass see=
SEE = {
    "INPUT_DTYPE": "06 §2 (the failure modes through the checker)",
    "SHAPE_MISMATCH": "06 §2; 02 §1 (two setups that raise)",
    "NON_FINITE": "04 §6 (weights from a batch); 06 §4 (the article's batch weights)",
    "SINGLE_LABEL_TARGETS": "02 §2 (cross_entropy on multi-hot targets); 03 (BCEWithLogitsLoss)",
    "MASKED_TARGETS": "08 §1 (missing labels)",
    "MASK_NOT_IGNORED": "08 §1 (missing labels)",
    "TARGET_DTYPE": "02 §1 (two setups that raise); 06 §1",
    "TARGET_NOT_BINARY": "01 (how often each label is present); 06 §2",
    "NO_TRAIN_TARGETS": "01 §2 (how often each label is present, per split)",
    "EMPTY_LABEL": "01 §2 (label frequencies per split); 08 §2 (rare labels and the split)",
    "RARE_LABEL": "04 §1 (the labels and their weights); 08 §2 (rare labels and the split)",
    "BATCH_TOO_SMALL": "04 §6 (the article's recipe: weights from a batch)",
    "MODEL_ERROR": "06 §2 (the failure modes through the checker)",
    "OUTPUT_NOT_TENSOR": "06 §3 (the fixed setup, and how to check yours)",
    "SOFTMAX_ON_MULTILABEL": "02 §2 (cross_entropy: ranks well, thresholds badly)",
    "DOUBLE_SIGMOID": "02 §2 (double_sigmoid)",
    "LOGITS_NONNEGATIVE": "02 §2 (double_sigmoid: outputs that cannot be negative)",
    "PROBS_EXPECTED": "02 §1 (two setups that raise)",
    "SIGMOID_THEN_BCELOSS": "03 §5 (why BCEWithLogitsLoss and not BCELoss(sigmoid(x)))",
    "MSE_FOR_CLASSIFICATION": "02 §2 (MSE on sigmoid outputs)",
    "CONSTANT_OUTPUT": "07 §2 (bias initialisation); 08 §3 (shuffled labels)",
    "LOSS_UNKNOWN": "03 (BCEWithLogitsLoss); 04 §2 (focal and asymmetric losses)",
    "LOSS_ERROR": "02 §1 (two setups that raise)",
    "LOSS_REDUCTION": "07 §1 (learning rate)",
    "LOSS_AT_INIT": "07 §6 (unnormalised inputs)",
    "BIAS_INIT": "07 §2 (bias initialisation)",
    "POS_WEIGHT_INVALID": "04 §1 (the labels and their weights) and §6 (weights from a batch)",
    "POS_WEIGHT_INVERTED": "04 §1 (the labels and their weights) and §5 (how pos_weight shifts probabilities)",
    "OPTIMIZER_PARAMS": "07 §5 (an optimizer over only some of the parameters)",
    "LEARNING_RATE": "07 §1 (learning rate x10 and x0.1, range test)",
    "WEIGHT_DECAY": "07 §7 (weight decay far too large)",
    "MODEL_IN_EVAL": "07 §3 (model.eval() left on)",
    "NO_LEARNING": "07 §1 (learning rate) and §5 (optimizer parameters)",
    "COLLAPSED_PREDICTIONS": "02 §2 (double_sigmoid); 03 §4 (thresholds per label); 07 §2 (bias init)",
    "ARGMAX_AS_MULTILABEL": "06 §5 (predictions: how they are made and scored)",
    "THRESHOLD_ON_LOGITS": "06 §5 (predictions: how they are made and scored)",
    "SOFTMAX_THRESHOLD": "06 §5; 02 §2 (cross_entropy thresholds badly)",
    "ACCURACY_PARADOX": "03 §3 (the accuracy paradox)",
    "LABEL_COLUMNS_MISALIGNED": "01 §2 (label frequencies per split); 08 §3 (labels misaligned with the inputs)",
    "LOSS_NON_FINITE": "06 §4 (the article's batch weights); 04 §6",
    "PRED_RATE_COLLAPSE": "03 §4 (one threshold per label); 04 §3 (metrics at 0.5 and tuned)",
    "GRAD_VANISHING": "02 §2 (double_sigmoid); 07 §6 (unnormalised inputs)",
    "GRAD_EXPLODING": "07 §1 (learning rate x10)",
    "LOSS_UNSTABLE": "07 §1 (learning rate x10 and the range test)",
    "VAL_FLAT": "08 §3 (shuffled labels); 07 §8 (too few epochs, the checkpoint)",
    "ALL_ZERO_PHASE": "07 §2 (bias initialisation)",
}


def rule(code: str, severity: str, doc: str, fix: str, see: str = "") -> Callable[[Callable], Callable]:
    """Register the decorated function as the rule for ``code`` (``severity``: "error",
    "warning/info"...; ``see``: the notebook and section that measures the cause, or
    :data:`SEE` gives it). A code is registered once; the family is the function's module."""
    severities = tuple(severity.split("/"))
    if not set(severities) <= set(SEVERITIES):
        raise ValueError(f"{code}: unknown severity {severity!r}")

    def deco(func: Callable) -> Callable:
        family = func.__module__.rsplit(".", 1)[-1]
        if family not in FAMILIES:
            raise ValueError(f"{code}: rule in module {func.__module__}, not a known family {FAMILIES}")
        if code in RULES:
            raise ValueError(f"code {code} is registered twice ({RULES[code].func} and {func})")
        RULES[code] = Rule(code, severities, family, " ".join(doc.split()), fix, func, see or SEE.get(code, ""))
        func.code = code
        return func

    return deco


def codes() -> dict[str, str]:
    """code -> its one-line doc."""
    return {c: r.doc for c, r in RULES.items()}


def code_severities() -> dict[str, tuple[str, ...]]:
    return {c: r.severities for c, r in RULES.items()}


def code_table() -> str:
    """Every registered code as an RST simple table (family order), for the package docstring."""
    widths = (max(len(c) for c in RULES) + 2, 15, 12, 52, 38)
    header = ("code", "severity", "family", "triggered when", "fix")
    border = "  ".join("=" * w for w in widths)
    lines = ["Codes", "=====", "",
             "Severity: ``error`` -- training is broken or raises; ``warning`` -- it runs but will train badly or "
             "report misleading metrics; ``info`` -- worth knowing, often intended.", "",
             border, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(), border]
    for fam in FAMILIES:
        for r in (r for r in RULES.values() if r.family == fam):
            cols = [[r.code], ["/".join(r.severities)], [r.family], textwrap.wrap(r.doc, widths[3]),
                    textwrap.wrap(f"``{r.fix}``", widths[4], break_long_words=False, break_on_hyphens=False)]
            for k in range(max(map(len, cols))):
                cells = [(c[k] if k < len(c) else "") for c in cols]
                lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    lines.append(border)
    return "\n".join(lines)


def readme_codes() -> str:
    """The README's list of codes, one line per family (what tests compare the README with)."""
    out = []
    for fam in FAMILIES:
        names = [f"`{r.code}`" for r in RULES.values() if r.family == fam]
        if names:
            out.append(f"- {fam}: {', '.join(names)}")
    return "\n".join(out)
