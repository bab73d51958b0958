"""How training and prediction grow with the number of cells, and what they need in memory.

For each size (default 10k, 100k and 1M cells x 2,000 genes, sparse, 5% non-zero), in a fresh
process so that each peak is its own: build the data, train one epoch in memory, train one
epoch from a backed h5ad (read from disk as needed), and predict 100,000 cells (or all, if
fewer) in minibatches. Each process first trains on 1,000 cells, untimed, which compiles the
MMD kernel. Prints wall seconds, cells per second and the process's peak resident
memory. Nothing densifies the whole matrix: minibatches are densified one at a time.

    python benchmarks/scale.py                       # 10k, 100k, 1M
    python benchmarks/scale.py --sizes 10000,100000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GENES = 2_000


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux


def synthetic(n_cells: int, seed: int = 0):
    """Sparse log-normalised-looking data, built in blocks of rows to bound memory."""
    import numpy as np
    import pandas as pd
    from anndata import AnnData
    from scipy import sparse

    rng = np.random.default_rng(seed)
    blocks = []
    for start in range(0, n_cells, 100_000):
        rows = min(100_000, n_cells - start)
        block = sparse.random(rows, GENES, density=0.05, format="csr", dtype=np.float32, rng=rng)
        block.data = np.log1p(block.data * 20).astype(np.float32)
        blocks.append(block)
    obs = pd.DataFrame(
        {
            "condition": pd.Categorical(rng.integers(0, 2, n_cells).astype(str)),
            "cell_type": pd.Categorical(rng.integers(0, 5, n_cells).astype(str)),
        },
        index=pd.RangeIndex(n_cells).astype(str),
    )
    var = pd.DataFrame(index=[f"g{i}" for i in range(GENES)])
    return AnnData(X=sparse.vstack(blocks, format="csr"), obs=obs, var=var)


def one_epoch(adata):
    """Seconds for one training epoch, and the model."""
    from scvi_trvae import TRVAE

    TRVAE.setup_anndata(adata, condition_key="condition")
    model = TRVAE(adata)
    start = time.perf_counter()
    # Batches of 512, as in the figures of docs/benchmarks.md (measured when it was the default).
    model.train(
        max_epochs=1,
        batch_size=512,
        train_size=1.0,
        accelerator="cpu",
        enable_progress_bar=False,
    )
    return time.perf_counter() - start, model


def measure(n_cells: int) -> dict:
    """Runs in its own process: one size, every figure."""
    import anndata
    import scvi

    scvi.settings.seed = 0
    result = {"cells": n_cells}
    start = time.perf_counter()
    adata = synthetic(n_cells)
    result["build_s"] = time.perf_counter() - start
    # The first training step of a process compiles the MMD kernel (seconds, once): done on
    # 1,000 cells first, so that the timed epochs show how training grows with cells.
    one_epoch(adata[:1_000].copy())
    result["train_s"], model = one_epoch(adata)
    result["peak_after_train_gib"] = peak_gib()

    n_predict = min(100_000, n_cells)
    start = time.perf_counter()
    model.predict(indices=list(range(n_predict)), target_condition="1", batch_size=1024)
    result["predict_s"], result["predict_cells"] = time.perf_counter() - start, n_predict

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.h5ad"
        adata.write_h5ad(path)
        del adata, model
        backed = anndata.read_h5ad(path, backed="r")
        result["train_backed_s"], _ = one_epoch(backed)
    result["peak_gib"] = peak_gib()
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(measure(args.one)))
        return
    print(
        f"{GENES:,} genes, 5% non-zero, batch 512, one epoch, CPU; prediction in batches of 1,024"
    )
    header = (
        f"{'cells':>10} {'train s':>8} {'cells/s':>8} {'backed s':>9} {'cells/s':>8} "
        f"{'predict s':>9} {'cells/s':>8} {'peak GiB':>8}"
    )
    print(header)
    for n in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n)],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode:
            print(f"{n:>10} failed: {out.stderr[-2000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{n:>10,} {r['train_s']:8.1f} {n / r['train_s']:8,.0f} {r['train_backed_s']:9.1f} "
            f"{n / r['train_backed_s']:8,.0f} {r['predict_s']:9.1f} "
            f"{r['predict_cells'] / r['predict_s']:8,.0f} {r['peak_gib']:8.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
