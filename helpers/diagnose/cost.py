"""What the checker costs: :func:`measure` times ``check_setup`` on the book's CNN (one batch of the
digit scenes) and on a 1,000-label MLP, and ``Monitor.update`` per step of a training loop (the
book's CNN, logits and targets of one batch, the gradient norm from the model). Run it as
``python -m helpers.diagnose.cost``; it prints the medians over ``repeats`` timed calls after one
warm-up call. Timings depend on the machine and its load: they are reported, never asserted."""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from helpers.diagnose.check import check_setup
from helpers.diagnose.monitor import Monitor


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: lazy imports, allocator
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(repeats: int = 3, steps: int = 200, batch_size: int = 128, seed: int = 0) -> dict[str, float]:
    """Seconds per ``check_setup`` (book CNN; 1,000-label MLP) and microseconds per ``Monitor.update``."""
    from helpers import data as data_mod
    from helpers import models

    d = data_mod.make_scenes(n_train=512, n_val=64, n_test=64, seed=seed)
    x, y = torch.as_tensor(d.X_train[:batch_size]), torch.as_tensor(d.Y_train[:batch_size])
    cnn = models.build_model(d, seed=seed)
    opt = torch.optim.Adam(cnn.parameters(), lr=3e-3)
    crit = nn.BCEWithLogitsLoss()
    out: dict[str, float] = {}
    out["check_setup_cnn_s"] = _median_seconds(
        lambda: check_setup(cnn, crit, x, y, optimizer=opt, train_targets=d.Y_train), repeats)

    g = torch.Generator().manual_seed(seed)
    n_feat, n_labels = 100, 1000
    xm = torch.randn(batch_size, n_feat, generator=g)
    ym = (torch.rand(batch_size, n_labels, generator=g) < 0.01).float()
    tt = (torch.rand(5000, n_labels, generator=g) < 0.01).float()
    mlp = models.build_model((n_feat,), n_labels, seed=seed)
    opt_m = torch.optim.Adam(mlp.parameters(), lr=1e-3)
    out["check_setup_mlp_1000_labels_s"] = _median_seconds(
        lambda: check_setup(mlp, crit, xm, ym, optimizer=opt_m, train_targets=tt), repeats)

    # Monitor.update per step: the forward/backward are done once, the update timed alone
    cnn.train()
    logits = cnn(x)
    loss = crit(logits, y)
    loss.backward()
    mon = Monitor(d.n_labels, train_targets=d.Y_train)
    mon.update(loss=loss, outputs=logits, targets=y, model=cnn)  # first update: the width and the outputs' form

    def run_updates(with_model: bool):
        t0 = time.perf_counter()
        for _ in range(steps):
            mon.update(loss=loss, outputs=logits, targets=y, model=cnn if with_model else None,
                       grad_norm=None if with_model else 1.0)
        return (time.perf_counter() - t0) / steps

    out["monitor_update_us"] = 1e6 * statistics.median(run_updates(True) for _ in range(repeats))
    out["monitor_update_no_grad_norm_us"] = 1e6 * statistics.median(run_updates(False) for _ in range(repeats))
    out["monitor_report_ms"] = 1e3 * _median_seconds(mon.report, repeats)
    out["torch_threads"] = float(torch.get_num_threads())
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m helpers.diagnose.cost", description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=200)
    a = p.parse_args(argv)
    if a.repeats < 1 or a.steps < 1:
        p.error("--repeats and --steps must be >= 1")
    for k, v in measure(a.repeats, a.steps).items():
        print(f"{k:34s} {v:10.3f}" if not k.endswith("threads") else f"{k:34s} {int(v):10d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
