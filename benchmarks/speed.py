"""Training speed of scvi-trvae and the scArches TRVAE on the same data, in one run.

Builds a synthetic sparse AnnData (default 100,000 cells x 2,000 genes, 2 conditions, 5 cell
types, log-normalised values, ~10% non-zero), trains each implementation for a few epochs with
the same architecture (hidden [128, 128], latent 20, MSE, MMD on the first decoder layer, batch
size 128) and prints seconds per epoch, cells per second and the ratio; scvi-trvae first trains
one epoch on 1,000 cells, timed apart, in which its MMD kernel is compiled. Then times one
training step with the MMD on and off (weight 0), and with the MMD by cell type (5 cell types),
at batch size 512 for 2, 4 and 16 conditions,
with glibc set to keep freed memory (:func:`keep_freed_memory`). Everything runs on the GPU where
there is one (the scArches trainer takes it whenever CUDA is available), else on the CPU.

    pip install --group bench   # scarches, beside scvi-trvae
    python benchmarks/speed.py
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import resource
import time

import numpy as np
import pandas as pd
import scvi
import torch
from anndata import AnnData
from scipy import sparse
from scvi import REGISTRY_KEYS

from scvi_trvae import TRVAE, TRVAEModule

HIDDEN, LATENT = 128, 20
# The scArches trainer uses CUDA whenever it is available; scvi-trvae is put on the same device.
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def synthetic_sparse(n_cells: int, n_genes: int, n_conditions: int = 2, density: float = 0.1):
    """Log-normalised-looking sparse data with conditions and cell types (no biology)."""
    rng = np.random.default_rng(0)
    x = sparse.random(n_cells, n_genes, density=density, format="csr", dtype=np.float32, rng=rng)
    x.data = np.log1p(x.data * 20).astype(np.float32)
    obs = pd.DataFrame(
        {
            "condition": pd.Categorical(rng.integers(0, n_conditions, n_cells).astype(str)),
            "cell_type": pd.Categorical(rng.integers(0, 5, n_cells).astype(str)),
        },
        index=[f"c{i}" for i in range(n_cells)],
    )
    return AnnData(X=x, obs=obs, var=pd.DataFrame(index=[f"g{i}" for i in range(n_genes)]))


def time_scvi_trvae(adata, epochs, batch_size):
    adata = adata.copy()
    TRVAE.setup_anndata(adata, condition_key="condition")
    # The condition in the first decoder layer only, as in the scArches TRVAE (the default gives
    # it to the second layer too: 2 more inputs to one layer of 128).
    model = TRVAE(
        adata, n_hidden=HIDDEN, n_latent=LATENT, n_layers=2, decoder_condition="mmd_layer"
    )
    start = time.perf_counter()
    model.train(
        max_epochs=epochs,
        batch_size=batch_size,
        early_stopping=False,
        check_val_every_n_epoch=1,  # a validation pass every epoch, as the scArches trainer does
        accelerator="gpu" if DEVICE.type == "cuda" else "cpu",
        enable_progress_bar=False,
    )
    return (time.perf_counter() - start) / epochs


def time_scarches(adata, epochs, batch_size):
    import scarches as sca

    model = sca.models.TRVAE(
        adata=adata.copy(),
        condition_key="condition",
        conditions=sorted(adata.obs.condition.unique()),
        hidden_layer_sizes=[HIDDEN, HIDDEN],
        latent_dim=LATENT,
        recon_loss="mse",
        mmd_on="y",
        beta=1,
    )
    start = time.perf_counter()
    model.train(n_epochs=epochs, batch_size=batch_size, use_early_stopping=False)
    return (time.perf_counter() - start) / epochs


def keep_freed_memory() -> bool:
    """Have glibc keep the memory a step frees, for the next step; False where it cannot.

    By default glibc hands some of what a step frees back to the system and faults it in again
    on the next step: tens to thousands of page faults a step at batch size 512 (28 to 4,300
    measured), landing in whichever operation touches the memory first, so that the MMD's step
    ratio read 0.88 to 1.23 for the same code. With allocations up to 32 MB kept on the heap and
    its top never trimmed, a step has almost none (0 to 31 measured).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from malloc.h
    return bool(
        libc.mallopt(m_mmap_threshold, 32 << 20) and libc.mallopt(m_trim_threshold, 1 << 30)
    )


def step_times(n_conditions, n_genes=2000, batch_size=512, repeats=50, n_cell_types=5):
    """Median seconds of one forward + backward + Adam step, with the MMD by cell type (the
    default with cell types), over all cells, and off (weight 0), and the mean page faults of a
    timed step.

    The three modules step in turn, so that drift in the machine's speed reaches them alike.
    """
    x = torch.relu(torch.randn(batch_size, n_genes, device=DEVICE))
    cells = torch.arange(batch_size, device=DEVICE)[:, None]
    tensors = {
        REGISTRY_KEYS.X_KEY: x,
        REGISTRY_KEYS.BATCH_KEY: cells % n_conditions,
        REGISTRY_KEYS.LABELS_KEY: cells // n_conditions % n_cell_types,
    }
    runs = []
    for mmd_weight, n_labels in ((1.0, n_cell_types), (1.0, 1), (0.0, 1)):
        torch.manual_seed(0)
        module = TRVAEModule(
            n_genes,
            n_conditions,
            n_hidden=HIDDEN,
            n_latent=LATENT,
            mmd_weight=mmd_weight,
            n_labels=n_labels,
        ).to(DEVICE)
        optimizer = torch.optim.Adam(module.parameters(), lr=1e-3, fused=True)  # as the plan's
        runs.append((module, optimizer, []))
    for repeat in range(repeats + 3):  # the first 3 warm up (and compile the MMD)
        if repeat == 3:
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for module, optimizer, times in runs:
            start = time.perf_counter()
            _, _, loss = module(tensors)
            optimizer.zero_grad()
            loss.loss.backward()
            optimizer.step()
            if DEVICE.type == "cuda":  # kernels run asynchronously: wait for the step's
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / (len(runs) * repeats)
    by_cell_type, on, off = (float(np.median(times[3:])) for _, _, times in runs)
    return by_cell_type, on, off, faults


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--genes", type=int, default=2_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--skip-scarches", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    scvi.settings.seed = 0
    device = torch.cuda.get_device_name() if DEVICE.type == "cuda" else "cpu"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")

    adata = synthetic_sparse(args.cells, args.genes)
    print(
        f"data: {args.cells:,} cells x {args.genes:,} genes, sparse, {adata.X.nnz / adata.X.shape[0] / adata.X.shape[1]:.0%} non-zero"
    )
    # The MMD kernel is compiled on first use in a process (cached on disk afterwards): a
    # one-time cost, timed apart from the epochs.
    start = time.perf_counter()
    time_scvi_trvae(adata[:1_000], 1, args.batch_size)
    print(
        f"scvi-trvae warm-up on 1,000 cells (compiles the MMD): {time.perf_counter() - start:.1f} s"
    )
    rows = [("scvi-trvae", time_scvi_trvae(adata, args.epochs, args.batch_size))]
    if not args.skip_scarches:
        rows.append(("scArches TRVAE 0.6.1", time_scarches(adata, args.epochs, args.batch_size)))
    print(
        f"\ntraining, batch size {args.batch_size}, mean of {args.epochs} epochs (validation included):"
    )
    for name, seconds in rows:
        print(f"  {name:22s} {seconds:8.1f} s/epoch  {args.cells / seconds:10,.0f} cells/s")
    if len(rows) == 2:
        print(f"  scvi-trvae is {rows[1][1] / rows[0][1]:.2f}x faster per epoch")

    # Last: the allocator setting stays for the rest of the process.
    kept = keep_freed_memory()
    print(
        "\none training step, batch size 512, 2,000 genes: MMD weight 1 vs 0"
        + (" (glibc keeps freed memory)" if kept else "")
        + "; and with the MMD by cell type (5 cell types)"
    )
    for n_conditions in (2, 4, 16):
        by_cell_type, on, off, faults = step_times(n_conditions)
        print(
            f"  {n_conditions:2d} conditions: {on * 1e3:6.1f} ms vs {off * 1e3:6.1f} ms  ratio {on / off:.2f}"
            f"  ({faults:,.0f} page faults a step); by cell type {by_cell_type * 1e3:6.1f} ms"
            f"  ratio {by_cell_type / off:.2f}"
        )


if __name__ == "__main__":
    main()
