"""Data: an embedded synthetic perturbation experiment and the Kang 2018 PBMC loader."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

__all__ = ["kang2018", "synthetic_perturbation"]


def synthetic_perturbation(
    n_cells: int = 100,
    n_genes: int = 200,
    n_cell_types: int = 4,
    conditions: Sequence[str] = ("control", "stimulated"),
    n_response_genes: int = 30,
    specific_fraction: float = 0.5,
    effect_size: float = 1.5,
    seed: int = 0,
) -> AnnData:
    """A small perturbation experiment with a known answer.

    Counts are Poisson-gamma (negative binomial) around a profile of each cell type. Each
    non-first condition multiplies the mean of ``n_response_genes`` genes by
    ``exp(+-effect_size)``: the response is shared by all cell types for part of those genes and
    specific to each cell type for the rest (``specific_fraction``).

    Parameters
    ----------
    n_cells
        Cells per cell type and condition.
    n_genes
        Number of genes.
    n_cell_types
        Number of cell types (``"type0"``, ``"type1"``...).
    conditions
        Condition names; the first is the control.
    n_response_genes
        Genes that respond to each non-control condition.
    specific_fraction
        Share of the responding genes whose response is specific to a cell type.
    effect_size
        Absolute log fold change of a responding gene.
    seed
        Random seed.

    Returns
    -------
    AnnData with raw counts in ``layers["counts"]``, ``X`` = log1p of counts normalised to
    10,000 per cell, ``obs["condition"]``, ``obs["cell_type"]``, and the true log fold change
    of every cell type and condition in ``uns["true_log_fold_change"]`` (a DataFrame indexed by
    ``"cell_type/condition"``, genes as columns).

    """
    if not 0 < n_response_genes <= n_genes:
        raise ValueError(
            f"n_response_genes ({n_response_genes}) must be in 1..n_genes ({n_genes})."
        )
    if len(conditions) < 2:
        raise ValueError("Give at least two conditions: a control and a perturbation.")
    rng = np.random.default_rng(seed)
    cell_types = [f"type{i}" for i in range(n_cell_types)]
    base = rng.normal(0.0, 1.0, size=(n_cell_types, n_genes))
    n_specific = round(specific_fraction * n_response_genes)
    effects = {}
    for condition in conditions[1:]:
        genes = rng.choice(n_genes, n_response_genes, replace=False)
        shared = np.zeros(n_genes)
        shared[genes[n_specific:]] = effect_size * rng.choice(
            [-1, 1], n_response_genes - n_specific
        )
        for cell_type in cell_types:
            lfc = shared.copy()
            specific = rng.choice(genes[:n_specific], n_specific // 2 + 1, replace=False)
            lfc[specific] = effect_size * rng.choice([-1, 1], len(specific))
            effects[f"{cell_type}/{condition}"] = lfc
    for cell_type in cell_types:
        effects[f"{cell_type}/{conditions[0]}"] = np.zeros(n_genes)

    blocks, obs = [], []
    for t, cell_type in enumerate(cell_types):
        for condition in conditions:
            mean = np.exp(base[t] + effects[f"{cell_type}/{condition}"])
            library = rng.lognormal(np.log(2000), 0.3, size=(n_cells, 1))
            rate = library * mean / mean.sum()
            blocks.append(rng.poisson(rng.gamma(5.0, rate / 5.0)))
            obs += [(cell_type, condition)] * n_cells
    counts = np.concatenate(blocks).astype(np.float32)
    obs = pd.DataFrame(obs, columns=["cell_type", "condition"])
    obs.index = [f"cell{i}" for i in range(len(obs))]
    obs = obs.astype({"cell_type": "category", "condition": "category"})
    normalised = counts / counts.sum(1, keepdims=True).clip(1) * 1e4
    adata = AnnData(
        X=sparse.csr_matrix(np.log1p(normalised)),
        obs=obs,
        var=pd.DataFrame(index=[f"gene{i}" for i in range(n_genes)]),
        layers={"counts": sparse.csr_matrix(counts)},
    )
    adata.uns["true_log_fold_change"] = pd.DataFrame(effects, index=adata.var_names).T
    return adata


def kang2018(path: str | Path) -> AnnData:
    """Read the Kang et al. 2018 PBMC IFN-beta data (as distributed by the scGen authors).

    Parameters
    ----------
    path
        Local h5ad file: log-normalised ``X``, raw counts in ``layers["counts"]``,
        ``obs["condition"]`` (control / stimulated) and ``obs["cell_type"]``.

    Returns
    -------
    The AnnData.

    """
    import anndata

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist. The scGen authors distribute the Kang PBMC data as "
            "train_pbmc.h5ad / valid_pbmc.h5ad (theislab/scgen); download one and pass its path."
        )
    return anndata.read_h5ad(path)
