"""Hold out the perturbed cells of a cell type, predict them, and score the prediction.

The trVAE paper's protocol: train on every cell but the perturbed cells of one cell type; map
that cell type's control cells to the perturbed condition; compare with the real perturbed
cells (R^2 of per-gene means and variances over all genes and the top-100 DEGs, 100 draws of
80% of the cells) and the Pearson r of the predicted change. Every method runs in this one
script, on the same split, scored by the same code.

    python benchmarks/holdout.py --data ../shared/data/kang2018_pbmc.h5ad --cell-type NK
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import pandas as pd
import scanpy as sc
import scvi

import scvi_trvae
from scvi_trvae import metrics

DEFAULT_DATA = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "kang2018_pbmc.h5ad"
)
SCORE_COLUMNS = [
    ("r2_mean", "all"),
    ("r2_mean", "top100"),
    ("r2_var", "all"),
    ("r2_var", "top100"),
    ("change_r", "all"),
    ("change_r", "top100"),
]


def trvae(train, control, args, seed, **model_kwargs):
    scvi.settings.seed = seed
    train = train.copy()
    scvi_trvae.TRVAE.setup_anndata(
        train, condition_key=args.condition_key, cell_type_key=args.cell_type_key
    )
    model = scvi_trvae.TRVAE(train, **{**json.loads(args.model_kwargs), **model_kwargs})
    model.train(max_epochs=args.max_epochs, enable_progress_bar=False)
    epochs = len(model.history["train_loss"])
    logging.info("trained %d epochs", epochs)
    return model.predict(control, target_condition=args.target, **json.loads(args.predict_kwargs))


def control_cells(train, control, args, seed):
    return metrics.control_baseline(control)


def mean_shift(train, control, args, seed):
    return metrics.mean_shift_baseline(
        train, control, args.condition_key, args.cell_type_key, args.source, args.target
    )


METHODS = {"trvae": trvae, "mean_shift": mean_shift, "control": control_cells}


def run_holdout(adata, cell_type, method, args, seed):
    is_type = adata.obs[args.cell_type_key] == cell_type
    condition = adata.obs[args.condition_key]
    train = adata[~(is_type & (condition == args.target))].copy()
    control = adata[is_type & (condition == args.source)].copy()
    real = adata[is_type & (condition == args.target)].copy()
    start = time.perf_counter()
    predicted = METHODS[method](train, control, args, seed)
    seconds = time.perf_counter() - start
    scores = metrics.prediction_scores(predicted, real, control, n_draws=args.n_draws, seed=seed)
    row = {"method": method, "cell_type": cell_type, "seed": seed, "seconds": round(seconds, 1)}
    for score, genes in SCORE_COLUMNS:
        hit = scores[(scores.score == score) & (scores.genes == genes)]
        row[f"{score}_{genes}"] = float(hit["mean"].iloc[0])
    return row


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="h5ad with log-normalised X")
    parser.add_argument("--cell-type", default="NK", help="cell type to hold out")
    parser.add_argument("--all-cell-types", action="store_true", help="hold out each in turn")
    parser.add_argument("--methods", default="trvae,mean_shift,control")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--condition-key", default="condition")
    parser.add_argument("--cell-type-key", default="cell_type")
    parser.add_argument("--source", default="control")
    parser.add_argument("--target", default="stimulated")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--model-kwargs", default="{}", help="JSON passed to TRVAE()")
    parser.add_argument("--predict-kwargs", default="{}", help="JSON passed to predict()")
    parser.add_argument("--n-draws", type=int, default=100)
    parser.add_argument("--csv", default=None, help="also write every row to this CSV")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    adata = sc.read_h5ad(args.data)
    cell_types = (
        sorted(adata.obs[args.cell_type_key].unique()) if args.all_cell_types else [args.cell_type]
    )
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for cell_type in cell_types:
        for method in args.methods.split(","):
            for seed in seeds if method not in ("control", "mean_shift") else seeds[:1]:
                rows.append(run_holdout(adata, cell_type, method, args, seed))
                print(
                    pd.DataFrame(rows[-1:]).round(3).to_string(index=False, header=len(rows) == 1)
                )
    table = pd.DataFrame(rows)
    if args.csv:
        table.to_csv(args.csv, index=False)
    score_names = [f"{s}_{g}" for s, g in SCORE_COLUMNS]
    print("\nmean over cell types (and seeds):")
    print(table.groupby("method", sort=False)[score_names].mean().round(3).to_string())
    return table


if __name__ == "__main__":
    main()
