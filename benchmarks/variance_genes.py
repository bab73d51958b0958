"""Where the R^2 of variances is lost: the genes of highest variance in the real perturbed cells.

Trains the models of ``holdout.py`` (their defaults; ``--seed``, 0 by default) with each cell
type's stimulated cells held out, predicts them, and prints per cell type and model (and the
control cells as a prediction), on all the held-out cells (no draws): R^2 of per-gene variances
over all genes, and without the top-k genes by real variance; for those top-k genes, the median
of predicted / real variance and of control / real variance; and, summed over genes, the
variances of the two parts of a prediction with the residual, ``x`` (the control cell) and
``delta`` (predicted minus control), and twice their covariance. Options other than its own
(the cell types, the data and its keys) are ``holdout.py``'s.

    python benchmarks/variance_genes.py --all-cell-types --methods trvae,mmd_z

The saved output (benchmarks/results/variance_genes_seed0.txt) was made with the MMD over all
cells, the default then: add ``--model-kwargs '{"mmd_by_cell_type": false}'`` to rerun it.
"""

from __future__ import annotations

import argparse

import holdout
import numpy as np
import scanpy as sc

from scvi_trvae import metrics


def variance_profile(predicted, real, control, top: int) -> dict:
    """Figures of one prediction (see the module docstring)."""
    x, p, r = (metrics._dense(a) for a in (control, predicted, real))
    real_var, predicted_var, control_var = r.var(0), p.var(0), x.var(0)
    top_genes = np.argsort(-real_var)[:top]
    rest = np.setdiff1d(np.arange(r.shape[1]), top_genes)
    delta = p - x
    covariance = ((delta - delta.mean(0)) * (x - x.mean(0))).mean(0)
    return {
        "r2_var_all": metrics._r2(predicted_var, real_var),
        f"r2_var_without_top{top}": metrics._r2(predicted_var[rest], real_var[rest]),
        f"top{top}_pred/real": np.median(predicted_var[top_genes] / real_var[top_genes]),
        f"top{top}_control/real": np.median(control_var[top_genes] / real_var[top_genes]),
        "sum_var_x": control_var.sum(),
        "sum_var_delta": delta.var(0).sum(),
        "sum_2cov": 2 * covariance.sum(),
        "sum_var_real": real_var.sum(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", default="trvae,mmd_z")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=20)
    own, rest = parser.parse_known_args(argv)
    args = holdout.parse_args(rest)  # the cell types, data and keys, as holdout.py takes them
    adata = sc.read_h5ad(args.data)
    for cell_type in holdout.held_out_cell_types(adata, args):
        train, control, real = holdout.split(adata, cell_type, args)
        predictions = {"control": control}
        for method in own.methods.split(","):
            made = holdout.METHODS[method](train, control, args, own.seed, "mse")
            predictions[method] = made[method]
        for label, predicted in predictions.items():
            figures = variance_profile(predicted, real, control, own.top)
            print(cell_type, label, " ".join(f"{k}={v:.3f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
