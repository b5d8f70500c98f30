"""Sweep specs: read and validate a sweep's YAML file, and plan its runs (one per grid point).

A spec names a notebook, fixed ``parameters`` and a ``grid`` of lists; every value is checked
against the notebook's declared parameters (papermill's inspection) before anything runs. A run's
folder name and hash come from its parameters, so a rerun finds what an earlier call completed.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import itertools
import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.results import display_path, repo_root

STATUS_NAME = "status.json"
SPEC_KEYS = ("notebook", "output", "description", "parameters", "grid")
RUNNER_PARAM = "output_dir"
_MAX_SLUG = 96


class SpecError(ValueError):
    """A sweep spec that cannot run; the message names the spec file and the key."""

# --------------------------------------------------------------------------------------------
# Spec and plan


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec. ``parameters`` and ``grid`` values are already checked against the
    notebook's declared parameters (ints given for float parameters are converted to float)."""

    path: Path | None
    name: str
    notebook: str  # as written in the spec (relative to the repository root)
    notebook_path: Path  # absolute
    output: Path  # absolute
    parameters: dict[str, Any]
    grid: dict[str, list[Any]]
    declared: dict[str, dict[str, Any]] = field(repr=False)  # papermill.inspect_notebook
    description: str | None = None


@dataclass(frozen=True)
class Run:
    """One planned run: its folder and parameters, and what an earlier call left there."""

    run_id: str
    params: dict[str, Any]  # fixed + grid, without output_dir
    grid: dict[str, Any]
    params_hash: str
    folder: Path
    previous: str | None = None  # "ok" / "failed" from a complete earlier run, else None

    def will_run(self, rerun_failed: bool = False) -> bool:
        return self.previous is None or (self.previous == "failed" and rerun_failed)


def _spec_err(where: str, key: str | None, msg: str) -> SpecError:
    return SpecError(f"{where}: {key}: {msg}" if key else f"{where}: {msg}")


def _resolve(p: str | os.PathLike) -> Path:
    path = Path(p).expanduser()
    return path if path.is_absolute() else repo_root() / path


def _parameters_cell_names(nb_path: Path) -> set[str]:
    """Every name assigned in the notebook's ``parameters`` cell, as Python parses it (papermill's
    inspector silently drops some declarations, e.g. ``x: float | None = None``)."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    names: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


# Annotation name -> the YAML type a value must have (YAML has no tuples or sets: lists stand in).
_SIMPLE_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "list": list, "dict": dict,
                 "tuple": list, "set": list, "List": list, "Dict": dict, "Tuple": list, "Set": list}


def _declared_type(decl: Mapping[str, Any]) -> tuple[type | None, bool]:
    """(expected type or None for any, whether None is accepted) from papermill's declaration."""
    ann = str(decl.get("inferred_type_name") or "None").replace(" ", "")
    optional = False
    m = re.fullmatch(r"(?:typing\.)?Optional\[(.+)\]", ann)
    if m:
        ann, optional = m.group(1), True
    parts = [p for p in ann.split("|") if p]
    if "None" in parts and len(parts) > 1:
        parts.remove("None")
        optional = True
    ann = parts[0] if len(parts) == 1 else "None"
    base = re.sub(r"\[.*\]$", "", ann).split(".")[-1]
    typ = _SIMPLE_TYPES.get(base)
    if typ is not None:
        return typ, optional or decl.get("default") == "None"
    # No (usable) annotation: the type of the literal default, if it is one.
    try:
        default = ast.literal_eval(str(decl.get("default")))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None, True
    if default is None:
        return None, True
    for t in (bool, int, float, str, list, dict):
        if isinstance(default, t):
            return t, False
    if isinstance(default, tuple | set):
        return list, False
    return None, True


def _has_nonfinite(value: Any) -> bool:
    """Whether a YAML value holds NaN or infinity anywhere (JSON, hence the run's hash, cannot)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(_has_nonfinite(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nonfinite(v) for v in value.values())
    return False


def _check_value(where: str, key: str, value: Any, decl: Mapping[str, Any]) -> Any:
    """The value to pass (ints become floats for float parameters), or a SpecError."""
    typ, optional = _declared_type(decl)
    if value is None:
        if optional or typ is None:
            return None
        raise _spec_err(where, key, f"null given, but the notebook declares {decl['name']} as "
                        f"{typ.__name__} (default {decl.get('default')})")
    if _has_nonfinite(value):
        raise _spec_err(where, key, f"{value!r} is not a finite number (YAML reads .nan / .inf as such); "
                        "give a finite value")
    if typ is None:
        return value
    ok = (isinstance(value, typ) and not (typ is int and isinstance(value, bool))) or (
        typ is float and isinstance(value, int) and not isinstance(value, bool))
    if ok:
        return float(value) if typ is float else value
    hint = ""
    if typ in (int, float) and isinstance(value, str):
        with contextlib.suppress(ValueError):
            float(value)
            hint = " (YAML reads numbers like 1e-3 as text: write 1.0e-3)"
    if typ is int and isinstance(value, float):
        hint = " (an int parameter does not accept a float)"
    if isinstance(value, bool) and typ in (int, float):
        hint = " (true/false are booleans, not numbers)"
    raise _spec_err(where, key, f"{value!r} is {type(value).__name__}, but the notebook declares "
                    f"{decl['name']} as {typ.__name__} (default {decl.get('default')}){hint}")


@functools.lru_cache(maxsize=1)
def _unique_key_loader() -> type:
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        """PyYAML's safe loader, refusing a key given twice in one mapping (plain YAML keeps the last)."""

        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                with contextlib.suppress(TypeError):
                    line = key_node.start_mark.line + 1
                    if key in seen:
                        raise SpecError(f"duplicate key {key!r} on lines {seen[key]} and {line}; "
                                        "YAML would keep only the last one: remove one")
                    seen[key] = line
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def load_spec(path: str | os.PathLike, *, output: str | os.PathLike | None = None) -> SweepSpec:
    """Read and validate a sweep spec; nothing is created or run. ``output`` overrides the spec's
    output folder (relative paths are taken from the repository root). Raises :class:`SpecError`."""
    import papermill
    import yaml

    path = Path(path)
    where = display_path(path) if path.exists() else str(path)
    if path.is_dir():
        raise SpecError(f"{where}: is a folder, not a sweep spec; give the spec's .yaml file")
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SpecError(f"{where}: no such sweep spec") from None
    except UnicodeDecodeError as e:
        raise SpecError(f"{where}: not UTF-8 text (byte offset {e.start}); save the spec as UTF-8") from None
    except OSError as e:
        raise SpecError(f"{where}: cannot read the spec ({e.strerror or e})") from None
    try:
        raw = yaml.load(text, Loader=_unique_key_loader())  # noqa: S506 - a SafeLoader subclass
    except SpecError as e:
        raise SpecError(f"{where}: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        why = " ".join(str(getattr(e, "problem", None) or e).split())
        raise SpecError(f"{where}: not valid YAML{at} ({why})") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: a sweep spec is a mapping with keys {', '.join(SPEC_KEYS)}")
    unknown = [k for k in raw if k not in SPEC_KEYS]
    if unknown:
        raise _spec_err(where, str(unknown[0]), f"unknown key (a spec has {', '.join(SPEC_KEYS)})")

    nb_rel = raw.get("notebook")
    if not isinstance(nb_rel, str) or not nb_rel:
        raise _spec_err(where, "notebook", "missing: give the notebook's path from the repository root")
    nb_path = _resolve(nb_rel)
    if not nb_path.is_file():
        raise _spec_err(where, "notebook", f"{nb_rel} does not exist (looked for {nb_path})")
    try:
        declared = papermill.inspect_notebook(str(nb_path))
    except Exception as e:  # unreadable notebook
        raise _spec_err(where, "notebook", f"cannot inspect {nb_rel}: {type(e).__name__}: {e}") from None
    if RUNNER_PARAM not in declared:
        raise _spec_err(where, "notebook", f"{nb_rel} declares no `{RUNNER_PARAM}` parameter; the runner "
                        "needs one to collect the run's files")

    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise _spec_err(where, "description", "must be text")

    fixed_raw = raw.get("parameters") or {}
    grid_raw = raw.get("grid") or {}
    for key, val in (("parameters", fixed_raw), ("grid", grid_raw)):
        if not isinstance(val, dict):
            raise _spec_err(where, key, f"must be a mapping of parameter name to value, got {type(val).__name__}")

    parsed_names: set[str] | None = None

    def check_name(key: str, name: Any) -> None:
        nonlocal parsed_names
        if not isinstance(name, str):
            raise _spec_err(where, key, f"parameter names are text, got {name!r}")
        if name == RUNNER_PARAM:
            raise _spec_err(where, key, f"`{RUNNER_PARAM}` is set by the runner (each run writes into its "
                            "own folder under the sweep's output); remove it and use `output:` for the sweep folder")
        if name not in declared:
            if parsed_names is None:
                parsed_names = _parameters_cell_names(nb_path)
            if name in parsed_names:
                why = ("is assigned in its parameters cell, but papermill cannot read that line "
                       "(e.g. `x: float | None = None`; write `x: Optional[float] = None`)")
            else:
                why = "does not declare it"
            known = ", ".join(sorted(k for k in declared if k != RUNNER_PARAM))
            raise _spec_err(where, key, f"unknown parameter: {nb_rel} {why}. Its parameters: {known}")

    fixed: dict[str, Any] = {}
    for name, value in fixed_raw.items():
        check_name(f"parameters.{name}", name)
        fixed[name] = _check_value(where, f"parameters.{name}", value, declared[name])

    grid: dict[str, list[Any]] = {}
    for name, values in grid_raw.items():
        key = f"grid.{name}"
        check_name(key, name)
        if name in fixed:
            raise _spec_err(where, key, "also set under parameters; a parameter is either fixed or swept")
        if not isinstance(values, list):
            raise _spec_err(where, key, f"must be a list of values, got {values!r} (write [{values!r}] for one value)")
        if not values:
            raise _spec_err(where, key, "empty list: the grid would have no runs")
        grid[name] = [_check_value(where, f"{key}[{i}]", v, declared[name]) for i, v in enumerate(values)]

    if output is not None:
        out = _resolve(output)
    elif raw.get("output") is not None:
        if not isinstance(raw["output"], str) or not raw["output"]:
            raise _spec_err(where, "output", "must be a folder path")
        out = _resolve(raw["output"])
    else:
        out = repo_root() / "outputs" / "sweeps" / path.stem

    spec = SweepSpec(path=path.resolve(), name=path.stem, notebook=nb_rel, notebook_path=nb_path,
                     output=out, parameters=fixed, grid=grid, declared=declared, description=description)
    # Duplicate runs (e.g. seed: [1, 1], or 1 and 1.0 for a float parameter).
    seen: dict[str, dict[str, Any]] = {}
    for params, grid_values in _combinations(spec):
        h = params_hash(params)
        if h in seen:
            raise _spec_err(where, "grid", f"duplicate run {grid_values} (the same parameters twice; "
                            "check the lists for repeated values)")
        seen[h] = grid_values
    return spec


def _canonical(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def params_hash(params: Mapping[str, Any]) -> str:
    """sha256 hex digest of the canonical JSON of a run's parameters (without ``output_dir``)."""
    return hashlib.sha256(_canonical(params).encode()).hexdigest()


def _combinations(spec: SweepSpec) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    keys = list(spec.grid)
    for values in itertools.product(*(spec.grid[k] for k in keys)):
        grid_values = dict(zip(keys, values, strict=True))
        yield {**spec.parameters, **grid_values}, grid_values


def _slug_value(v: Any) -> str:
    if isinstance(v, bool):
        s = str(v).lower()
    elif isinstance(v, float):
        s = repr(v)
    elif isinstance(v, list | dict):
        s = json.dumps(v, separators=(",", "="))
    else:
        s = str(v)
    return re.sub(r"[^A-Za-z0-9.+=-]+", "-", s).strip("-") or "x"


def run_id(grid_values: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """The folder name of a run: a readable slug of its grid values and 8 hex digits of its hash."""
    slug = "_".join(f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', k)}-{_slug_value(v)}" for k, v in grid_values.items())
    slug = (slug or "run")[:_MAX_SLUG].rstrip("-_")
    return f"{slug}__{params_hash(params)[:8]}"


def _read_status(folder: Path) -> dict[str, Any] | None:
    try:
        st = json.loads((folder / STATUS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return st if isinstance(st, dict) else None


def _previous(run_folder: Path, h: str, notebook: str) -> str | None:
    st = _read_status(run_folder)
    if st is None or st.get("params_hash") != h or st.get("notebook") != notebook:
        return None
    return st.get("status") if st.get("status") in ("ok", "failed") else None


def plan(spec: SweepSpec) -> list[Run]:
    """The sweep's runs in grid order, each with what an earlier call left in its folder."""
    runs = []
    for params, grid_values in _combinations(spec):
        h = params_hash(params)
        rid = run_id(grid_values, params)
        folder = spec.output / rid
        runs.append(Run(rid, params, grid_values, h, folder, _previous(folder, h, spec.notebook)))
    return runs
