"""The trVAE paper's plots.

Regression of predicted on real means and variances, a gene's distribution in control, real
and predicted cells, and the latent / MMD-layer embeddings.

Every function draws with matplotlib, returns its axes, and takes scanpy's ``show`` and
``save`` arguments.
"""

from __future__ import annotations

from typing import Literal

import matplotlib.pyplot as plt
import numpy as np
import scanpy as sc
from anndata import AnnData
from matplotlib.axes import Axes
from scipy import stats

from ._threads import torch_threads_kept
from .metrics import _dense, top_degs

__all__ = ["embedding", "gene_distribution", "reg_mean_plot", "reg_var_plot"]


def _finish(ax: Axes, show: bool | None, save: str | None) -> Axes:
    if save:
        ax.figure.savefig(save, bbox_inches="tight", dpi=150)
    if show:
        plt.show()
    return ax


def _regression(
    statistic: Literal["mean", "var"],
    predicted: AnnData,
    real: AnnData,
    control: AnnData | None,
    degs: list[str] | None,
    n_labels: int,
    ax: Axes | None,
    show: bool | None,
    save: str | None,
) -> Axes:
    if degs is None and control is not None:
        degs = top_degs(real, control)
    stat = {"mean": lambda x: x.mean(0), "var": lambda x: x.var(0, ddof=1)}[statistic]
    x, y = stat(_dense(real)), stat(_dense(predicted))
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(x, y, s=6, c="lightgray", rasterized=True)
    title = f"R$^2$ all genes = {stats.linregress(x, y).rvalue ** 2:.3f}"
    if degs:
        idx = real.var_names.get_indexer(degs)
        ax.scatter(x[idx], y[idx], s=8, c="tab:red", label=f"top {len(degs)} DEGs")
        title += (
            f"\nR$^2$ top {len(degs)} DEGs = {stats.linregress(x[idx], y[idx]).rvalue ** 2:.3f}"
        )
        for i in idx[:n_labels]:
            ax.annotate(real.var_names[i], (x[i], y[i]), fontsize=7)
        ax.legend(loc="lower right", frameon=False)
    lim = [0, max(x.max(), y.max()) * 1.05]
    ax.plot(lim, lim, ls="--", c="k", lw=0.7)
    ax.set(xlabel=f"real {statistic}", ylabel=f"predicted {statistic}", title=title)
    return _finish(ax, show, save)


def reg_mean_plot(
    predicted: AnnData,
    real: AnnData,
    control: AnnData | None = None,
    degs: list[str] | None = None,
    n_labels: int = 10,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | None = None,
) -> Axes:
    """Per-gene means of predicted versus real perturbed cells (the paper's Fig. 5b / 6b).

    Parameters
    ----------
    predicted
        Predicted cells.
    real
        Real perturbed cells, same genes.
    control
        Control cells; with it and no ``degs``, the top-100 DEGs (real vs control) are
        highlighted.
    degs
        Genes to highlight and score separately.
    n_labels
        How many of ``degs`` to label.
    ax
        Axes to draw in; a new figure if ``None``.
    show
        Show the figure.
    save
        Save the figure to this path.

    Returns
    -------
    The axes.

    """
    return _regression("mean", predicted, real, control, degs, n_labels, ax, show, save)


def reg_var_plot(
    predicted: AnnData,
    real: AnnData,
    control: AnnData | None = None,
    degs: list[str] | None = None,
    n_labels: int = 10,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | None = None,
) -> Axes:
    """Per-gene variances of predicted versus real perturbed cells (the paper's Fig. 5c / 6c).

    Parameters are those of :func:`reg_mean_plot`.

    Returns
    -------
    The axes.

    """
    return _regression("var", predicted, real, control, degs, n_labels, ax, show, save)


def gene_distribution(
    gene: str,
    control: AnnData,
    real: AnnData,
    predicted: AnnData,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | None = None,
) -> Axes:
    """Violins of one gene in control, real perturbed and predicted cells (Fig. 5d / 6d).

    Parameters
    ----------
    gene
        Gene name.
    control, real, predicted
        The three sets of cells.
    ax
        Axes to draw in; a new figure if ``None``.
    show
        Show the figure.
    save
        Save the figure to this path.

    Returns
    -------
    The axes.

    """
    groups = {"control": control, "real": real, "predicted": predicted}
    for name, cells in groups.items():
        if gene not in cells.var_names:
            raise KeyError(f"Gene {gene!r} is not among the {name} cells' genes.")
    values = [_dense(cells[:, gene]).ravel() for cells in groups.values()]
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3.5))
    parts = ax.violinplot(values, showmedians=True)
    for body, color in zip(parts["bodies"], ["tab:blue", "tab:orange", "tab:green"], strict=True):
        body.set_facecolor(color)
    ax.set_xticks([1, 2, 3], list(groups))
    ax.set(ylabel=gene, title=gene)
    return _finish(ax, show, save)


def embedding(
    model,
    adata: AnnData | None = None,
    representation: Literal["latent", "mmd"] = "latent",
    color: list[str] | None = None,
    show: bool | None = None,
    save: str | None = None,
) -> list[Axes]:
    """UMAP of the latent space ``z`` or of the MMD layer ``y`` (the paper's Fig. 2).

    Works on a new AnnData: the user's is not modified.

    Parameters
    ----------
    model
        A trained :class:`~scvi_trvae.TRVAE`.
    adata
        Cells to embed; ``None`` for the model's training data.
    representation
        ``"latent"`` (``z``, posterior mean) or ``"mmd"`` (``y``, each cell's own condition).
    color
        ``obs`` columns to colour by; default the condition and, if registered, the cell type.
    show
        Show the figure.
    save
        Save the figure to this path.

    Returns
    -------
    One axes per colour.

    """
    adata = model.adata if adata is None else adata
    if representation == "latent":
        rep = model.get_latent_representation(adata)
    elif representation == "mmd":
        rep = model.get_mmd_layer_representation(adata)
    else:
        raise ValueError(f"representation must be 'latent' or 'mmd', not {representation!r}.")
    if color is None:
        color = [model.condition_key] + ([model.cell_type_key] if model.cell_type_key else [])
    view = AnnData(obs=adata.obs[color].copy(), obsm={"X_rep": np.asarray(rep)})
    with torch_threads_kept():
        sc.pp.neighbors(view, use_rep="X_rep")
        sc.tl.umap(view)
    axes = sc.pl.umap(
        view, color=color, show=False, title=[f"{representation}: {c}" for c in color]
    )
    axes = list(np.atleast_1d(axes))
    _finish(axes[0], show, save)
    return axes
