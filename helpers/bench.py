"""Benchmark the training loop: ``python -m helpers.bench`` (``make bench``).

Trains the book's default CNN on the default scenes three ways, same data, model and seed:

1. ``dataloader``: the popular article's style, ``DataLoader(TensorDataset(X, Y), shuffle=True)``
   with per-batch ``.to(device)``: every batch is collated sample by sample;
2. ``staged``: the helpers' inner loop, tensors moved to the device once and sliced per batch;
3. ``fit``: :func:`helpers.train.fit` end to end, which also evaluates on validation each epoch.

It prints samples/s for each and the ratios to the DataLoader loop, on CPU and on CUDA when
present. A benchmark, not a test: numbers depend on the machine; nothing here asserts speed.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch
from torch.utils.data import DataLoader, TensorDataset

from helpers import data as data_mod
from helpers import models, train


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


def bench(device: str = "auto", n_train: int = 2000, epochs: int = 5, batch_size: int = 128,
          repeats: int = 3, seed: int = 0) -> pd.DataFrame:
    """Best-of-``repeats`` samples/s per loop on one device; returns a table."""
    dev = train.resolve_device(device)
    d = data_mod.make_scenes(n_train=n_train, n_val=500, n_test=100, seed=seed)
    rows = []
    for name in ("dataloader", "staged", "fit"):
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
            else:
                train.fit(model, d, "bce_with_logits", epochs=epochs, batch_size=batch_size, seed=seed,
                          device=dev, progress=False)
            _sync(dev)
            if r:
                best = min(best, time.perf_counter() - t0)
        rows.append({"device": str(dev), "loop": name, "seconds": best,
                     "samples_per_s": n_train * epochs / best})
    df = pd.DataFrame(rows)
    df["vs_dataloader"] = df["samples_per_s"] / df.loc[df["loop"] == "dataloader", "samples_per_s"].iloc[0]
    return df


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Training-loop benchmark: helpers' staged loop vs DataLoader.")
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"{args.n_train} scenes x {args.epochs} epochs, batch {args.batch_size}, best of {args.repeats}")
    for dev in devices:
        df = bench(dev, args.n_train, args.epochs, args.batch_size, args.repeats)
        print(df.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
