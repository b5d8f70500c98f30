"""Multi-seed evidence committed with the book: a finished sweep copied into ``evidence/<name>/``.

``outputs/`` is not committed, so a statement about several seeds cites a copy of the sweep's table
made by :func:`export_sweep` (``python -m helpers.evidence outputs/sweeps/imbalance``)::

    evidence/imbalance/
        results.csv      the sweep's results table (one row per run, setup and threshold)
        sweep.json       the sweep's manifest: notebook, fixed parameters, grid, runs
        spec.yaml        the sweep spec that made it
        claims.csv       the sweep's claims table (helpers.claims.sweep_table)
        claims_by_run.csv  every claim of every run: run, grid values, claim id, status
        tables.csv       the other tables each run recorded (a metrics.json key holding a list of
                         flat records, e.g. notebook 02's ``cardinality``): one row per entry, with
                         the run's id and parameters and the ``table`` it came from
        provenance.json  commit, environment, threads, package versions and code hashes of the runs,
                         wall time, when it was copied

:func:`load` reads such a folder (or a live sweep folder), :func:`seed_stats` turns a results table
into mean ± standard deviation over seeds, and :func:`pm` formats one such figure the same way
everywhere, so a test can recompute every quoted figure from the committed table. Whether a
difference between setups is one is judged by :mod:`helpers.stats` (paired t-intervals, Holm, a
smallest effect of interest), not here. ``provenance.json`` records the commit, environment, thread
settings, package versions and the sha256 of the notebook and ``helpers/`` modules that made the set
(:func:`make_provenance`); :func:`code_changes` lists what changed since.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from helpers import claims, results

FILES = ("results.csv", "sweep.json", "spec.yaml", "claims.csv", "claims_by_run.csv", "tables.csv", "provenance.json")
TABLES_NAME = "tables.csv"
# metrics.json keys that are not a run's own extra tables (results.csv and the claims files hold the first ones)
NOT_TABLES = frozenset({"results", "claims", "training", "params", "env", "notebook"})


def _abs(p: str | os.PathLike) -> Path:
    p = Path(p)
    return p if p.is_absolute() else results.repo_root() / p


def _check_dest(out: Path, manifest: dict[str, Any], force: bool) -> None:
    """Refuse a destination that is a file (or under one), or that holds another sweep's evidence
    (another sweep name or notebook in its ``sweep.json``) or files that are not evidence, unless ``force``."""
    for part in (out, *out.parents):
        if part.exists() and not part.is_dir():
            raise ValueError(f"cannot write the evidence to {results.display_path(out)}: "
                             f"{results.display_path(part)} is a file, not a folder; give another destination")
    if force or not out.is_dir() or not any(out.iterdir()):
        return
    try:
        owner = results.read_json(out / claims.MANIFEST_NAME)
    except (FileNotFoundError, ValueError):
        owner = None
    if not isinstance(owner, dict):
        raise ValueError(f"{results.display_path(out)} already holds files and no sweep's {claims.MANIFEST_NAME}; "
                         f"exporting there would mix them with this sweep's evidence. Give another destination, "
                         f"or pass --force to write there anyway")
    if (owner.get("sweep"), owner.get("notebook")) != (manifest.get("sweep"), manifest.get("notebook")):
        raise ValueError(f"{results.display_path(out)} holds the evidence of another sweep ({owner.get('sweep')!r} of "
                         f"{owner.get('notebook')}); exporting {manifest.get('sweep')!r} of {manifest.get('notebook')} "
                         f"there would overwrite it. Give another destination, or pass --force to replace it")


def export_sweep(sweep_dir: str | os.PathLike, dest: str | os.PathLike | None = None, *,
                 force: bool = False) -> Path:
    """Copy a finished sweep folder's table, manifest, spec, claims and provenance into ``dest``
    (default ``evidence/<sweep name>``). Refuses an incomplete sweep (a planned run without its
    ``status.json``), a sweep whose runs all failed, a sweep whose spec file is gone, and runs made
    at commits that differ in ``helpers/`` or the notebook, since the evidence must say which code
    made it; refuses a destination that is a file or holds another sweep's evidence (unless
    ``force``). Everything is checked, and every file made in a temporary folder beside ``dest``,
    before anything in ``dest`` is replaced, so a refusal or an error leaves ``dest`` as it was."""

    src = _abs(sweep_dir)
    manifest_path = src / claims.MANIFEST_NAME
    if not manifest_path.exists():
        raise FileNotFoundError(f"{results.display_path(src)} has no {claims.MANIFEST_NAME}: not a sweep folder")
    manifest = results.read_json(manifest_path)
    missing = [r["run_id"] for r in manifest["runs"] if not (src / r["run_id"] / claims.STATUS_NAME).exists()]
    if missing:
        raise ValueError(f"{len(missing)} of {len(manifest['runs'])} runs of {results.display_path(src)} are not "
                         f"done (first: {missing[0]}); finish the sweep before exporting it")
    statuses = [results.read_json(src / r["run_id"] / claims.STATUS_NAME) for r in manifest["runs"]]
    if statuses and not any(st.get("status") == "ok" for st in statuses):
        err = statuses[0].get("error") or {}
        raise ValueError(f"all {len(statuses)} runs of {results.display_path(src)} failed (first: {err.get('type')}: "
                         f"{str(err.get('message'))[:160]}); there is nothing to export as evidence. Fix the cause "
                         f"and rerun the sweep")
    spec = _abs(manifest["spec"])
    if not spec.is_file():
        raise FileNotFoundError(f"the spec that made {results.display_path(src)}, {manifest['spec']}, is no longer "
                                f"there (moved or deleted); restore it there, or rerun the sweep from its spec")
    envs = []
    for r in manifest["runs"]:
        rec = src / r["run_id"] / results.RECORD_NAME
        if rec.exists():
            envs.append(results.read_json(rec).get("env", {}))
    commits = sorted({e.get("git_commit") for e in envs}, key=str)
    if len(commits) > 1 and not _same_code(commits, manifest["notebook"]):
        raise ValueError(f"the runs of {results.display_path(src)} come from commits {commits} that differ in helpers/ "
                         f"or {manifest['notebook']}; rerun the sweep from one commit (delete the folder) first")
    final = _abs(dest) if dest is not None else results.repo_root() / "evidence" / manifest["sweep"]
    _check_dest(final, manifest, force)
    with staged(final, FILES) as out:
        _write_evidence(out, src, manifest, statuses, envs, commits, spec)
    return final


@contextlib.contextmanager
def staged(final: Path, files: Sequence[str]) -> Iterator[Path]:
    """A fresh staging folder beside ``final`` to write ``files`` into; when the block ends without an
    error they replace those in ``final`` (created if needed), and the staging folder is removed either
    way, so a refusal or an error leaves ``final`` as it was."""
    final.parent.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix=f".{final.name}.staging-", dir=final.parent))
    try:
        yield out
        final.mkdir(exist_ok=True)
        for name in files:
            os.replace(out / name, final / name)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _write_evidence(out: Path, src: Path, manifest: dict[str, Any], statuses: list[dict[str, Any]],
                    envs: list[dict[str, Any]], commits: list[Any], spec: Path) -> None:
    """Write the evidence files of :data:`FILES` into ``out`` (a fresh folder)."""
    from helpers import sweep as sweep_mod

    manifest_path = src / claims.MANIFEST_NAME
    table = sweep_mod.read_results(src)
    results.write_bytes_atomic(out / "results.csv", table.to_csv(index=False).encode("utf-8"))
    shutil.copyfile(manifest_path, out / "sweep.json")
    shutil.copyfile(spec, out / "spec.yaml")
    ctable = claims.sweep_table(src)
    results.write_bytes_atomic(out / "claims.csv", ctable.to_csv(index=False).encode("utf-8"))
    rows = []
    for st in statuses:
        folder = src / st["run_id"]
        recs = claims.read_claims(folder) if ((folder / claims.CLAIMS_NAME).exists()
                                              or (folder / results.RECORD_NAME).exists()) else []
        for c in recs:
            rows.append({"run_id": st["run_id"], **(st.get("grid") or {}), "claim": c["id"], "status": c["status"],
                         "evidence": claims.format_evidence(c["evidence"]), "why_not": c["why_not"]})
    by_run = pd.DataFrame(rows)
    results.write_bytes_atomic(out / "claims_by_run.csv", by_run.to_csv(index=False).encode("utf-8"))
    results.write_bytes_atomic(out / TABLES_NAME, record_tables(src, statuses).to_csv(index=False).encode("utf-8"))
    provenance = make_provenance(manifest, src, statuses, envs, commits)
    results.write_json_atomic(out / "provenance.json", provenance)
    return out


def _flat(v: Any) -> bool:
    return v is None or isinstance(v, bool | int | float | str)


def record_tables(src: Path, statuses: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The extra tables the ok runs of a sweep folder recorded: every ``metrics.json`` key (outside
    :data:`NOT_TABLES`) whose value is a non-empty list of mappings, one row per entry with its scalar
    fields, after the run's ``run_id``, its parameters (a list parameter as JSON, as in ``results.csv``)
    and ``table`` (the key). A field named like a parameter is prefixed ``entry.``."""
    import json

    rows = []
    for st in statuses:
        rec_path = src / st["run_id"] / results.RECORD_NAME
        if st.get("status") != "ok" or not rec_path.exists():
            continue
        rec = results.read_json(rec_path)
        base = {"run_id": st["run_id"], **{k: v if _flat(v) else json.dumps(v)
                                           for k, v in (st.get("params") or {}).items()}}
        for key, value in rec.items():
            if key in NOT_TABLES or not isinstance(value, list) or not value or not all(isinstance(e, dict) for e in value):
                continue
            for e in value:
                row = {**base, "table": key}
                row.update({(f"entry.{k}" if k in row else k): v for k, v in e.items() if _flat(v)})
                rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["run_id", "table"])


ENV_KEYS = ("python", "torch", "sklearn", "numpy", "platform", "cpu_count", "torch_threads", "cpu_capability",
            "float_fingerprint", "device", "device_name")
PACKAGES = ("torch", "numpy", "scipy", "scikit-learn", "pandas", "papermill", "nbclient", "ipykernel", "dask",
            "distributed", "matplotlib", "seaborn", "iterative-stratification", "cleanlab")


def make_provenance(manifest: dict[str, Any], src: Path, statuses: Sequence[dict[str, Any]],
                    envs: Sequence[dict[str, Any]], commits: Sequence[str | None]) -> dict[str, Any]:
    """What made an evidence set: the runs' commit, environment and thread settings, the versions of
    the book's packages, and the sha256 of the notebook and of every ``helpers/`` module at that commit
    (``code``: a superset of the modules the notebook imports; :func:`code_changes` compares them with
    the working tree), with the runs' count, wall time and hosts."""
    env = envs[0] if envs else {}
    commit = commits[-1] if commits else None
    packages = _package_versions()
    same_env = all(e.get("torch") == packages.get("torch") for e in envs if e.get("torch"))
    return {
        "sweep": manifest["sweep"], "source": results.display_path(src), "copied": pd.Timestamp.now("UTC").isoformat(),
        "commit": commit,
        "commits": list(commits),  # several only when they differ outside helpers/ and the notebook (checked)
        "env": {k: env.get(k) for k in ENV_KEYS},
        # the exporting environment's versions; `packages_match_runs` says whether its torch is the runs' torch
        "packages": packages, "packages_match_runs": same_env,
        "threads": {"torch_threads": sorted({e.get("torch_threads") for e in envs}, key=str),
                    "omp_num_threads": sorted({s.get("threads") for s in statuses}, key=str)},
        "code": code_hashes(commit, manifest["notebook"]),
        "runs": len(statuses), "ok": sum(s["status"] == "ok" for s in statuses),
        "run_seconds": round(sum(s.get("seconds") or 0 for s in statuses), 1),
        "first_start": min(s.get("started") or "" for s in statuses), "last_finish": max(s.get("finished") or "" for s in statuses),
        "hosts": sorted({s.get("host") or "" for s in statuses}),
    }


def _package_versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def code_hashes(commit: str | None, notebook: str) -> dict[str, Any]:
    """sha256 of ``notebook`` and of every ``helpers/**/*.py`` as committed at ``commit`` (read with
    ``git show``), or of the working tree's files when there is no commit or git cannot read it."""
    root = results.repo_root()
    if commit:
        ls = subprocess.run(["git", "ls-tree", "-r", "--name-only", commit, "--", "helpers", notebook], cwd=root,
                            capture_output=True, text=True, check=False)
        if ls.returncode == 0 and ls.stdout.strip():
            files = {}
            for path in sorted(ls.stdout.split("\n")):
                if path == notebook or (path.endswith(".py") and path.startswith("helpers/")):
                    blob = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=root, capture_output=True, check=False)
                    if blob.returncode == 0:
                        files[path] = _sha256(blob.stdout)
            return {"from": f"commit {commit}", "files": files}
    paths = [root / notebook, *sorted((root / "helpers").rglob("*.py"))]
    return {"from": "working tree",
            "files": {p.relative_to(root).as_posix(): _sha256(p.read_bytes()) for p in paths if p.is_file()}}


def code_changes(provenance: dict[str, Any]) -> list[str]:
    """The files of an evidence set's ``code`` hashes that differ in (or are gone from) the working tree,
    and the ``helpers/`` modules added since: what may make the committed evidence stale."""
    recorded = (provenance.get("code") or {}).get("files") or {}
    root = results.repo_root()
    changed = [path for path, h in recorded.items()
               if not (root / path).is_file() or _sha256((root / path).read_bytes()) != h]
    added = [p.relative_to(root).as_posix() for p in (root / "helpers").rglob("*.py")
             if p.relative_to(root).as_posix() not in recorded]
    return sorted(changed + added) if recorded else []


def _same_code(commits: Sequence[str | None], notebook: str) -> bool:
    """Whether every pair of ``commits`` has the same ``helpers/`` and ``notebook`` (git diff)."""
    if None in commits:
        return False
    first = commits[0]
    for c in commits[1:]:
        diff = subprocess.run(["git", "diff", "--quiet", first, c, "--", "helpers", notebook],
                              cwd=results.repo_root(), capture_output=True, check=False)
        if diff.returncode != 0:
            return False
    return True


@dataclass
class Evidence:
    """A sweep's results as committed evidence (or read live from a sweep folder)."""

    folder: Path
    manifest: dict[str, Any]
    table: pd.DataFrame
    claims: pd.DataFrame
    provenance: dict[str, Any]
    tables: pd.DataFrame | None = None  # tables.csv: the runs' other recorded tables (None: the set has none)


def load(folder: str | os.PathLike) -> Evidence:
    """Read ``evidence/<name>`` (what :func:`export_sweep` wrote) or a sweep's output folder."""
    f = _abs(folder)
    if not (f / claims.MANIFEST_NAME).exists():
        raise FileNotFoundError(f"{results.display_path(f)} holds no {claims.MANIFEST_NAME}: give an evidence folder "
                                f"(evidence/<name>) or a sweep's output folder (outputs/sweeps/<name>)")
    manifest = results.read_json(f / claims.MANIFEST_NAME)
    if (f / "provenance.json").exists():  # committed evidence
        table = pd.read_csv(f / "results.csv")
        ctable = pd.read_csv(f / "claims.csv", keep_default_na=False)
        provenance = results.read_json(f / "provenance.json")
        tables = pd.read_csv(f / TABLES_NAME) if (f / TABLES_NAME).exists() else None
    else:  # a live sweep folder
        from helpers import sweep as sweep_mod

        table, ctable, provenance = sweep_mod.read_results(f), claims.sweep_table(f), {}
        statuses = [results.read_json(f / r["run_id"] / claims.STATUS_NAME) for r in manifest["runs"]
                    if (f / r["run_id"] / claims.STATUS_NAME).exists()]
        tables = record_tables(f, statuses)
    return Evidence(f, manifest, table, ctable, provenance, tables)


def pm(mean: float, std: float, digits: int = 3) -> str:
    """A mean ± standard deviation as the book prints it: ``0.776 ± 0.013``."""
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def seed_stats(table: pd.DataFrame, by: Sequence[str], metric: str) -> pd.DataFrame:
    """Mean, standard deviation (ddof=1) and number of seeds of ``metric`` over the ok runs,
    grouped by ``by`` (e.g. ``["tail", "threshold", "setup"]``)."""
    ok = table[table["status"] == "ok"] if "status" in table.columns else table
    g = ok.groupby(list(by))[metric].agg(["mean", "std", "count"])
    return g.rename(columns={"count": "seeds"})


def paired_gaps(table: pd.DataFrame, level: str, metric: str, baseline: str, threshold: str | None = None) -> pd.DataFrame:
    """Per seed, each setup's ``metric`` minus the baseline's on the same run (same data, same seed),
    then mean, standard deviation and count over seeds, per ``level`` value and setup. A description
    of the spread only: whether a difference is one is judged by :func:`helpers.stats.judge_table`
    (t-intervals, Holm across the table, a smallest effect of interest)."""
    ok = table[table["status"] == "ok"] if "status" in table.columns else table
    if threshold is not None:
        ok = ok[ok["threshold"].astype(str) == threshold]
    wide = ok.pivot_table(index=[level, "seed"], columns="setup", values=metric)
    gaps = wide.sub(wide[baseline], axis=0).drop(columns=baseline)
    return gaps.stack().rename("gap").reset_index().groupby([level, "setup"])["gap"].agg(["mean", "std", "count"])


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m helpers.evidence",
                                 description="copy a finished sweep's table, spec, claims and provenance into evidence/")
    ap.add_argument("sweep_dir", help="the sweep's output folder, e.g. outputs/sweeps/imbalance")
    ap.add_argument("dest", nargs="?", help="default: evidence/<sweep name>")
    ap.add_argument("--force", action="store_true",
                    help="replace the evidence of another sweep (or other files) in dest")
    a = ap.parse_args(argv)
    try:
        out = export_sweep(a.sweep_dir, a.dest, force=a.force)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {', '.join(FILES)} to {results.display_path(out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
