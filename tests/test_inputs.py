"""Bad input gets a clear error naming the problem and the fix."""

import warnings

import numpy as np
import pytest
from helpers import TRAIN_FAST

from scvi_trvae import TRVAE


def setup(adata, **kwargs):
    TRVAE.setup_anndata(adata, **{"condition_key": "condition", **kwargs})


def test_missing_condition_key(adata):
    with pytest.raises(KeyError, match="Condition key 'treatment' is not a column of adata.obs"):
        setup(adata, condition_key="treatment")


def test_missing_cell_type_key(adata):
    with pytest.raises(KeyError, match="Cell type key 'celltype'"):
        setup(adata, cell_type_key="celltype")


def test_single_condition(adata):
    control = adata[adata.obs.condition == "control"].copy()
    control.obs["condition"] = control.obs["condition"].cat.remove_unused_categories()
    with pytest.raises(ValueError, match="single condition"):
        setup(control)


def test_condition_without_cells(adata):
    adata.obs["condition"] = adata.obs["condition"].cat.add_categories(["drug"])
    with pytest.raises(ValueError, match=r"\['drug'\].*have no cells.*remove_unused_categories"):
        setup(adata)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_values(adata, bad):
    adata.X = adata.X.toarray()
    adata.X[3, 4] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        setup(adata)


def test_missing_layer(adata):
    with pytest.raises(KeyError, match="Layer 'raw' is not in adata.layers"):
        setup(adata, layer="raw")


def test_empty_anndata(adata):
    with pytest.raises(ValueError, match="empty"):
        setup(adata[:0].copy())


def test_count_likelihood_on_log_data(adata):
    setup(adata)
    with pytest.raises(ValueError, match="non-integer values.*layer='counts'"):
        TRVAE(adata, likelihood="nb")


def test_count_likelihood_on_negative_data(adata):
    adata.layers["centred"] = adata.layers["counts"].toarray() - 1
    setup(adata, layer="centred")
    with pytest.raises(ValueError, match="negative values"):
        TRVAE(adata, likelihood="zinb")


def test_mse_on_counts_warns(adata):
    setup(adata, layer="counts")
    with pytest.warns(UserWarning, match="looks like raw counts.*normalize_total"):
        TRVAE(adata)


def test_mse_on_normalised_data_not_log_transformed_warns(adata):
    adata.layers["normalised"] = np.expm1(adata.X.toarray())
    setup(adata, layer="normalised")
    with pytest.warns(UserWarning, match=r"has values up to .*not log-transformed.*sc.pp.log1p"):
        TRVAE(adata)


def test_mse_on_scaled_data_warns(adata):
    x = adata.X.toarray()
    adata.layers["scaled"] = (x - x.mean(0)) / x.std(0).clip(1e-6)  # as sc.pp.scale does
    setup(adata, layer="scaled")
    with pytest.warns(UserWarning, match="negative values.*before sc.pp.scale"):
        TRVAE(adata)


def test_mse_on_log_normalised_data_does_not_warn(adata):
    # Normalised to a million (CPM), the largest usual total: log1p stays below 15.
    counts = adata.layers["counts"].toarray()
    adata.layers["log_cpm"] = np.log1p(counts / counts.sum(1, keepdims=True) * 1e6)
    setup(adata, layer="log_cpm")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        TRVAE(adata)


@pytest.mark.parametrize("weights", [{"kl_weight": -1.0}, {"mmd_weight": -0.1}])
def test_negative_weights(adata, weights):
    setup(adata)
    with pytest.raises(ValueError, match="must be >= 0"):
        TRVAE(adata, **weights)


@pytest.mark.parametrize(
    ("option", "match"),
    [
        (
            {"likelihood": "poisson"},
            r"likelihood must be one of \('mse', 'nb', 'zinb'\), not 'poisson'",
        ),
        ({"mmd_on": "x"}, r"mmd_on must be one of \('y', 'z'\), not 'x'"),
        (
            {"decoder_condition": "first"},
            r"decoder_condition must be one of \('all_layers', 'mmd_layer'\), not 'first'",
        ),
    ],
)
def test_unknown_option(adata, option, match):
    setup(adata)
    with pytest.raises(ValueError, match=match):
        TRVAE(adata, **option)


@pytest.fixture
def trained(adata):
    setup(adata, cell_type_key="cell_type")
    model = TRVAE(adata, n_hidden=8, n_latent=2)
    model.train(batch_size=64, **TRAIN_FAST)
    return model


def test_unknown_target_condition(trained):
    with pytest.raises(ValueError, match="Unknown target condition 'IFN'.*knows"):
        trained.predict(target_condition="IFN")


def test_unknown_source_condition(trained, adata):
    other = adata[:10].copy()
    other.obs["condition"] = "drug"
    with pytest.raises(
        ValueError, match=r"Unknown source condition\(s\) \['drug'\].*load_query_data"
    ):
        trained.predict(other, target_condition="stimulated")


def test_missing_genes(trained, adata):
    with pytest.raises(ValueError, match="10 of the model's 50 genes are missing"):
        trained.predict(adata[:, 10:].copy(), target_condition="stimulated")


def test_predict_from_data_with_nans(trained, adata):
    other = adata[:10].copy()
    other.X = other.X.toarray()
    other.X[0, 0] = np.nan
    with pytest.raises(ValueError, match="data to predict from contains NaN"):
        trained.predict(other, target_condition="stimulated")
    # Only the cells that `indices` selects are checked.
    with pytest.raises(ValueError, match="data to predict from contains NaN"):
        trained.predict(other, target_condition="stimulated", indices=[3, 0])
    pred = trained.predict(other, target_condition="stimulated", indices=[3, 1])
    assert list(pred.obs_names) == list(other.obs_names[[3, 1]])
    assert np.isfinite(pred.X).all()


def test_predict_from_raw_counts_with_a_log_normalised_model_warns(trained, adata):
    other = adata[:10].copy()
    other.X = other.layers["counts"]
    with pytest.warns(UserWarning, match="data to predict from looks like raw counts"):
        trained.predict(other, target_condition="stimulated")


def test_predict_from_log_data_with_a_count_model(adata):
    setup(adata, layer="counts")
    model = TRVAE(adata, n_hidden=8, n_latent=2, likelihood="nb")
    model.train(batch_size=64, **TRAIN_FAST)
    other = adata[:10].copy()
    other.layers["counts"] = other.X
    with pytest.raises(ValueError, match="data to predict from has non-integer values"):
        model.predict(other, target_condition="stimulated")


def test_empty_selection(trained, adata):
    with pytest.raises(ValueError, match="empty"):
        trained.predict(adata[:0], target_condition="stimulated")
    with pytest.raises(ValueError, match="selects no cells"):
        trained.predict(indices=[], target_condition="stimulated")


def test_untrained_model(adata):
    setup(adata)
    with pytest.raises(RuntimeError, match="train"):
        TRVAE(adata).predict(target_condition="stimulated")
