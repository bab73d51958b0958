"""Trains on 2 CPU processes with DDP (gloo); run by tests/test_ddp.py.

Lightning's "ddp" strategy starts rank 1 by running this script again. Every minibatch that a
process trains on is checked to hold every condition; the script fails otherwise.
"""

import sys

import numpy as np
import scvi
import torch
from lightning.pytorch.callbacks import Callback
from scvi import REGISTRY_KEYS

from scvi_trvae import TRVAE
from scvi_trvae.data import synthetic_perturbation


class AllConditionsInEveryMinibatch(Callback):
    def __init__(self, n_conditions):
        self.n_conditions = n_conditions
        self.seen = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        present = torch.unique(batch[REGISTRY_KEYS.BATCH_KEY]).numel()
        if present != self.n_conditions:
            raise AssertionError(
                f"rank {trainer.global_rank}: minibatch with {present} conditions"
            )
        self.seen += 1


def main(out):
    scvi.settings.seed = 0
    adata = synthetic_perturbation(
        n_cells=60, n_genes=40, n_cell_types=2, conditions=("a", "b", "c"), n_response_genes=10
    )
    TRVAE.setup_anndata(adata, condition_key="condition")
    model = TRVAE(adata, n_hidden=8, n_latent=3)
    check = AllConditionsInEveryMinibatch(3)
    model.train(
        max_epochs=2,
        batch_size=48,
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        callbacks=[check],
        enable_progress_bar=False,
    )
    assert check.seen > 0
    if model.trainer.global_rank == 0:
        history = {
            k: np.asarray(v, dtype=float).ravel().tolist() for k, v in model.history.items()
        }
        np.save(out, history, allow_pickle=True)


if __name__ == "__main__":
    main(sys.argv[1])
