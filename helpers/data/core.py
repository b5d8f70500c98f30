"""The data container :class:`MultiLabelData`, :class:`DataError`, and the checks of the parameters that ask for data."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SPLITS = ("train", "val", "test")
DIGIT_SIZE = 8  # load_digits images are 8x8, values 0..16
N_DIGIT_CLASSES = 10
POOL_FRACTIONS = (0.6, 0.2, 0.2)  # source digits per class going to train / val / test scenes

# Long-tail exponent at which the rarest label ("9") is present in about 1 scene in 200 with the
# default objects=3 (1 to 3 digits per scene): exactly 1/195 (0.513 %) by rare_label_rate(3.3, 3);
# measured over 200,000 generated scenes (seeds 0-19, 10,000 each): 1,054 positives, 0.527 %.
# For comparison tail 2.0 gives 1/42, 2.5 gives 1/76, 3.0 gives 1/137, 3.35 gives 1/207.
RARE_TAIL = 3.3


class DataError(ValueError):
    """A problem with the data itself (or with the parameters asking for it), explained for a reader."""


class DataWarning(UserWarning):
    """Data that loads but skews a metric (e.g. a label without positives in the test split), explained."""


# --------------------------------------------------------------------------------------------------
# The container


@dataclass
class MultiLabelData:
    """One multi-label data set, split into train / val / test.

    ``kind`` is ``"image"`` (X is ``(N, C, H, W)``) or ``"tabular"`` (X is ``(N, F)``).
    ``source_ids`` (scenes only) maps each split to the indices into ``load_digits()`` of the
    digits drawn in each scene, ``(N, max_objects)`` int64 padded with -1. ``info`` holds how the
    data was made (scene parameters, file path, standardization statistics).
    """

    name: str
    kind: str
    X_train: np.ndarray
    Y_train: np.ndarray
    X_val: np.ndarray
    Y_val: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    label_names: list[str]
    feature_names: list[str] | None = None
    source_ids: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(X, Y)`` of the split ``"train"``, ``"val"`` or ``"test"``."""
        if name not in SPLITS:
            raise KeyError(f"unknown split {name!r}; use one of {', '.join(SPLITS)}")
        return getattr(self, f"X_{name}"), getattr(self, f"Y_{name}")

    @property
    def n_labels(self) -> int:
        return int(self.Y_train.shape[1])

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example (no batch dimension): ``(C, H, W)`` or ``(F,)``."""
        return tuple(int(s) for s in self.X_train.shape[1:])

    def summary(self) -> str:
        """One line: name, kind and input shape, split sizes, labels, training cardinality, and the
        labels dropped for want of a training positive (``drop_empty_labels``), if any."""
        shape = "x".join(map(str, self.input_shape))
        sizes = " / ".join(f"{s} {len(self.split(s)[0])}" for s in SPLITS)
        card = float(self.Y_train.sum(axis=1, dtype=np.float64).mean())
        line = f"{self.name} ({self.kind} {shape}): {sizes}, {self.n_labels} labels, cardinality {card:.3f} (train)"
        dropped = self.info.get("dropped_labels")
        if dropped and dropped["count"]:
            names = dropped["names"]
            shown = ", ".join(names[:10]) + (f", ... ({len(names) - 10} more)" if len(names) > 10 else "")
            line += f"; dropped {dropped['count']} label(s) without a training positive: {shown}"
        return line


# --------------------------------------------------------------------------------------------------
# Parameters


def check_seed(seed: Any) -> int:
    """A seed must be an int >= 0 (NumPy's generators and the stratified splitter refuse others)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise DataError(f"seed={seed!r} is {type(seed).__name__}: give a whole number >= 0, e.g. seed=0")
    if seed < 0:
        raise DataError(f"seed={seed!r}: seeds must be >= 0, e.g. seed=0")
    return int(seed)


def _check_count(value: Any, what: str, noun: str = "example") -> int:
    """A size parameter (``n_train``...) must be a whole number >= 1 (``2000.0`` is accepted)."""
    integral = isinstance(value, (float, np.floating)) and float(value).is_integer()
    if isinstance(value, bool) or not (isinstance(value, (int, np.integer)) or integral):
        hint = f" (without quotes: {what}={value.strip()})" if isinstance(value, str) and value.strip().isdigit() else ""
        raise DataError(f"{what}={value!r} is {type(value).__name__}: give a whole number >= 1{hint}")
    if value < 1:
        raise DataError(f"{what}={value!r}: each split needs at least one {noun}")
    return int(value)


def _check_flag(value: Any, what: str) -> bool:
    """A switch (``drop_empty_labels``...) must be ``True`` or ``False`` (``bool("no")`` is True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise DataError(f"{what}={value!r} is {type(value).__name__}: give True or False")
    return bool(value)


def _check_fraction(value: Any, what: str) -> float:
    """A fraction parameter (``val_fraction``...) must be a number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        hint = ""
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                hint = f" (without quotes: {what}={float(value)!r})"
        raise DataError(f"{what}={value!r} is {type(value).__name__}: give a number between 0 and 1{hint}")
    if not 0 < value < 1:
        raise DataError(f"{what}={value!r}: must be between 0 and 1")
    return float(value)


def _check_real(value: Any, what: str, hint: str = "") -> float:
    """A real-number parameter (``tail``...) must be an int or float, not text or a bool."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DataError(f"{what}={value!r} is {type(value).__name__}: give a number{hint}")
    return float(value)


# Scenes are float32 images of grid * 8 x 8 pixels: refuse, before allocating, sizes that need more
# than this share of the machine's memory (they would end in a MemoryError after many seconds).
MEMORY_SHARE = 0.5


def _memory_bytes() -> int | None:
    """The machine's physical memory in bytes, or None where the OS does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _check_scene_memory(sizes: dict[str, int], grid: Any) -> None:
    """Refuse scene counts whose images cannot fit in memory, naming the parameter and the size."""
    try:
        gh, gw = (int(g) for g in grid)
    except (TypeError, ValueError):
        return  # make_scenes refuses the grid itself, by name
    per_scene = gh * gw * 64 * 4 * 2  # float32 pixels, and the canvas they are built in
    total = sum(sizes.values()) * per_scene
    memory = _memory_bytes()
    if memory is not None and total > MEMORY_SHARE * memory:
        name, n = max(sizes.items(), key=lambda kv: kv[1])
        raise DataError(f"{name}={n:,}: the scenes would need about {total / 2**30:.1f} GiB of memory, more than "
                        f"half of this machine's {memory / 2**30:.1f} GiB; use fewer scenes (e.g. {name}=2000)")
