"""Input checks that name the problem and the fix."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

_CHUNK = 10_000


def data_matrix(adata: AnnData, layer: str | None):
    """``adata.X`` or ``adata.layers[layer]``, with a clear error for an unknown layer."""
    if layer is None:
        if adata.X is None:
            raise ValueError("adata.X is empty: pass `layer=` naming the layer with the data.")
        return adata.X
    if layer not in adata.layers:
        raise KeyError(
            f"Layer {layer!r} is not in adata.layers (it has: {list(adata.layers)}). "
            "Pass one of these, or layer=None for adata.X."
        )
    return adata.layers[layer]


def _row_chunks(matrix) -> Iterator[np.ndarray]:
    """Stored values of ``matrix`` a block of rows at a time (works on backed matrices)."""
    for start in range(0, matrix.shape[0], _CHUNK):
        block = matrix[start : start + _CHUNK]
        yield block.data if sparse.issparse(block) else np.asarray(block)


def check_finite(matrix, where: str) -> None:
    """Raise if the matrix holds NaN or infinite values."""
    for values in _row_chunks(matrix):
        if not np.isfinite(values).all():
            raise ValueError(
                f"{where} contains NaN or infinite values. Remove or impute them first, e.g. "
                "drop the affected cells or genes."
            )


def check_counts(matrix, where: str) -> None:
    """Raise if the matrix is not raw counts (negative or non-integer values)."""
    for values in _row_chunks(matrix):
        if (values < 0).any():
            raise ValueError(
                f"{where} has negative values, but a count likelihood needs raw counts. Register "
                "the raw-count layer (setup_anndata(..., layer='counts')) or use "
                "likelihood='mse' for log-normalised data."
            )
        if not np.array_equal(values, np.round(values)):
            raise ValueError(
                f"{where} has non-integer values (log-normalised data?), but a count likelihood "
                "needs raw counts. Register the raw-count layer (setup_anndata(..., "
                "layer='counts')) or use likelihood='mse' for log-normalised data."
            )


def log_normalised_problem(matrix) -> tuple[str, str] | None:
    """How the first rows differ from log-normalised expression, and the fix; ``None`` if not.

    log1p of expression normalised to any usual total (1e4, 1e6) stays below 15.
    """
    values = next(_row_chunks(matrix), np.zeros(0))
    if values.size == 0:
        return None
    if values.min() < 0:
        return (
            "has negative values (scaled or centred data?)",
            "The decoder's output is non-negative and cannot predict them: register the "
            "log-normalised data from before sc.pp.scale (e.g. as a layer: "
            "setup_anndata(..., layer=...)).",
        )
    if values.max() <= 30:
        return None
    if np.array_equal(values, np.round(values)):
        return (
            "looks like raw counts",
            "Run sc.pp.normalize_total and sc.pp.log1p first, or use likelihood='nb'.",
        )
    return (
        f"has values up to {values.max():.4g} (normalised but not log-transformed?)",
        "Run sc.pp.log1p first.",
    )


def check_obs_key(obs: pd.DataFrame, key: str, what: str) -> None:
    """Raise if ``key`` is not a column of ``obs`` or has missing values."""
    if key not in obs:
        raise KeyError(
            f"{what} key {key!r} is not a column of adata.obs (columns: {list(obs.columns)})."
        )
    if obs[key].isna().any():
        raise ValueError(
            f"adata.obs[{key!r}] has missing values; give every cell a {what.lower()} or drop "
            "those cells."
        )


def check_conditions(obs: pd.DataFrame, condition_key: str) -> None:
    """Raise unless there are two or more conditions, each with cells."""
    column = obs[condition_key]
    counts = column.value_counts()
    if isinstance(column.dtype, pd.CategoricalDtype):
        empty = counts.index[counts == 0].tolist()
        if empty:
            raise ValueError(
                f"Condition(s) {empty} of adata.obs[{condition_key!r}] have no cells (a category "
                "left over from filtering). Drop them with adata.obs[key] = "
                "adata.obs[key].cat.remove_unused_categories()."
            )
    if (counts > 0).sum() < 2:
        raise ValueError(
            f"adata.obs[{condition_key!r}] has a single condition ({counts.index[0]!r}); trVAE "
            "learns from two or more conditions (e.g. control and stimulated)."
        )


def check_not_view(adata: AnnData) -> None:
    """Raise on a view: scvi-tools registers fields in the AnnData, which a view cannot take."""
    if adata.is_view:
        raise ValueError(
            "adata is a view (a subset of another AnnData); registration writes to it. Run "
            "adata = adata.copy() first."
        )


def check_not_empty(adata: AnnData) -> None:
    """Raise on an AnnData without cells or genes."""
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise ValueError(f"The AnnData is empty ({adata.n_obs} cells x {adata.n_vars} genes).")


def align_genes(adata: AnnData, genes: pd.Index, whose: str) -> AnnData:
    """``adata`` with exactly ``genes``, in their order: itself, or a reordered/subset copy.

    Raises if any of ``genes`` is missing.
    """
    if adata.var_names.equals(genes):
        return adata
    missing = genes.difference(adata.var_names)
    if len(missing):
        raise ValueError(
            f"{len(missing)} of {whose} {len(genes)} genes are missing from the data "
            f"(e.g. {list(missing[:5])}). Use data with the genes the model was trained on."
        )
    return adata[:, genes].copy()
