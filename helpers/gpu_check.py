"""GPU check: ``python -m helpers.gpu_check`` (``make gpu-check``), for a machine with a CUDA GPU.

One command, four steps, one summary table at the end (also written to
``outputs/gpu_check/summary.json``):

1. the CUDA unit tests, ``pytest -m cuda tests`` (``tests/test_cuda.py``: fit on the GPU, bf16
   autocast, deterministic cuBLAS, every trainable loss setup on the device);
2. notebook 03 with ``device=cuda`` at a scale that keeps a GPU busy (:data:`SCALE`);
3. notebook 04 likewise, with ``amp=True`` (bf16 autocast; notebook 03 has no ``amp`` parameter);
4. the training-loop benchmark on the GPU (:mod:`helpers.bench`: staged slicing vs ``DataLoader``).

Sized to finish in under 4 minutes on one H100 (its ``--budget``; the summary says when a run went
over). On a machine without CUDA it stops at once with one line and exit status 2. Exit status 1
when a step failed. The executed notebooks land in ``outputs/gpu_check/<stem>/``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from typing import Any

from helpers.results import display_path, read_json, repo_root, write_json_atomic

# Bigger than the CPU defaults (2,000 / 4,000 training scenes) so the GPU has work to do; the
# batch size stays the book's 128, because notebook 04's claims about batches are about that size.
SCALE = {"n_train": 40_000, "n_val": 5_000, "n_test": 10_000}
NOTEBOOKS = {
    "03_bce_with_logits": {"device": "cuda", **SCALE},
    # six fits of 15 epochs: half the scale keeps the whole check under 4 minutes (160 s at full scale on an H200)
    "04_pos_weight_imbalance": {"device": "cuda", "amp": True, **{k: v // 2 for k, v in SCALE.items()}},
}
BENCH = {"n_train": 20_000, "epochs": 3, "batch_size": 128, "repeats": 2}
BUDGET_S = 240.0
CUDA_TEST_FILES = ("tests/test_cuda.py", "tests/test_diagnose.py")  # every test marked cuda lives here


class NoCuda(RuntimeError):
    """Raised (and reported in one line) when this machine has no usable CUDA device."""


def require_cuda() -> str:
    """The CUDA device's name; raises :class:`NoCuda` with the reason when there is none."""
    import torch

    if torch.version.cuda is None:
        raise NoCuda(f"no CUDA here: torch {torch.__version__} is a CPU-only build; run make gpu-check on a "
                     "machine with an NVIDIA GPU and a CUDA build of torch")
    if not torch.cuda.is_available():
        raise NoCuda(f"no CUDA device visible (torch {torch.__version__}, CUDA {torch.version.cuda}); "
                     "check nvidia-smi and CUDA_VISIBLE_DEVICES")
    return torch.cuda.get_device_name(0)


def _step(name: str, fn, rows: list[dict[str, Any]]) -> None:
    print(f"== {name}", flush=True)
    t0 = time.perf_counter()
    try:
        status, detail = fn()
    except Exception as e:  # every step reports; one failing step does not stop the others
        status, detail = "failed", f"{type(e).__name__}: {e}"
    rows.append({"step": name, "status": status, "seconds": round(time.perf_counter() - t0, 1), "detail": detail})
    print(f"   {status} in {rows[-1]['seconds']} s: {detail}", flush=True)


def _unit_tests() -> tuple[str, str]:
    # the files holding CUDA tests, named, so collection needs only what they import (not nbval or dask)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-m", "cuda", *CUDA_TEST_FILES, "-q", "-p", "no:cacheprovider"],
                          cwd=repo_root(), capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    last = lines[-1] if lines else proc.stderr.strip()[-300:]
    if proc.returncode != 0:
        print(proc.stdout[-4000:], proc.stderr[-2000:], sep="\n")
    return ("ok" if proc.returncode == 0 else "failed"), last.strip("= ")


def _notebook(stem: str, parameters: dict[str, Any]):
    def run() -> tuple[str, str]:
        from helpers import book

        nb = repo_root() / "notebooks" / f"{stem}.ipynb"
        out_dir = repo_root() / "outputs" / "gpu_check" / stem
        book.run_notebook(nb, out_dir / nb.name, parameters={**parameters, "output_dir": str(out_dir)})
        rec = read_json(out_dir / "metrics.json")
        training = rec.get("training", {})
        devices = sorted({f.get("device", "?") for f in training.get("fits", [])})
        first = rec["results"][0] if rec.get("results") else {}
        scores = ", ".join(f"{k} {first[k]:.3f}" for k in ("micro_f1", "macro_f1", "map") if k in first)
        return "ok", (f"{len(training.get('fits', []))} fits on {'/'.join(devices) or '?'}, "
                      f"training {training.get('seconds', float('nan')):.1f} s; {first.get('setup', '')} {scores}; "
                      f"{display_path(out_dir)}/")
    return run


def _benchmark() -> tuple[str, str]:
    from helpers import bench

    df = bench.bench("cuda", **BENCH)
    print(bench.format_table(df))
    by = df.set_index("loop")
    return "ok", (f"{BENCH['n_train']} scenes x {BENCH['epochs']} epochs: DataLoader "
                  f"{by.loc['dataloader', 'samples_per_s']:,.0f}/s, staged {by.loc['staged', 'samples_per_s']:,.0f}/s "
                  f"({by.loc['staged', 'vs_dataloader']:.2f}x), fit {by.loc['fit', 'samples_per_s']:,.0f}/s "
                  f"(validation {by.loc['validation', 'share_of_fit']:.0%} of it)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=BUDGET_S, help="seconds the whole check should take")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        gpu = require_cuda()
    except NoCuda as e:
        print(f"gpu-check: {e}", file=sys.stderr)
        return 2
    print(f"gpu-check on {gpu}")
    rows: list[dict[str, Any]] = []
    _step("CUDA unit tests (pytest -m cuda)", _unit_tests, rows)
    for stem, params in NOTEBOOKS.items():
        shown = " ".join(f"-p {k} {v}" for k, v in params.items())
        _step(f"{stem} {shown}", _notebook(stem, params), rows)
    _step("benchmark on cuda (staged vs DataLoader)", _benchmark, rows)
    total = time.perf_counter() - t0

    import pandas as pd

    table = pd.DataFrame(rows).set_index("step")
    print(f"\ngpu-check summary ({gpu})")
    with pd.option_context("display.max_colwidth", 220, "display.width", 300):
        print(table.to_string())
    over = total > args.budget
    print(f"total {total:.0f} s" + (f": OVER the {args.budget:.0f} s budget" if over else f" (budget {args.budget:.0f} s)"))
    write_json_atomic(repo_root() / "outputs" / "gpu_check" / "summary.json",
                      {"gpu": gpu, "seconds": round(total, 1), "budget_s": args.budget, "steps": rows,
                       "scale": SCALE, "bench": BENCH})
    return 0 if (table["status"] == "ok").all() else 1


if __name__ == "__main__":
    raise SystemExit(main())
