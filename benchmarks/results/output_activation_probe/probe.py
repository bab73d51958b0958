"""Where a model's predicted variances miss: one held-out cell type, one seed, all cells.

Usage: ``python probe.py CELL_TYPE SEED trvae|mmd_z``; see README.md beside it.
"""

import pathlib
import sys

import numpy as np
import pandas as pd
import scanpy as sc
import torch
from scipy.stats import linregress

sys.path.insert(0, str(pathlib.Path(__file__).parents[2]))
import holdout

from scvi_trvae import metrics


def main():
    cell_type, seed, method = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    torch.set_num_threads(1)
    args = holdout.parse_args(["--all-cell-types"])
    adata = sc.read_h5ad(args.data)
    train, control, real = holdout.split(adata, cell_type, args)
    model = holdout.fit(train, args, seed, **({} if method == "trvae" else {"mmd_on": "z"}))
    predict = model.predict
    cells = {
        "real": real,
        "pred": predict(control, target_condition="stimulated"),
        "ctrl": control,
        "plain": predict(control, target_condition="stimulated", add_residual=False),
        "own": predict(control, target_condition="control", add_residual=False),
    }
    x = {name: np.asarray(metrics._dense(a)) for name, a in cells.items()}
    var = {name: m.var(0) for name, m in x.items()}
    r2 = linregress(var["pred"], var["real"]).rvalue ** 2
    print(cell_type, seed, method, "R2 var", round(r2, 4))
    top = np.argsort(-var["real"])[:15]
    table = pd.DataFrame(
        {
            "gene": adata.var_names[top],
            **{f"var_{name}": v[top] for name, v in var.items()},
            "mean_real": x["real"].mean(0)[top],
            "mean_pred": x["pred"].mean(0)[top],
            "mean_ctrl": x["ctrl"].mean(0)[top],
        }
    )
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
