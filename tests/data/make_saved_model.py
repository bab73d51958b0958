"""Writes the saved-model fixture that tests/test_reliability.py loads.

Run once per released format, from the repository root:
    python tests/data/make_saved_model.py
Commit the new folder; keep the old ones, so that every saved format stays loadable.
"""

from pathlib import Path

import numpy as np
import scvi

import scvi_trvae
from scvi_trvae import TRVAE
from scvi_trvae.data import synthetic_perturbation

FIXTURE_DATA = {"n_cells": 20, "n_genes": 30, "n_cell_types": 2, "seed": 0}
# Explicit, so that a change of a default is not mistaken for a broken saved model.
PREDICT = {"target_condition": "stimulated", "add_residual": False}


def main():
    out = Path(__file__).parent / f"trvae_{scvi_trvae.__version__}"
    scvi.settings.seed = 0
    adata = synthetic_perturbation(**FIXTURE_DATA)
    TRVAE.setup_anndata(adata, condition_key="condition", cell_type_key="cell_type")
    model = TRVAE(adata, n_hidden=8, n_latent=2)
    model.train(max_epochs=2, enable_progress_bar=False)
    model.save(out, overwrite=True)
    np.save(out / "prediction.npy", model.predict(**PREDICT).X)


if __name__ == "__main__":
    main()
