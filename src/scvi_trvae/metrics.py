"""The trVAE paper's scores for a predicted perturbation response.

Everything is computed in the space of the data given (log-normalised expression in the paper):

* ``r2_mean`` / ``r2_var``: squared Pearson r (as :func:`scipy.stats.linregress`) between the
  per-gene means (variances) of the predicted and the real perturbed cells.
* ``change_r``: Pearson r between the predicted change (predicted mean - control mean) and the
  real change (real mean - control mean). The control cells themselves score 0 here, whereas
  they often score 0.6-0.9 on ``r2_mean``.

Each score is averaged over random draws of a fraction of the cells (100 draws of 80% by
default), over all genes and over the top differentially expressed genes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData
from scipy import sparse

from ._checks import check_finite
from ._threads import torch_threads_kept

__all__ = ["control_baseline", "mean_shift_baseline", "prediction_scores", "top_degs"]


def _dense(adata: AnnData) -> np.ndarray:
    x = adata.X
    return np.asarray(x.toarray() if sparse.issparse(x) else x, dtype=np.float64)


def _mean(x) -> np.ndarray:
    return np.asarray(x.mean(0), dtype=np.float64).ravel()


def top_degs(
    perturbed: AnnData, control: AnnData, n_genes: int = 100, method: str = "wilcoxon"
) -> list[str]:
    """The top differentially expressed genes of perturbed versus control cells.

    Uses :func:`scanpy.tl.rank_genes_groups` on a new AnnData; the inputs are not modified.

    Parameters
    ----------
    perturbed
        Real perturbed cells (of one cell type).
    control
        Control cells (of the same cell type), same genes.
    n_genes
        Number of genes to return.
    method
        Test of :func:`scanpy.tl.rank_genes_groups`.

    Returns
    -------
    Gene names, most significant first.

    """
    if not perturbed.var_names.equals(control.var_names):
        raise ValueError("perturbed and control cells must have the same genes, in order.")
    both = AnnData(
        X=np.concatenate([_dense(perturbed), _dense(control)]).astype(np.float32),
        obs=pd.DataFrame(
            {
                "group": pd.Categorical(
                    ["perturbed"] * perturbed.n_obs + ["control"] * control.n_obs
                )
            },
            index=[str(i) for i in range(perturbed.n_obs + control.n_obs)],
        ),
        var=pd.DataFrame(index=perturbed.var_names),
    )
    with torch_threads_kept():
        sc.tl.rank_genes_groups(
            both,
            "group",
            groups=["perturbed"],
            reference="control",
            method=method,
            n_genes=n_genes,
        )
    return list(both.uns["rank_genes_groups"]["names"]["perturbed"])


def _r2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1] ** 2)


def prediction_scores(
    predicted: AnnData,
    real: AnnData,
    control: AnnData,
    degs: list[str] | None = None,
    n_degs: int = 100,
    n_draws: int = 100,
    fraction: float = 0.8,
    seed: int = 0,
) -> pd.DataFrame:
    """Score a prediction against the real perturbed cells, as in the trVAE paper.

    Parameters
    ----------
    predicted
        Predicted perturbed cells.
    real
        Real perturbed cells of the same cell type.
    control
        Control cells of that cell type (the prediction's input), for the change scores.
    degs
        Genes for the ``top`` scores; ``None`` ranks the top ``n_degs`` of ``real`` vs
        ``control`` with :func:`top_degs`.
    n_degs
        Number of DEGs when ``degs`` is ``None``.
    n_draws
        Random draws of ``fraction`` of the cells of each set.
    fraction
        Fraction of cells drawn, without replacement, in each draw.
    seed
        Seed of the draws.

    Returns
    -------
    A tidy frame with columns ``score`` (``r2_mean``, ``r2_var``, ``change_r``), ``genes``
    (``all`` or ``top{n}``), ``mean`` and ``std`` over the draws.

    """
    for name, other in (("real", real), ("control", control)):
        if not predicted.var_names.equals(other.var_names):
            raise ValueError(f"predicted and {name} cells must have the same genes, in order.")
    for name, cells in (("predicted", predicted), ("real", real), ("control", control)):
        if cells.n_obs < 2:
            raise ValueError(f"{name} has {cells.n_obs} cells; scoring needs at least 2.")
        check_finite(cells.X, f"{name}.X")  # else every score is a silent NaN
    if degs is None:
        degs = top_degs(real, control, n_genes=n_degs)
    gene_sets = {"all": slice(None), f"top{len(degs)}": predicted.var_names.get_indexer(degs)}
    if (gene_sets[f"top{len(degs)}"] < 0).any():
        raise ValueError("Some of `degs` are not among the genes.")

    matrices = [_dense(predicted), _dense(real)]
    # The change is measured from the mean of all control cells, so that the control cells as
    # a prediction score about 0 (only the draw's noise) rather than another draw's noise.
    c_mean = _dense(control).mean(0)
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_draws):
        p, r = (
            m[rng.choice(len(m), max(2, round(fraction * len(m))), replace=False)]
            for m in matrices
        )
        p_mean, r_mean, p_var, r_var = p.mean(0), r.mean(0), p.var(0, ddof=1), r.var(0, ddof=1)
        for genes, idx in gene_sets.items():
            rows.append(
                {
                    "genes": genes,
                    "r2_mean": _r2(p_mean[idx], r_mean[idx]),
                    "r2_var": _r2(p_var[idx], r_var[idx]),
                    "change_r": float(
                        np.corrcoef(p_mean[idx] - c_mean[idx], r_mean[idx] - c_mean[idx])[0, 1]
                    ),
                }
            )
    draws = pd.DataFrame(rows).melt(id_vars="genes", var_name="score")
    summary = draws.groupby(["score", "genes"], sort=False)["value"].agg(["mean", "std"])
    return summary.reset_index()


def control_baseline(control: AnnData) -> AnnData:
    """The control cells themselves as the prediction (a floor every method should beat)."""
    return control.copy()


def mean_shift_baseline(
    adata: AnnData,
    control: AnnData,
    condition_key: str,
    cell_type_key: str,
    source: str,
    target: str,
    exclude_cell_type: str | None = None,
) -> AnnData:
    """Control cells plus the average perturbed-minus-control shift of the other cell types.

    Parameters
    ----------
    adata
        Cells from which to learn the shift (both conditions).
    control
        Cells to shift.
    condition_key, cell_type_key
        Columns of ``obs``.
    source, target
        The control and the perturbed condition.
    exclude_cell_type
        Cell type left out of the shift (the held-out one).

    Returns
    -------
    The shifted cells, clipped at zero.

    """
    conditions = adata.obs[condition_key].to_numpy()
    cell_types = adata.obs[cell_type_key].to_numpy()
    shifts = []
    for cell_type in pd.unique(cell_types):
        in_type = cell_types == cell_type
        has_source, has_target = in_type & (conditions == source), in_type & (conditions == target)
        if cell_type != exclude_cell_type and has_source.any() and has_target.any():
            # Group means straight from the (possibly sparse) matrix: nothing densified whole.
            shifts.append(_mean(adata.X[has_target]) - _mean(adata.X[has_source]))
    if not shifts:
        raise ValueError("No cell type has both conditions to learn a shift from.")
    shifted = control.copy()
    shifted.X = np.clip(_dense(control) + np.mean(shifts, axis=0), 0, None).astype(np.float32)
    return shifted
