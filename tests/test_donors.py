"""Counts, four conditions (donor x stimulation) and query mapping, on real Kang 2018 cells."""

import anndata
import numpy as np
import pytest
import scanpy as sc
import torch

from scvi_trvae import TRVAE, metrics

pytestmark = pytest.mark.realdata
CELL_TYPE = "CD14+ Monocytes"


@pytest.fixture(scope="module")
def donors(donors_path):
    adata = anndata.read_h5ad(donors_path)
    adata.X = adata.layers["counts"].copy()
    sc.pp.normalize_total(adata, target_sum=1e4)
    sc.pp.log1p(adata)  # X: log-normalised; layers["counts"]: raw
    return adata


def cells(adata, sample, cell_type=CELL_TYPE):
    return adata[(adata.obs.sample_id == sample) & (adata.obs.cell_type == cell_type)].copy()


def change_r(predicted, real, control):
    scores = metrics.prediction_scores(predicted, real, control, n_draws=5)
    return scores[scores.score == "change_r"].set_index("genes")["mean"]


def test_four_conditions_nb_on_counts(donors):
    held_out = (donors.obs.sample_id == "stim107") & (donors.obs.cell_type == CELL_TYPE)
    train = donors[~held_out].copy()
    TRVAE.setup_anndata(train, condition_key="sample_id", layer="counts")
    model = TRVAE(train, likelihood="nb")
    model.train(max_epochs=80, enable_progress_bar=False)
    assert model.conditions == ["ctrl101", "ctrl107", "stim101", "stim107"]

    control, real = cells(donors, "ctrl107"), cells(donors, "stim107")
    decoded = model.predict(control, target_condition="stim107", add_residual=False)
    assert np.allclose(decoded.layers["normalized"].sum(1), 1e4, rtol=1e-3)  # library_size
    pred = model.predict(control, target_condition="stim107")
    np.testing.assert_allclose(pred.X, np.log1p(pred.layers["normalized"]), rtol=1e-5)
    trvae_r, control_r = change_r(pred, real, control), change_r(control, real, control)
    assert (trvae_r > control_r + 0.3).all(), (trvae_r, control_r)


def test_query_mapping_a_new_donor(donors):
    reference_cells = donors[donors.obs.sample_id.isin(["ctrl101", "stim101"])].copy()
    TRVAE.setup_anndata(reference_cells, condition_key="sample_id")
    reference = TRVAE(reference_cells)
    reference.train(max_epochs=80, enable_progress_bar=False)
    before = {k: v.clone() for k, v in reference.module.state_dict().items()}

    query_cells = donors[donors.obs.sample_id == "ctrl107"].copy()  # a donor never seen
    query = TRVAE.load_query_data(query_cells, reference)
    assert query.conditions == ["ctrl101", "stim101", "ctrl107"]
    query.train(max_epochs=20, enable_progress_bar=False)

    changed_new_columns = False
    for key, after in query.module.state_dict().items():
        if key.endswith("num_batches_tracked"):  # batch norm's step counter, not a weight
            continue
        old = before[key]
        if after.shape != old.shape:  # a first layer, grown by the new condition's column
            assert torch.equal(after[:, : old.shape[1]], old), key
            new_columns = after[:, old.shape[1] :]
            changed_new_columns |= not torch.allclose(new_columns, torch.zeros_like(new_columns))
        else:
            assert torch.equal(after, old), f"reference weight {key} changed"
    assert changed_new_columns, "query training did not train the new condition"

    # The new donor's control cells, mapped to the stimulated condition learned on donor 101,
    # predict that donor's real stimulated cells.
    control, real = cells(donors, "ctrl107"), cells(donors, "stim107")
    pred = query.predict(control, target_condition="stim101")
    trvae_r, control_r = change_r(pred, real, control), change_r(control, real, control)
    assert (trvae_r > control_r + 0.3).all(), (trvae_r, control_r)
