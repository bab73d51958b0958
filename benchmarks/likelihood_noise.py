"""The likelihood's own noise as a lever for the variances: a probe on one held-out cell type.

Trains scvi-trvae with its defaults (seed 0) with one cell type's stimulated cells held out, as
``holdout.py`` does, and scores four predictions of them: the decoded means, the decoded means
plus the MSE likelihood's noise (a Gaussian of variance 1/2, clipped at zero like the data), the
default prediction (with the residual), and the default plus the same noise.

    python benchmarks/likelihood_noise.py --cell-type NK
"""

from __future__ import annotations

import argparse

import holdout
import numpy as np
import scanpy as sc

from scvi_trvae import metrics

NOISE_SD = 0.5**0.5  # the MSE likelihood: squared error summed over genes is a Normal of var 1/2


def with_noise(prediction, rng):
    noisy = prediction.copy()
    noise = rng.normal(0, NOISE_SD, prediction.shape)
    noisy.X = np.clip(prediction.X + noise, 0, None).astype(np.float32)
    return noisy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cell-type", default="NK")
    cell_type = parser.parse_args(argv).cell_type
    args = holdout.parse_args(["--cell-type", cell_type])  # holdout.py's data, keys, defaults
    adata = sc.read_h5ad(args.data)
    train, control, real = holdout.split(adata, cell_type, args)
    predictions = holdout.trvae(train, control, args, 0, "mse")
    rng = np.random.default_rng(0)
    predictions["trvae_likelihood_noise"] = with_noise(predictions["trvae_no_residual"], rng)
    predictions["trvae_residual_plus_noise"] = with_noise(predictions["trvae"], rng)
    degs = metrics.top_degs(real, control)
    for label, predicted in predictions.items():
        scores = metrics.prediction_scores(
            predicted, real, control, degs=degs, n_draws=args.n_draws, seed=0
        )
        figures = zip(scores.score, scores.genes, scores["mean"], strict=True)
        print(cell_type, label, " ".join(f"{s}_{g}={m:.3f}" for s, g, m in figures))


if __name__ == "__main__":
    main()
