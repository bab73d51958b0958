"""The science on real cells: Kang 2018 PBMCs, IFN-beta response of held-out NK cells."""

import anndata
import pytest

from scvi_trvae import TRVAE, metrics

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def nk_holdout(kang_path):
    adata = anndata.read_h5ad(kang_path)
    is_nk = adata.obs.cell_type == "NK"
    held_out = is_nk & (adata.obs.condition == "stimulated")
    train = adata[~held_out].copy()
    TRVAE.setup_anndata(train, condition_key="condition", cell_type_key="cell_type")
    model = TRVAE(train)
    model.train(max_epochs=60, enable_progress_bar=False)
    control = adata[is_nk & (adata.obs.condition == "control")].copy()
    return model, control, adata[held_out].copy()


def test_training_loss_is_finite_and_falls(nk_holdout):
    model, _, _ = nk_holdout
    loss = model.history["train_loss"]["train_loss"].to_numpy(dtype=float)
    assert (loss == loss).all()  # no NaN
    assert loss[-1] < 0.5 * loss[0]


def test_prediction_beats_control_cells(nk_holdout):
    model, control, real = nk_holdout
    pred = model.predict(control, target_condition="stimulated")
    degs = metrics.top_degs(real, control)
    scored = {
        name: metrics.prediction_scores(cells, real, control, degs=degs, n_draws=10).set_index(
            ["score", "genes"]
        )["mean"]
        for name, cells in (("trvae", pred), ("control", control))
    }
    for genes in ("all", "top100"):
        trvae_r, control_r = (
            scored["trvae"]["change_r", genes],
            scored["control"]["change_r", genes],
        )
        assert trvae_r > control_r + 0.3, (genes, trvae_r, control_r)
    assert scored["trvae"]["r2_mean", "top100"] > scored["control"]["r2_mean", "top100"]
