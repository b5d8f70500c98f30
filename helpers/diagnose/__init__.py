"""A linter and a training companion for multi-label setups.

* :func:`check_setup` looks at a model, a loss and one batch before training, and reports the
  mistakes that make a multi-label classifier not train;
* :func:`check_predictions` looks at 0/1 predictions (and the scores they came from, and the
  training labels with ``train_targets=``) and reports how they were made or scored wrongly;
* :class:`Monitor` watches a training run (``helpers.train.fit`` runs one by default) and reports
  what only shows during training.

Usage::

    from helpers.diagnose import Monitor, check_predictions, check_setup

    report = check_setup(model, nn.BCEWithLogitsLoss(), xb, yb, optimizer=opt, train_targets=y_train)
    report          # an HTML table in a notebook; print(report) gives a plain-text table
    report.ok       # False when any finding is an error
    report.codes    # ['DOUBLE_SIGMOID', 'NO_TRAIN_TARGETS', ...]

``check_setup`` works on any ``nn.Module`` and any loss: a ``torch.nn`` loss is recognized by
class; anything else by its behaviour on small known inputs (does it take multi-hot floats, apply
a softmax, need probabilities, equal BCE on logits?), then by a torch loss it holds, its name, or
the torch functions it calls. It never touches the caller's objects: it works on
``copy.deepcopy`` of the model and the criterion and on copies of the tensors, builds a fresh
optimizer of the caller's class and hyperparameters over the copy's parameters, runs on the device
the model is on, and restores torch's random number generator state afterwards. The copy is put
in train mode; the static checks evaluate it once without gradient, then a short probe overfits
the one batch for ``probe_steps`` steps and watches the loss, the gradients and the predictions.
Where a mistake would stop the checks (integer targets, float64 inputs), the remaining checks run
on a repaired copy and the finding says so, so one report shows every problem at once.

The package has one module per family of rules (``targets``, ``outputs``, ``loss``,
``pos_weight``, ``optimizer``, ``probe``, ``predictions``, ``monitor``); each rule is a small
function registered with its code, severities, doc and fix in ``registry.RULES``. The table below
is generated from that registry (and so is the README's list).
"""

from __future__ import annotations

from helpers.diagnose import loss, monitor, optimizer, outputs, pos_weight, predictions, probe, targets
from helpers.diagnose.check import check_setup
from helpers.diagnose.context import PROBE_SEED, SMALL_MODEL_PARAMS
from helpers.diagnose.loss import BIAS_INIT_RATIO, INIT_LOSS_RATIO, LOGIT_STD_MAX
from helpers.diagnose.monitor import Monitor, binary_entropy
from helpers.diagnose.optimizer import LR_MAX_ADAPTIVE, LR_MAX_SGD, PROBE_LR, WD_MAX_COUPLED, WD_MAX_SHRINK
from helpers.diagnose.pos_weight import POS_WEIGHT_MAX
from helpers.diagnose.predictions import check_predictions
from helpers.diagnose.probe import COLLAPSE_HIGH, COLLAPSE_LOW, COLLAPSE_TRUE_RANGE, PROBE_MIN_DECREASE
from helpers.diagnose.registry import RULES, SEVERITIES, code_severities, code_table, codes, readme_codes
from helpers.diagnose.report import Finding, Report
from helpers.diagnose.targets import RARE_MIN_COUNT, RARE_MIN_RATE

CODE_TABLE = code_table()
CODES = codes()
CODE_SEVERITIES = code_severities()
__doc__ = (__doc__ or "") + "\n" + CODE_TABLE

__all__ = [
    "BIAS_INIT_RATIO", "CODES", "CODE_SEVERITIES", "CODE_TABLE", "COLLAPSE_HIGH", "COLLAPSE_LOW",
    "COLLAPSE_TRUE_RANGE", "Finding", "INIT_LOSS_RATIO", "LOGIT_STD_MAX", "LR_MAX_ADAPTIVE", "LR_MAX_SGD",
    "Monitor", "POS_WEIGHT_MAX", "binary_entropy", "PROBE_LR", "PROBE_MIN_DECREASE", "PROBE_SEED", "RARE_MIN_COUNT",
    "RARE_MIN_RATE", "RULES", "Report", "SEVERITIES", "SMALL_MODEL_PARAMS", "WD_MAX_COUPLED", "WD_MAX_SHRINK",
    "check_predictions", "check_setup", "code_table", "readme_codes",
    "loss", "monitor", "optimizer", "outputs", "pos_weight", "predictions", "probe", "targets",
]
