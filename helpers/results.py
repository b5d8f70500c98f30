"""Run records: where a run writes, and the JSON record of its parameters, environment and results.

Every file the book writes goes through this module (figures through :mod:`helpers.plots`, which
calls :func:`output_dir`). A record is written atomically: to a temporary file in the same folder,
then renamed over the target, so a reader never sees a half-written ``metrics.json``
(:func:`write_bytes_atomic`, the one atomic writer of the project; a temp file left by a killed
writer names its process and is removed by the next write, see :func:`remove_stale_temps`).

Record format (``metrics.json``)::

    {"notebook": "02_wrong_loss_failure", "params": {...}, "env": {...},
     "results": [{"setup": "bce_with_logits", "micro_f1": ..., "per_label": [...], ...}, ...],
     "training": {"fits": [{"setup": "bce_with_logits", "seconds": 2.1, "epochs": 15, ...}, ...],
                  "seconds": ...},
     ...extra keys...}

``training`` lists every :func:`helpers.train.fit` this process ran (fits log themselves here
through :func:`log_fit`), so a record shows where its notebook's time went; a notebook's process
is its kernel, so under papermill that is the notebook's own fits (in an interactive session that
has rerun cells, every fit since the kernel started; :func:`clear_fit_log` starts afresh).

A run is marked incomplete while it runs: :func:`start_run` (called by ``helpers.claims.Ledger``,
which every notebook makes right after its parameters are checked) writes ``INCOMPLETE_RUN.json``
into the output folder, and :func:`write_record` (the notebook's last step) removes it. A run
that fails or is interrupted leaves the marker beside the files it wrote and those of an earlier
run; the readers (:func:`read_record`, :func:`read_records`, ``helpers.claims.read_claims``,
the book's table) refuse or skip such a folder (:func:`check_complete`), so nobody mixes two runs.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import json
import math
import os
import platform
import re
import secrets
import socket
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RECORD_NAME = "metrics.json"
INCOMPLETE_NAME = "INCOMPLETE_RUN.json"  # present while a run is in progress, and after one that stopped
_FIT_LOG: list[dict[str, Any]] = []  # this process's training runs, oldest first (see log_fit)


def repo_root() -> Path:
    """The repository root: the folder that holds ``helpers/``."""
    return Path(__file__).resolve().parent.parent


def output_dir(path: str | os.PathLike) -> Path:
    """Resolve a notebook's ``output_dir`` parameter and create the folder.

    Relative paths are taken relative to the repository root (so ``outputs/01_data_inspection``
    lands in the same place whatever the kernel's working directory); absolute paths are kept.
    """
    if not isinstance(path, str | os.PathLike) or not str(path).strip():
        raise ValueError(f"output_dir={path!r} is {type(path).__name__}: give a folder path such as 'outputs/my_run'")
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = repo_root() / p
    for part in (p, *p.parents):
        if part.exists() and not part.is_dir():
            raise ValueError(f"output_dir={str(path)!r}: {display_path(part)} is a file, not a folder; "
                             f"give another folder path")
    p.mkdir(parents=True, exist_ok=True)
    return p


def display_path(path: str | os.PathLike) -> str:
    """A path as a reader should see it: relative to the repository root when inside it."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(repo_root()))
    except ValueError:
        return str(p)


def jsonable(obj: Any, fallback: Callable[[Any], Any] | None = None) -> Any:
    """Convert numpy/pandas/torch scalars and arrays to plain JSON types; NaN/inf become None.

    Other objects are returned as they are (``json.dumps`` then rejects them), or passed through
    ``fallback`` (e.g. ``str``) when one is given."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v, fallback) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, fallback) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist(), fallback)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, pd.DataFrame):
        return jsonable(obj.to_dict(orient="records"), fallback)
    if isinstance(obj, pd.Series):
        return jsonable(obj.to_dict(), fallback)
    if hasattr(obj, "tolist") and callable(obj.tolist):  # torch tensors without importing torch
        return jsonable(obj.tolist(), fallback)
    if obj is None or isinstance(obj, (str, bool, int)) or fallback is None:
        return obj
    return fallback(obj)


_TEMP_SUFFIX = ".tmp"
_TEMP_RE = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)-(?P<host>[0-9a-f]{6})-[0-9a-f]{8}\.tmp$")
_LEGACY_TEMP_RE = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$")  # tempfile.mkstemp's names (before)


@functools.lru_cache(maxsize=1)
def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


def _temp_name(target: str) -> str:
    """``.<target>.<pid>-<host>-<random>.tmp``: hidden, and naming the process that writes it."""
    return f".{target}.{os.getpid()}-{_host_tag()}-{secrets.token_hex(4)}{_TEMP_SUFFIX}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else (or no way to tell): keep its file
        return True
    return True


def remove_stale_temps(folder: str | os.PathLike, *, target: str | None = None, any_pid: bool = False,
                       recursive: bool = False) -> list[Path]:
    """Remove temporary files that :func:`write_bytes_atomic` left in ``folder`` when its process
    was killed between creating and renaming them (SIGKILL, power loss). By default only those of
    dead processes on this machine (the name holds the writer's pid and host); ``any_pid=True``
    removes every one, for callers that hold a lock guaranteeing no other writer (the sweep
    runner). ``target`` limits it to the temps of one file name. Returns the removed paths."""
    folder = Path(folder)
    pattern = f".{glob.escape(target)}.*{_TEMP_SUFFIX}" if target else f".*{_TEMP_SUFFIX}"
    found = folder.rglob(pattern) if recursive else folder.glob(pattern)
    removed = []
    for p in found:
        m = _TEMP_RE.match(p.name)
        legacy = None if m or not any_pid else _LEGACY_TEMP_RE.match(p.name)
        if (m or legacy) is None or (target is not None and (m or legacy)["target"] != target):
            continue
        if not any_pid and (m["host"] != _host_tag() or _pid_alive(int(m["pid"]))):
            continue
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
            p.unlink()
            removed.append(p)
    return removed


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: a temp file in the same folder, fsync, then rename.
    A reader sees the old file or the new one, never half of it; a failure leaves the old file.

    The file gets the usual mode for new files under the process's umask (e.g. 0644), not the
    0600 of ``tempfile.mkstemp``. The temp file's name holds this process's pid, so a temp left
    by a killed writer is recognised and removed by the next write of the same file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.parent / _temp_name(path.name)
        try:
            fd = os.open(tmp, flags, 0o666)  # the kernel applies the umask, as for any new file
            break
        except FileExistsError:  # pragma: no cover - 32 random bits taken by chance
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    remove_stale_temps(path.parent, target=path.name)
    return path


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (see :func:`write_bytes_atomic`)."""
    text = json.dumps(jsonable(obj), indent=2, allow_nan=False)
    return write_bytes_atomic(path, (text + "\n").encode("utf-8"))


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file written by :func:`write_json_atomic`, with a clear error if it is unusable."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"no record at {display_path(path)}: run the notebook that writes it first") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{display_path(path)} is not valid JSON ({e}); delete it and rerun") from None


def git_commit() -> str | None:
    """The checkout's HEAD commit (12 hex digits), or None outside git."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=repo_root(), capture_output=True, text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


@functools.cache
def float_fingerprint() -> str:
    """A short hash of what this machine's CPU float kernels give for three training steps of the book's
    :class:`~helpers.models.SmallCNN` at one torch thread (fixed inputs, weights and targets).

    Two machines with the same fingerprint give the same floats for the book's one-thread CPU runs; the
    kernel family (``cpu_capability``) alone does not say so: on 2026-11-30 the same AVX-512 code, packages
    and thread count gave other floats on another Xeon model (oneDNN and MKL block their loops by the
    caches they find), and after 10-45 epochs the difference is the size of the effects the book judges."""
    import torch

    from helpers.models import SmallCNN

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        g = torch.Generator().manual_seed(0)
        x = torch.rand(64, 1, 16, 16, generator=g)
        y = (torch.rand(64, 10, generator=g) < 0.3).float()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            net = SmallCNN((1, 16, 16), 10)
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        for _ in range(3):
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(net(x), y).backward()
            opt.step()
        h = hashlib.sha256()
        for t in net.state_dict().values():
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:12]
    finally:
        torch.set_num_threads(threads)


def env_info(device: str | None = None) -> dict[str, Any]:
    """Versions, device and machine facts to store beside a run's results."""
    import sklearn
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = str(device)
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "float_fingerprint": float_fingerprint(),
        "device": dev,
        "device_name": torch.cuda.get_device_name(0) if dev.startswith("cuda") else platform.processor() or "cpu",
        "git_commit": git_commit(),
        "executable": sys.executable,
    }
    return info


class StaleOutputError(ValueError):
    """An output folder holds a run that started and did not finish (its marker is still there)."""


def start_run(out_dir: str | os.PathLike, notebook: str = "") -> Path:
    """Mark ``out_dir`` as holding a run in progress (``INCOMPLETE_RUN.json``: notebook, start time,
    process); :func:`write_record` removes the marker when the run completes. Files in the folder
    older than ``started`` are then from an earlier run."""
    import datetime

    folder = Path(out_dir)
    marker = {"notebook": notebook, "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
              "started_epoch": __import__("time").time(), "pid": os.getpid(), "host": socket.gethostname(),
              "note": f"a run is in progress here, or one stopped before writing {RECORD_NAME}: files older than "
                      f"'started' are from an earlier run; rerun the notebook"}
    return write_json_atomic(folder / INCOMPLETE_NAME, marker)


def incomplete_run(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The marker of a run that started in ``folder`` and has not completed, else None."""
    marker = Path(folder) / INCOMPLETE_NAME
    if not marker.is_file():
        return None
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = None
    return info if isinstance(info, dict) else {"notebook": "", "started": "unknown", "started_epoch": 0.0}


def check_complete(folder: str | os.PathLike) -> None:
    """Raise :class:`StaleOutputError` when ``folder`` holds a run that started and did not complete."""
    info = incomplete_run(folder)
    if info is not None:
        nb = f" of {info['notebook']}" if info.get("notebook") else ""
        raise StaleOutputError(f"{display_path(folder)} holds a run{nb} that started {info.get('started')} and did "
                               f"not complete (it failed or was interrupted before writing its record): its "
                               f"{RECORD_NAME} and figures, if any, are from an earlier run. Rerun the notebook")


def log_fit(setup: str, seconds: float, **details: Any) -> None:
    """Note one training run of this process (``helpers.train.fit`` calls this for every fit,
    including fits that raise) for the ``training`` entry of the next record written."""
    _FIT_LOG.append({"setup": setup, "seconds": round(float(seconds), 3), **details})


def clear_fit_log() -> None:
    """Forget the training runs logged so far in this process."""
    _FIT_LOG.clear()


def training_summary() -> dict[str, Any]:
    """``{"fits": [...], "seconds": total}``: every training run this process logged, and their sum."""
    fits = [dict(f) for f in _FIT_LOG]
    return {"fits": fits, "seconds": round(sum(f["seconds"] for f in fits), 3)}


def result_entry(setup: str, metrics: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """One element of a record's ``results`` list: the setup's name, its metrics, and extras
    (``train_seconds``, ``epoch_seconds``, ``device``...)."""
    return {"setup": setup, **dict(metrics), **extra}


def write_record(
    out_dir: str | os.PathLike,
    notebook: str,
    params: Mapping[str, Any],
    results: Iterable[Mapping[str, Any]] = (),
    *,
    device: str | None = None,
    **extra: Any,
) -> Path:
    """Write ``out_dir/metrics.json``: the notebook stem, its parameters, the environment, the
    results list, the ``training`` runs of this process (:func:`training_summary`, unless given
    as an extra key) and any extra keys (data statistics, claims checked)."""
    record = {
        "notebook": notebook,
        "params": dict(params),
        "env": env_info(device),
        "results": list(results),
        "training": training_summary(),
        **extra,
    }
    path = write_json_atomic(Path(out_dir) / RECORD_NAME, record)
    (Path(out_dir) / INCOMPLETE_NAME).unlink(missing_ok=True)  # the run is complete
    return path


def read_record(folder: str | os.PathLike) -> dict[str, Any]:
    """The ``metrics.json`` of a run folder, refused (:class:`StaleOutputError`) when a later run
    started there and did not complete, since the record would then belong to an earlier run."""
    check_complete(folder)
    return read_json(Path(folder) / RECORD_NAME)


def read_records(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Read one or more ``metrics.json`` files (or folders holding them, searched recursively)
    into one tidy table: a row per result, parameters as ``param.*`` columns, per-label lists
    dropped (read them from the record itself). A folder holding an incomplete run raises
    :class:`StaleOutputError` (see :func:`check_complete`)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(sorted(p.rglob(RECORD_NAME)) if p.is_dir() else [p])
    rows = []
    for f in files:
        check_complete(f.parent)
        rec = read_json(f)
        base = {"notebook": rec.get("notebook"), "record": str(f)}
        base.update({f"param.{k}": v for k, v in rec.get("params", {}).items()})
        base["device"] = rec.get("env", {}).get("device")
        for r in rec.get("results", []):
            rows.append({**base, **{k: v for k, v in r.items() if not isinstance(v, (list, dict))}})
    return pd.DataFrame(rows)
