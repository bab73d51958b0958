import os
import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from helpers import TRAIN_FAST

from scvi_trvae import TRVAE, metrics, pl

matplotlib.use("Agg")


@pytest.fixture
def sets(adata):
    is_type = adata.obs.cell_type == "type0"
    control = adata[is_type & (adata.obs.condition == "control")].copy()
    real = adata[is_type & (adata.obs.condition == "stimulated")].copy()
    return control, real


def test_perfect_prediction_scores_one(sets):
    control, real = sets
    scores = metrics.prediction_scores(real, real, control, n_degs=10, n_draws=5, fraction=1.0)
    assert set(scores.score) == {"r2_mean", "r2_var", "change_r"}
    assert set(scores.genes) == {"all", "top10"}
    np.testing.assert_allclose(scores["mean"], 1.0, atol=1e-6)


def test_control_scores_no_change(sets):
    control, real = sets
    scores = metrics.prediction_scores(control, real, control, n_degs=10, n_draws=20)
    scores = scores.set_index(["score", "genes"])
    assert abs(scores.loc[("change_r", "all"), "mean"]) < 0.3
    # The synthetic response is strong: the control cells are far from the real means on DEGs.
    assert scores.loc[("r2_mean", "top10"), "mean"] < 0.9


def test_scores_are_seeded(sets):
    control, real = sets
    a = metrics.prediction_scores(control, real, control, n_draws=5, seed=1)
    b = metrics.prediction_scores(control, real, control, n_draws=5, seed=1)
    assert a.equals(b)


def test_scores_reject_nans(sets):
    control, real = sets
    predicted = control.copy()
    predicted.X = predicted.X.toarray()
    predicted.X[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"predicted.X contains NaN"):
        metrics.prediction_scores(predicted, real, control, n_draws=2)


# numba starts its parallel threads once per process, on the first parallel call: only a fresh
# process, whose first such call is the one tested, can show torch's thread count being reset.
THREADS_AFTER = """
import sys

import matplotlib
import torch
matplotlib.use("Agg")
from scvi_trvae import TRVAE, metrics, pl
from scvi_trvae.data import synthetic_perturbation

adata = synthetic_perturbation(n_cells=40, n_genes=50, n_cell_types=3, n_response_genes=10)
if sys.argv[1] == "top_degs":
    call = lambda: metrics.top_degs(adata[adata.obs.condition == "stimulated"],
                                    adata[adata.obs.condition == "control"])
else:
    TRVAE.setup_anndata(adata, condition_key="condition", cell_type_key="cell_type")
    model = TRVAE(adata)
    model.train(max_epochs=1, enable_progress_bar=False)
    call = lambda: pl.embedding(model)
torch.set_num_threads(1)
call()
print("threads", torch.get_num_threads())
"""


# On one core numba's count is torch's one thread: nothing would be reset, and the test could
# not fail.
@pytest.mark.skipif(os.cpu_count() < 2, reason="needs 2 cores to see a reset thread count")
@pytest.mark.parametrize("call", ["top_degs", "embedding"])
def test_scanpy_calls_leave_torch_threads_alone(call):
    # scanpy's Wilcoxon test, neighbours and UMAP run numba on the OpenMP runtime torch uses.
    # Two threads, whatever this process runs with: numba resets torch to its own count (every
    # core), which a one-thread setting inherited here would hide.
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-c", THREADS_AFTER, call],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert done.stdout.split()[-2:] == ["threads", "1"]


def test_top_degs_finds_the_responding_genes(adata, sets):
    control, real = sets
    truth = adata.uns["true_log_fold_change"].loc["type0/stimulated"]
    responding = set(truth.index[truth != 0])
    found = metrics.top_degs(real, control, n_genes=len(responding))
    assert len(responding & set(found)) >= 0.7 * len(responding)


def test_mean_shift_baseline(adata, sets):
    control, real = sets
    shifted = metrics.mean_shift_baseline(
        adata,
        control,
        "condition",
        "cell_type",
        "control",
        "stimulated",
        exclude_cell_type="type0",
    )
    assert shifted.shape == control.shape and (shifted.X >= 0).all()
    change = metrics.prediction_scores(shifted, real, control, n_draws=5).set_index(
        ["score", "genes"]
    )
    assert change.loc[("change_r", "all"), "mean"] > 0.3  # the shared part of the response


def test_plots_return_axes_and_save(adata, sets, tmp_path):
    control, real = sets
    ax = pl.reg_mean_plot(real, real, control, save=tmp_path / "mean.png")
    assert "R$^2$ all genes = 1.000" in ax.get_title()
    assert (tmp_path / "mean.png").stat().st_size > 0
    assert "R$^2$" in pl.reg_var_plot(control, real, control).get_title()
    assert pl.gene_distribution(adata.var_names[0], control, real, real).get_title()
    with pytest.raises(KeyError, match="not among"):
        pl.gene_distribution("nope", control, real, real)


def test_embedding_plot_does_not_touch_adata(adata):
    TRVAE.setup_anndata(adata, condition_key="condition", cell_type_key="cell_type")
    model = TRVAE(adata, n_hidden=8, n_latent=3)
    model.train(batch_size=64, **TRAIN_FAST)
    obs_columns = list(adata.obs.columns)
    for representation in ("latent", "mmd"):
        axes = pl.embedding(model, representation=representation)
        assert len(axes) == 2
    assert list(adata.obs.columns) == obs_columns and "X_umap" not in adata.obsm
