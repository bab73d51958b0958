"""Predict a new donor's stimulated cells through a query model, over seeds and model settings.

The donors tutorial's path, scored over several seeds: a reference TRVAE is trained on one
donor's control and stimulated cells, a query model maps another donor's control cells onto it
(``TRVAE.load_query_data``, the reference's weights frozen), and the query donor's control
CD14+ monocytes are decoded as the reference's stimulated condition and scored against that
donor's real stimulated cells (the paper's scores, as in ``holdout.py``).

    python benchmarks/query_mapping.py --data ../shared/data/kang2018_pbmc_donors_counts.h5ad \\
        --seeds 0,1,2,3,4 --model-kwargs '[{"dropout_rate": 0.05}, {"dropout_rate": 0.1}]'
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import anndata
import pandas as pd
import scanpy as sc
import scvi
from holdout import HEADLINE  # benchmarks/ is on the path when this file runs as a script

import scvi_trvae
from scvi_trvae import metrics

DEFAULT_DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "kang2018_pbmc_donors_counts.h5ad"
)


def load(path) -> anndata.AnnData:
    """The donors' cells with log-normalised X (for scoring and for the MSE model)."""
    adata = anndata.read_h5ad(path)
    adata.X = adata.layers["counts"].copy()
    sc.pp.normalize_total(adata, target_sum=1e4)
    sc.pp.log1p(adata)
    return adata


def run(adata, args, seed: int, model_kwargs: dict) -> dict:
    """Train the reference and the query with ``seed``; score the mapped prediction."""
    scvi.settings.seed = seed
    reference_cells = adata[adata.obs.sample_id.isin(args.reference)].copy()
    scvi_trvae.TRVAE.setup_anndata(
        reference_cells, condition_key="sample_id", cell_type_key="cell_type"
    )
    reference = scvi_trvae.TRVAE(reference_cells, **model_kwargs)
    reference.train(max_epochs=args.max_epochs, enable_progress_bar=False)
    query = scvi_trvae.TRVAE.load_query_data(
        adata[adata.obs.sample_id == args.query_control].copy(), reference
    )
    query.train(max_epochs=args.max_epochs, enable_progress_bar=False)

    def cells(sample):
        keep = (adata.obs.sample_id == sample) & (adata.obs.cell_type == args.cell_type)
        return adata[keep].copy()

    control, real = cells(args.query_control), cells(args.query_target)
    predicted = query.predict(control, target_condition=args.reference[1])
    scores = metrics.prediction_scores(predicted, real, control, n_draws=args.n_draws)
    means = dict(zip(scores.score + "_" + scores.genes, scores["mean"], strict=True))
    return {"settings": json.dumps(model_kwargs), "seed": seed, **{s: means[s] for s in HEADLINE}}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="h5ad with layers['counts']")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--model-kwargs", default="[{}]", help="JSON list: one TRVAE() kwargs dict per setting"
    )
    parser.add_argument("--reference", default="ctrl101,stim101", help="control,stimulated")
    parser.add_argument("--query-control", default="ctrl107")
    parser.add_argument("--query-target", default="stim107")
    parser.add_argument("--cell-type", default="CD14+ Monocytes")
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--n-draws", type=int, default=100)
    parser.add_argument("--csv", default=None, help="write every run's scores to this CSV")
    args = parser.parse_args(argv)
    args.reference = args.reference.split(",")
    return args


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    adata = load(args.data)
    runs = pd.DataFrame(
        [
            run(adata, args, int(seed), kwargs)
            for kwargs in json.loads(args.model_kwargs)
            for seed in args.seeds.split(",")
        ]
    )
    if args.csv:
        runs.to_csv(args.csv, index=False)
    by_setting = runs.groupby("settings", sort=False)[HEADLINE]
    summary = (
        by_setting.mean().round(3).astype(str) + " ± " + by_setting.std().round(3).astype(str)
    )
    print(f"\nMean ± sd over seeds {args.seeds}:")
    print(summary.to_string())
    return runs


if __name__ == "__main__":
    main()
