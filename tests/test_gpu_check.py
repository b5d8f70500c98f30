"""``make gpu-check`` without CUDA: one clear line and a non-zero exit, before any work starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from helpers import gpu_check, results


def test_without_cuda_it_stops_at_once_with_one_line(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    started = []
    monkeypatch.setattr(gpu_check, "_step", lambda *a: started.append(a))  # no step may start
    assert gpu_check.main([]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gpu-check: no CUDA") and "\n" not in err and started == []


def test_a_cpu_only_torch_build_is_named(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", None)
    try:
        gpu_check.require_cuda()
    except gpu_check.NoCuda as e:
        assert "CPU-only build" in str(e)
    else:
        raise AssertionError("require_cuda accepted a CPU-only torch build")


def test_make_gpu_check_target_fails_cleanly_here():
    if torch.cuda.is_available():
        return  # on a CUDA machine the target runs the whole check; not a unit test's job
    proc = subprocess.run([sys.executable, "-m", "helpers.gpu_check"], cwd=results.repo_root(),
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("gpu-check: no CUDA")


def test_every_cuda_test_file_is_one_the_check_runs():
    """gpu-check collects only the files it names (so it needs no nbval or dask on the GPU machine):
    a CUDA test added elsewhere would silently never run there."""
    root = results.repo_root()
    marked = {f"tests/{p.name}" for p in (root / "tests").glob("test_*.py")
              if p.name != Path(__file__).name and "pytest.mark.cuda" in p.read_text(encoding="utf-8")}
    assert marked == set(gpu_check.CUDA_TEST_FILES), (
        f"files with @pytest.mark.cuda {sorted(marked)} differ from gpu_check.CUDA_TEST_FILES "
        f"{sorted(gpu_check.CUDA_TEST_FILES)}: list every file holding a CUDA test there")


def test_the_checked_scale_exceeds_the_cpu_defaults():
    """The notebooks run bigger than their CPU defaults on the GPU (what the check is for)."""
    assert gpu_check.NOTEBOOKS["03_bce_with_logits"]["n_train"] > 2000
    assert gpu_check.NOTEBOOKS["04_pos_weight_imbalance"]["n_train"] > 4000
    assert all(p["device"] == "cuda" for p in gpu_check.NOTEBOOKS.values())
