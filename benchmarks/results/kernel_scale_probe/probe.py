"""Squared distances between cells of one minibatch, in z and in y, after training.

The MMD's kernel has fixed scales (scvi_trvae._mmd.KERNEL_SCALES), so which of them act
depends on how far apart the cells of the representation are. This trains TRVAE with its
defaults on all cells of the shared data, with the MMD on y and then on z (seed 0), and prints
the 10th, 50th and 90th percentiles of the squared distances between the cells of the first
minibatch of 256, in z (the posterior sample) and in y (the MMD layer).

    OMP_NUM_THREADS=1 python benchmarks/results/kernel_scale_probe/probe.py
"""

import sys

import anndata as ad
import numpy as np
import scvi
import torch
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
    model.module.eval()
    tensors = next(iter(model._make_data_loader(train, batch_size=256)))
    with torch.no_grad():
        inference = model.module.inference(**model.module._get_inference_input(tensors))
        generative = model.module.generative(
            **model.module._get_generative_input(tensors, inference)
        )
    for name, rep in [("z", inference["z"]), ("y", generative["y"])]:
        quantiles = np.quantile(pdist(rep.numpy(), "sqeuclidean"), [0.1, 0.5, 0.9])
        print(
            f"MMD on {mmd_on}: {name} of {rep.shape[1]} dimensions, squared distances "
            f"10/50/90%: {quantiles.round(2).tolist()} "
            f"(trained {len(model.history['train_loss'])} epochs)"
        )
