import numpy as np
import pytest
import scvi
import torch
from helpers import TRAIN_FAST
from lightning.pytorch.callbacks import Callback

from scvi_trvae import TRVAE, TRVAEModule, _checks
from scvi_trvae._callbacks import RestoreBestWeights


@pytest.fixture
def model(adata):
    TRVAE.setup_anndata(adata, condition_key="condition", cell_type_key="cell_type")
    model = TRVAE(adata, n_hidden=16, n_latent=4)
    model.train(batch_size=64, **TRAIN_FAST)
    return model


def test_train_logs_mmd(model):
    for key in ("mmd_train", "mmd_validation", "reconstruction_loss_train", "validation_loss"):
        assert key in model.history
    assert len(model.history["mmd_train"]) == 3
    assert np.isfinite(model.history["mmd_train"].to_numpy(dtype=float)).all()


def test_is_an_scvi_model(model):
    assert isinstance(model, scvi.model.base.BaseModelClass)
    assert isinstance(model, scvi.model.base.ArchesMixin)
    assert model.module.encoder.encoder.n_cat_list == [2]


def test_predict(model, adata):
    control = adata[(adata.obs.cell_type == "type0") & (adata.obs.condition == "control")]
    pred = model.predict(control, target_condition="stimulated")
    assert pred.shape == control.shape
    assert pred.var_names.equals(adata.var_names)
    assert pred.obs_names.equals(control.obs_names)
    assert (pred.obs["condition"] == "stimulated").all()
    assert (pred.obs["cell_type"] == "type0").all()
    assert not any(c.startswith("_scvi") for c in pred.obs.columns)
    assert np.isfinite(pred.X).all() and (pred.X >= 0).all()
    # The target condition changes the output; decoding with the own condition does not.
    same = model.predict(control, target_condition="control")
    assert not np.allclose(pred.X, same.X)


def test_predict_options(model, adata):
    cells = {"indices": [0, 1, 2], "target_condition": "stimulated"}
    plain = model.predict(**cells, add_residual=False)
    assert plain.n_obs == 3
    sampled = model.predict(**cells, add_residual=False, use_posterior_mean=False)
    assert not np.allclose(plain.X, sampled.X)
    residual = model.predict(**cells)  # the default adds the residual
    assert residual.uns["trvae_predict"]["add_residual"]
    assert (residual.X >= 0).all() and not np.allclose(plain.X, residual.X)
    # Decoding a cell with its own condition plus its residual gives the cell back.
    control = adata[adata.obs.condition == "control"][:5]
    back = model.predict(control, target_condition="control", add_residual=True)
    np.testing.assert_allclose(back.X, control.X.toarray(), atol=1e-5)


def test_predict_reorders_genes(model, adata, monkeypatch):
    control = adata[adata.obs.condition == "control"][:20].copy()
    expected = model.predict(control, target_condition="stimulated")
    shuffled = control[:, np.random.default_rng(0).permutation(adata.n_vars)].copy()
    pred = model.predict(shuffled, target_condition="stimulated")
    assert pred.var_names.equals(adata.var_names)
    np.testing.assert_allclose(pred.X, expected.X, atol=1e-6)
    # With indices, only the selected cells are reordered, in the order indices gives.
    copied, align_genes = [], _checks.align_genes

    def counting_align_genes(data, *args):
        copied.append(data.n_obs)
        return align_genes(data, *args)

    monkeypatch.setattr(_checks, "align_genes", counting_align_genes)
    picked = model.predict(shuffled, target_condition="stimulated", indices=[7, 2])
    assert copied == [2]
    assert list(picked.obs_names) == [control.obs_names[7], control.obs_names[2]]
    np.testing.assert_allclose(picked.X, expected.X[[7, 2]], atol=1e-6)


def test_representations(model, adata):
    latent = model.get_latent_representation()
    assert latent.shape == (adata.n_obs, 4)
    # y is the MMD layer of each cell's posterior mean with its own condition, as the MMD sees it.
    y = model.get_mmd_layer_representation()
    own = torch.as_tensor(
        model.adata_manager.get_from_registry(scvi.REGISTRY_KEYS.BATCH_KEY)
    ).long()
    with torch.no_grad():
        expected = model.module.mmd_decoder(torch.as_tensor(latent), own).numpy()
    np.testing.assert_allclose(y, expected, atol=1e-5)
    # RNASeqMixin works on the decoded means.
    assert model.get_normalized_expression(n_samples=1).shape == adata.shape


@pytest.mark.parametrize(
    ("kwargs", "y_keeps_own_condition"),
    [
        ({}, True),
        ({"mmd_on": "z"}, False),
        ({"mmd_weight": 0.0}, False),  # no MMD: y carries the condition
        ({"decoder_condition": "mmd_layer"}, False),
        ({"n_layers": 1}, False),  # no layer after y
    ],
)
def test_where_decoding_replaces_the_condition(kwargs, y_keeps_own_condition):
    # After y when the MMD makes y the same across conditions and a layer after it takes the
    # condition; from y on otherwise (the paper's decoder).
    module = TRVAEModule(n_input=10, n_batch=2, n_hidden=8, n_latent=3, **kwargs).eval()
    z, own = torch.randn(6, 3), torch.zeros(6, 1, dtype=torch.long)
    as_own = module.generative(z, own)
    as_other = module.generative(z, own, transform_batch=1)
    assert torch.equal(as_own["y"], as_other["y"]) == y_keeps_own_condition
    assert not torch.allclose(as_own["px"].loc, as_other["px"].loc)


def test_train_size_one_and_no_early_stopping(adata):
    TRVAE.setup_anndata(adata, condition_key="condition")
    model = TRVAE(adata, n_hidden=16, n_latent=4)
    model.train(train_size=1.0, batch_size=64, **TRAIN_FAST)
    assert "mmd_validation" not in model.history
    assert len(model.validation_indices) == 0


def test_validation_split_is_stratified(model, adata):
    val = adata.obs["condition"].iloc[model.validation_indices]
    assert val.value_counts().tolist() == [12, 12]  # 10% of each condition's 120 cells


class LastWeights(Callback):
    """Records the weights at the end of every epoch's validation: the last epoch's remain."""

    def on_validation_end(self, trainer, pl_module):
        self.state = {k: v.clone() for k, v in pl_module.module.state_dict().items()}


def test_early_stopping_restores_best_weights(adata):
    last_weights = LastWeights()
    TRVAE.setup_anndata(adata, condition_key="condition")
    model = TRVAE(adata, n_hidden=16, n_latent=4)
    # A learning rate high enough that the validation loss bounces: the best epoch is not the last.
    model.train(
        max_epochs=40,
        batch_size=64,
        early_stopping_patience=2,
        plan_kwargs={"lr": 0.03},
        enable_progress_bar=False,
        callbacks=[last_weights],
    )
    history = model.history["validation_loss"]["validation_loss"].to_numpy(dtype=float)
    assert history.argmin() < len(history) - 1, "the test needs a run whose last epoch is not best"
    assert len(history) == history.argmin() + 1 + 2, "stops after `patience` epochs without gain"
    (restorer,) = [c for c in model.trainer.callbacks if isinstance(c, RestoreBestWeights)]
    assert restorer.best_epoch == history.argmin()
    # The module holds the best epoch's weights, which differ from the last epoch's.
    for key, value in model.module.state_dict().items():
        assert torch.equal(value, restorer.best_state[key]), key
    last = last_weights.state
    assert any(not torch.equal(last[k], v) for k, v in restorer.best_state.items())


def test_train_shorter_than_an_epoch_with_early_stopping(adata):
    # Lightning's early stopping used to raise after such a run: no validation loss to check.
    TRVAE.setup_anndata(adata, condition_key="condition")
    model = TRVAE(adata, n_hidden=16, n_latent=4)
    model.train(max_steps=2, batch_size=64, enable_progress_bar=False)
    assert model.is_trained
    assert model.trainer.global_step == 2
    assert "validation_loss" not in model.history


class StepRecorder(Callback):
    """Records, for every training step, the module's mode and the minibatch's loss and size."""

    def __init__(self):
        self.modes, self.losses, self.sizes = [], [], []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.modes.append(pl_module.module.training)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.losses.append(float(outputs["loss"]))
        self.sizes.append(len(batch["X"]))


def test_history_holds_the_epoch_mean_of_the_steps(adata):
    TRVAE.setup_anndata(adata, condition_key="condition")
    model = TRVAE(adata, n_hidden=16, n_latent=4)
    recorder = StepRecorder()
    model.train(
        max_epochs=1,
        batch_size=64,
        early_stopping=False,
        check_val_every_n_epoch=1,
        callbacks=[recorder],
    )
    expected = np.average(recorder.losses, weights=recorder.sizes)
    assert model.history["train_loss"]["train_loss"].iloc[0] == pytest.approx(expected, rel=1e-5)
    for key in ("kl_weight", "elbo_train", "kl_local_validation", "mmd_validation"):
        assert len(model.history[key]) == 1, key


def test_trains_in_train_mode_again_and_after_load(model, adata, tmp_path):
    # scvi leaves the module in eval mode after training and loading, and Lightning 2.6 no longer
    # switches it back: training would run without dropout and on batch norm's running stats.
    recorder = StepRecorder()
    model.train(max_epochs=1, batch_size=64, callbacks=[recorder])
    model.save(tmp_path / "model")
    loaded = TRVAE.load(tmp_path / "model", adata=adata)
    assert not loaded.module.training
    loaded.train(max_epochs=1, batch_size=64, callbacks=[recorder])
    assert recorder.modes and all(recorder.modes)
    assert not loaded.module.training  # back in eval mode for predictions


def test_save_load_round_trip(model, adata, tmp_path):
    control = adata[adata.obs.condition == "control"]
    expected = model.predict(control, target_condition="stimulated").X
    model.save(tmp_path / "with", save_anndata=True)
    model.save(tmp_path / "without")
    for loaded in (TRVAE.load(tmp_path / "with"), TRVAE.load(tmp_path / "without", adata=adata)):
        np.testing.assert_array_equal(
            loaded.predict(control, target_condition="stimulated").X, expected
        )
        assert loaded.module.mmd_weight == model.module.mmd_weight


@pytest.mark.parametrize("likelihood", ["nb", "zinb"])
def test_count_likelihoods_train(likelihood):
    from scvi_trvae.data import synthetic_perturbation

    adata = synthetic_perturbation(n_cells=30, n_genes=40, n_cell_types=2)
    TRVAE.setup_anndata(adata, condition_key="condition", layer="counts")
    model = TRVAE(adata, likelihood=likelihood, n_hidden=16, n_latent=4)
    model.train(batch_size=64, **TRAIN_FAST)
    assert np.isfinite(model.history["reconstruction_loss_train"].to_numpy(dtype=float)).all()


def test_mudata(adata):
    from mudata import MuData

    mdata = MuData({"rna": adata})
    TRVAE.setup_mudata(
        mdata,
        condition_key="condition",
        cell_type_key="cell_type",
        modalities={"layer": "rna", "condition_key": "rna", "cell_type_key": "rna"},
    )
    model = TRVAE(mdata, n_hidden=16, n_latent=4)
    model.train(batch_size=64, **TRAIN_FAST)
    assert "mmd_train" in model.history
    assert model.get_latent_representation().shape == (adata.n_obs, 4)
    pred = model.predict(target_condition="stimulated")
    assert pred.shape == adata.shape
    assert (pred.obs["condition"] == "stimulated").all()
    pred_from_mdata = model.predict(mdata, target_condition="stimulated")
    np.testing.assert_allclose(pred_from_mdata.X, pred.X)
    with pytest.raises(ValueError, match="modalities"):
        TRVAE.setup_mudata(mdata, condition_key="condition")


def test_mmd_by_cell_type(adata, tmp_path):
    TRVAE.setup_anndata(adata, condition_key="condition")
    assert TRVAE(adata).module.n_labels == 1  # the default: over all cells without cell types
    with pytest.raises(ValueError, match="pass cell_type_key to TRVAE.setup_anndata"):
        TRVAE(adata, mmd_by_cell_type=True)

    TRVAE.setup_anndata(adata, condition_key="condition", cell_type_key="cell_type")
    assert TRVAE(adata, mmd_by_cell_type=False).module.n_labels == 1
    model = TRVAE(adata, n_hidden=16, n_latent=4)  # the default: by cell type when registered
    assert model.module.n_labels == 3
    model.train(batch_size=64, **TRAIN_FAST)
    assert np.isfinite(model.history["mmd_train"].to_numpy(dtype=float)).all()
    model.save(tmp_path / "model")
    assert TRVAE.load(tmp_path / "model", adata).module.n_labels == 3


def test_mmd_by_cell_type_query_with_a_new_cell_type(adata):
    reference_cells = adata[adata.obs.cell_type != adata.obs.cell_type.cat.categories[-1]].copy()
    reference_cells.obs["cell_type"] = reference_cells.obs.cell_type.cat.remove_unused_categories()
    TRVAE.setup_anndata(reference_cells, condition_key="condition", cell_type_key="cell_type")
    reference = TRVAE(reference_cells, n_hidden=16, n_latent=4)
    reference.train(batch_size=64, **TRAIN_FAST)
    query_cells = adata.copy()
    query_cells.obs["condition"] = query_cells.obs.condition.astype(str) + "_query"
    query = TRVAE.load_query_data(query_cells, reference)
    assert query.module.n_labels == 3  # the query's new cell type has its own group
    query.train(batch_size=64, **TRAIN_FAST)
    assert np.isfinite(query.history["mmd_train"].to_numpy(dtype=float)).all()


@pytest.fixture
def nb_model():
    from scvi_trvae.data import synthetic_perturbation

    adata = synthetic_perturbation(n_cells=30, n_genes=40, n_cell_types=2)
    TRVAE.setup_anndata(adata, condition_key="condition", layer="counts")
    model = TRVAE(adata, likelihood="nb", n_hidden=16, n_latent=4)
    model.train(batch_size=64, **TRAIN_FAST)
    return model, adata


def test_count_model_getters(nb_model):
    # scvi-tools' RNASeqMixin getters that read the count likelihood's noise model.
    model, adata = nb_model
    counts = adata.layers["counts"].toarray()
    params = model.get_likelihood_parameters()
    # The decoded frequencies times the observed library size: each cell's mean sums to its total.
    np.testing.assert_allclose(params["mean"].sum(1), counts.sum(1), rtol=1e-4)
    theta = torch.exp(model.module.px_r).detach().numpy()
    np.testing.assert_allclose(params["dispersions"], np.broadcast_to(theta, adata.shape))
    samples = model.posterior_predictive_sample(n_samples=3).todense()
    assert samples.shape == (*adata.shape, 3)
    assert (samples >= 0).all() and (samples == np.round(samples)).all()
    # transform_batch reaches the decoder: with the same draws, another condition, other samples.
    draws = {}
    for name, condition in (
        ("control", "control"),
        ("stimulated", "stimulated"),
        ("again", "stimulated"),
    ):
        scvi.settings.seed = 0
        draws[name] = model.posterior_predictive_sample(transform_batch=condition).todense()
    assert draws["stimulated"].shape == adata.shape
    assert (draws["again"] == draws["stimulated"]).all()
    assert (draws["control"] != draws["stimulated"]).any()
    library = model.get_latent_library_size(give_mean=False).ravel()
    np.testing.assert_allclose(library, counts.sum(1), rtol=1e-5)
    with pytest.raises(RuntimeError, match="observed library size"):
        model.get_latent_library_size()  # no posterior of the library: it is observed
    correlations = model.get_feature_correlation_matrix(n_samples=2).to_numpy()
    assert correlations.shape == (40, 40)
    np.testing.assert_allclose(np.diag(correlations), 1.0, rtol=1e-5)
    np.testing.assert_allclose(correlations, correlations.T)


@pytest.mark.parametrize("likelihood", ["mse", "nb"])
def test_marginal_ll(likelihood, adata):
    layer = "counts" if likelihood == "nb" else None
    TRVAE.setup_anndata(adata, condition_key="condition", layer=layer)
    model = TRVAE(adata, likelihood=likelihood, n_hidden=16, n_latent=4)
    model.train(batch_size=64, **TRAIN_FAST)
    # scvi's ELBO (its KL in closed form, one draw of z) and one-draw estimates of log p(x | s),
    # log p(z) + log p(x | z) - log q(z | x), whose expectation is the ELBO: each averaged over
    # the cells and 10 repeats to quiet the draws' noise (up to 0.7 for the MSE model here).
    elbo = np.mean([model.get_elbo().item() for _ in range(10)])
    one_draw = [model.get_marginal_ll(n_mc_samples=1, return_mean=False) for _ in range(10)]
    assert one_draw[0].shape == (adata.n_obs,)
    assert torch.stack(one_draw).mean().item() == pytest.approx(elbo, abs=1.5)
    # More draws tighten the bound towards log p(x | s), above the ELBO.
    assert model.get_marginal_ll(n_mc_samples=40, n_mc_samples_per_pass=16) > elbo + 0.2


def test_count_getters_need_a_count_likelihood(model):
    for getter in (
        model.posterior_predictive_sample,
        model.get_likelihood_parameters,
        model.get_feature_correlation_matrix,
        model.get_latent_library_size,
    ):
        with pytest.raises(ValueError, match="needs a count likelihood"):
            getter()


def test_view_anndata_setup(model, capsys):
    model.view_anndata_setup()
    assert "condition" in capsys.readouterr().out


def test_normalized_expression_and_fold_changes_of_a_log_normalised_model():
    from scvi_trvae.data import synthetic_perturbation

    adata = synthetic_perturbation(n_cells=100, n_genes=50, n_cell_types=3, n_response_genes=10)
    TRVAE.setup_anndata(adata, condition_key="condition", cell_type_key="cell_type")
    model = TRVAE(adata, n_hidden=32, n_latent=8)
    model.train(max_epochs=100, batch_size=64, early_stopping=False, enable_progress_bar=False)
    # Decoded expression as frequencies times the library size, as for scvi's count models.
    scvi.settings.seed = 0  # the same draws of z in both getter calls
    expression = model.get_normalized_expression(library_size=1e4)
    np.testing.assert_allclose(expression.sum(1), 1e4, rtol=1e-4)
    # library_size="latent": the same expression on the data's own scale, expm1 of the decoded
    # values (the log values themselves before, totals near 10). Their totals sit below each
    # cell's observed total of expm1(X), 1e4, as a mean of logs sits below the log of the mean
    # (0.84 of it here).
    scvi.settings.seed = 0
    latent = model.get_normalized_expression(library_size="latent")
    frequencies = latent / latent.sum(1).to_numpy()[:, None]
    np.testing.assert_allclose(frequencies, expression / 1e4, atol=1e-6)
    x = np.expm1(adata.X.toarray())
    assert 0.7 < np.median(latent.sum(1) / x.sum(1)) <= 1
    # scvi's fold changes are then those of normalised expression, as scanpy reports them: on
    # the data's scale (log2 of the mean of expm1(X)), not compressed by comparing log values
    # (which gave a slope of 0.18 here).
    de = model.differential_expression(
        groupby="condition", group1="stimulated", group2="control", mode="change"
    )
    lfc = de["lfc_mean"].reindex(adata.var_names).to_numpy()
    stimulated = (adata.obs.condition == "stimulated").to_numpy()
    observed = np.log2(x[stimulated].mean(0) / x[~stimulated].mean(0))
    assert np.corrcoef(lfc, observed)[0, 1] > 0.8
    assert np.polyfit(observed, lfc, 1)[0] > 0.5
