"""The likelihood's own noise as a lever for the variances: a probe on one held-out cell type.

Trains scvi-trvae with its defaults (seed 0) with one cell type's stimulated cells held out, as
``holdout.py`` does, and scores four predictions of them: the decoded means, the decoded means
plus the MSE likelihood's noise (a Gaussian of variance 1/2, clipped at zero like the data), the
default prediction (with the residual), and the default plus the same noise.

    python benchmarks/likelihood_noise.py --cell-type NK
"""

from __future__ import annotations

import argparse
import time

import holdout
import numpy as np
import scanpy as sc

from scvi_trvae._module import MSE_SCALE


def with_noise(prediction, rng):
    """The prediction plus the MSE likelihood's Gaussian noise, clipped at zero like the data."""
    noisy = prediction.copy()
    noise = rng.normal(0, MSE_SCALE, prediction.shape)
    noisy.X = np.clip(prediction.X + noise, 0, None).astype(np.float32)
    return noisy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cell-type", default="NK")
    cell_type = parser.parse_args(argv).cell_type
    args = holdout.parse_args(["--cell-type", cell_type])  # holdout.py's data, keys, defaults
    adata = sc.read_h5ad(args.data)
    train, control, real = holdout.split(adata, cell_type, args)
    start = time.perf_counter()
    predictions = holdout.trvae(train, control, args, 0, "mse")
    seconds = time.perf_counter() - start
    print(f"{cell_type} held out: trained and predicted in {seconds:.0f} s")
    rng = np.random.default_rng(0)
    predictions["trvae_likelihood_noise"] = with_noise(predictions["trvae_no_residual"], rng)
    predictions["trvae_residual_plus_noise"] = with_noise(predictions["trvae"], rng)
    for row in holdout.score(predictions, real, control, cell_type, 0, seconds, args):
        figures = " ".join(f"{k}={row[k]:.3f}" for k in holdout.SCORES)
        print(cell_type, row["method"], figures)


if __name__ == "__main__":
    main()
