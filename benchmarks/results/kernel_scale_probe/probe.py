"""Squared distances between cells of one minibatch, in z and in y, after training.

The MMD's kernel has fixed scales (scvi_trvae._mmd.KERNEL_SCALES), so which of them act
depends on how far apart the cells of the representation are. This trains TRVAE with its
defaults on all cells of the shared data, with the MMD on y and then on z (seed 0), and prints
the 10th, 50th and 90th percentiles of the squared distances between the first 256 cells (a
minibatch), in z (the posterior mean) and in y (the MMD layer, from it), from the model's own
getters. Run from the repository root:

    OMP_NUM_THREADS=2 python benchmarks/results/kernel_scale_probe/probe.py
"""

import sys

import anndata as ad
import numpy as np
import scvi
from scipy.spatial.distance import pdist

import scvi_trvae

DATA = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/kang2018_pbmc.h5ad"

adata = ad.read_h5ad(DATA)
for mmd_on in ["y", "z"]:
    scvi.settings.seed = 0
    train = adata.copy()
    scvi_trvae.TRVAE.setup_anndata(train, condition_key="condition", cell_type_key="cell_type")
    model = scvi_trvae.TRVAE(train, mmd_on=mmd_on)
    model.train(max_epochs=400, enable_progress_bar=False)
    cells = range(256)
    representations = {
        "z": model.get_latent_representation(indices=cells),
        "y": model.get_mmd_layer_representation(indices=cells),
    }
    for name, rep in representations.items():
        quantiles = np.quantile(pdist(rep, "sqeuclidean"), [0.1, 0.5, 0.9])
        print(
            f"MMD on {mmd_on}: {name} of {rep.shape[1]} dimensions, squared distances "
            f"10/50/90%: {quantiles.round(2).tolist()} "
            f"(trained {len(model.history['train_loss'])} epochs)"
        )
