"""Benchmark the training loop: ``python -m helpers.bench`` (``make bench``).

Trains the book's default CNN on the default scenes, same data, model and seed, and times:

1. ``dataloader``: the popular article's style, ``DataLoader(TensorDataset(X, Y), shuffle=True)``
   with per-batch ``.to(device)``: every batch is collated sample by sample;
2. ``staged``: the helpers' inner loop, tensors moved to the device once and sliced per batch;
3. ``fit``: :func:`helpers.train.fit` end to end, which also evaluates on validation each epoch
   (loss, F1, mAP, predicted-positive rate: the history the book plots);
4. ``fit, monitor off``: the same with ``monitor=False``, where ``fit`` has that argument (the
   training-time monitor); the row is left out where it does not;
5. ``validation``: ``fit``'s per-epoch validation alone (forward pass on the validation split plus
   the scikit-learn metrics), ``epochs`` times, so its cost is a row of its own;
6. ``fit - validation``: the difference of the two rows above (derived, not timed).

It prints seconds, training samples/s and the ratio to the DataLoader loop, on CPU and on CUDA
when present. ``--allocator`` instead times one ``fit`` in fresh processes with and without
``MALLOC_TRIM_THRESHOLD_=65536``, the setting a Dask worker passes on to the kernels it starts
(:data:`helpers.kernels.UNSET_VARS`). A benchmark, not a test: numbers depend on the machine; nothing here asserts speed.
"""

from __future__ import annotations

import argparse
import inspect
import os
import subprocess
import sys
import time

import pandas as pd
import torch
from torch.utils.data import DataLoader, TensorDataset

from helpers import data as data_mod
from helpers import losses, metrics, models, train


def _dataloader_loop(model, X, Y, dev, epochs, batch_size, seed):
    loader = DataLoader(TensorDataset(torch.as_tensor(X), torch.as_tensor(Y, dtype=torch.float32)),
                        batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    crit = torch.nn.BCEWithLogitsLoss()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(epochs):
        for xb, yb in loader:
            xb, yb = xb.to(dev), yb.to(dev)
            opt.zero_grad()
            crit(model(xb), yb).backward()
            opt.step()


def _staged_loop(model, X, Y, dev, epochs, batch_size, seed):
    Xt = torch.as_tensor(X, device=dev)
    Yt = torch.as_tensor(Y, dtype=torch.float32, device=dev)
    gen = torch.Generator().manual_seed(seed)
    crit = torch.nn.BCEWithLogitsLoss()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(Xt), generator=gen).to(dev)
        for i in range(0, len(Xt), batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad()
            crit(model(Xt[idx]), Yt[idx]).backward()
            opt.step()


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def _validation_passes(model, d, dev, epochs):
    """What ``fit`` does after each epoch, ``epochs`` times: outputs on validation, loss, metrics."""
    setup = losses.get_loss("bce_with_logits")
    crit = setup.criterion()
    Xva = torch.as_tensor(d.X_val, dtype=torch.float32, device=dev)
    Yva = setup.targets(torch.as_tensor(d.Y_val, dtype=torch.float32, device=dev))
    for _ in range(epochs):
        out = train._outputs(model, Xva, 2048)
        float(crit(out, Yva))
        metrics.evaluate(d.Y_val, setup.probabilities(out).clamp(0, 1).cpu().numpy())


def fit_has_monitor() -> bool:
    """Whether :func:`helpers.train.fit` takes ``monitor`` (the training-time monitor switch)."""
    return "monitor" in inspect.signature(train.fit).parameters


def bench(device: str = "auto", n_train: int = 2000, epochs: int = 5, batch_size: int = 128,
          repeats: int = 3, seed: int = 0, n_val: int = 500) -> pd.DataFrame:
    """Best-of-``repeats`` seconds and samples/s per loop on one device; returns a table."""
    dev = train.resolve_device(device)
    d = data_mod.make_scenes(n_train=n_train, n_val=n_val, n_test=100, seed=seed)
    loops = ["dataloader", "staged", "fit"] + (["fit, monitor off"] if fit_has_monitor() else []) + ["validation"]
    rows = []
    for name in loops:
        best = float("inf")
        for r in range(repeats + 1):  # the first round warms up kernels and allocators
            model = models.build_model(d, seed=seed).to(dev)
            train.set_seed(seed)
            _sync(dev)
            t0 = time.perf_counter()
            if name == "dataloader":
                _dataloader_loop(model, d.X_train, d.Y_train, dev, epochs, batch_size, seed)
            elif name == "staged":
                _staged_loop(model, d.X_train, d.Y_train, dev, epochs, batch_size, seed)
            elif name == "validation":
                _validation_passes(model, d, dev, epochs)
            else:
                extra = {"monitor": False} if name == "fit, monitor off" else {}
                train.fit(model, d, "bce_with_logits", epochs=epochs, batch_size=batch_size, seed=seed,
                          device=dev, progress=False, **extra)
            _sync(dev)
            if r:
                best = min(best, time.perf_counter() - t0)
        rows.append({"device": str(dev), "loop": name, "seconds": best})
    df = pd.DataFrame(rows)
    sec = df.set_index("loop")["seconds"]
    derived = {"device": str(dev), "loop": "fit - validation", "seconds": sec["fit"] - sec["validation"]}
    df = pd.concat([df, pd.DataFrame([derived])], ignore_index=True)
    trains = df["loop"] != "validation"  # the validation row processes no training samples
    df["samples_per_s"] = (n_train * epochs / df["seconds"]).where(trains)
    df["vs_dataloader"] = df["samples_per_s"] / df.loc[df["loop"] == "dataloader", "samples_per_s"].iloc[0]
    df["share_of_fit"] = df["seconds"] / sec["fit"]
    return df


def _fit_seconds(n_train: int, epochs: int, batch_size: int) -> float:
    """Seconds of one :func:`helpers.train.fit` on the CPU, one thread (what ``--fit-once`` prints)."""
    torch.set_num_threads(1)
    d = data_mod.make_scenes(n_train=n_train, n_val=500, n_test=100, seed=0)
    model = models.build_model(d, seed=0)
    t0 = time.perf_counter()
    train.fit(model, d, "bce_with_logits", epochs=epochs, batch_size=batch_size, seed=0, device="cpu", progress=False)
    return time.perf_counter() - t0


def allocator(n_train: int, epochs: int, batch_size: int, repeats: int) -> pd.DataFrame:
    """Best-of-``repeats`` seconds of one ``fit`` in a fresh process, with glibc's default allocator
    thresholds and with ``MALLOC_TRIM_THRESHOLD_=65536`` (Dask's worker setting), one thread each."""
    rows = []
    for label, value in (("default", None), ("MALLOC_TRIM_THRESHOLD_=65536", "65536")):
        env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
        env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"} | ({"MALLOC_TRIM_THRESHOLD_": value} if value else {}))
        cmd = [sys.executable, "-m", "helpers.bench", "--fit-once", "--n-train", str(n_train), "--epochs", str(epochs),
               "--batch-size", str(batch_size)]
        times = [float(subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout.split()[-1])
                 for _ in range(repeats)]
        rows.append({"allocator": label, "seconds": min(times)})
    df = pd.DataFrame(rows)
    df["vs_default"] = df["seconds"] / df["seconds"].iloc[0]
    return df


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Training-loop benchmark: helpers' staged loop vs DataLoader.")
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--allocator", action="store_true", help="time one fit with and without Dask's "
                    "MALLOC_TRIM_THRESHOLD_=65536 (fresh processes, one thread, CPU)")
    ap.add_argument("--fit-once", action="store_true", help=argparse.SUPPRESS)  # a child of --allocator
    args = ap.parse_args(argv)
    if args.fit_once:
        print(f"{_fit_seconds(args.n_train, args.epochs, args.batch_size):.3f}")
        return 0
    if args.allocator:
        print(f"one fit in a fresh process, CPU, one thread: {args.n_train} scenes x {args.epochs} epochs, "
              f"batch {args.batch_size}, best of {args.repeats}")
        print(allocator(args.n_train, args.epochs, args.batch_size, args.repeats).to_string(
            index=False, formatters={"seconds": "{:.2f}".format, "vs_default": "{:.2f}x".format}))
        return 0
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"{args.n_train} scenes x {args.epochs} epochs, batch {args.batch_size}, validation on 500 scenes "
          f"after every epoch, best of {args.repeats}")
    if not fit_has_monitor():
        print("(no 'fit, monitor off' row: this helpers.train.fit has no monitor argument)")
    for dev in devices:
        df = bench(dev, args.n_train, args.epochs, args.batch_size, args.repeats)
        print(format_table(df))
    return 0


def format_table(df: pd.DataFrame) -> str:
    """The benchmark table as printed: seconds, samples/s, ratios; '-' where a column does not apply."""
    return df.to_string(index=False, na_rep="-", formatters={
        "seconds": "{:.2f}".format, "samples_per_s": "{:,.0f}".format,
        "vs_dataloader": "{:.2f}x".format, "share_of_fit": "{:.0%}".format})


if __name__ == "__main__":
    raise SystemExit(main())
