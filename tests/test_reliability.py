"""The user's data is left alone, results reproduce, saved models load, bad minibatches pass."""

import hashlib
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import scvi
import torch
from helpers import TRAIN_FAST
from scipy import sparse

from scvi_trvae import TRVAE, metrics, pl
from scvi_trvae.data import synthetic_perturbation

matplotlib.use("Agg")
FIXTURES = Path(__file__).parent / "data"
# What scvi-tools' registration documents that it adds to the AnnData.
REGISTRATION_OBS = {"_scvi_batch", "_scvi_labels"}
REGISTRATION_UNS = {"_scvi_uuid", "_scvi_manager_uuid"}


def digest(value) -> str:
    h = hashlib.sha256()
    if sparse.issparse(value):
        for part in (value.data, value.indices, value.indptr):
            h.update(np.ascontiguousarray(part).tobytes())
    elif isinstance(value, pd.DataFrame | pd.Series | pd.Index):
        h.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
        h.update(str(list(getattr(value, "columns", []))).encode())
    else:
        h.update(np.ascontiguousarray(value).tobytes())
    return h.hexdigest()


def fingerprint(adata) -> dict:
    return {
        "X": digest(adata.X),
        **{f"layer:{k}": digest(v) for k, v in adata.layers.items()},
        **{f"obs:{c}": digest(adata.obs[c]) for c in adata.obs.columns},
        "obs_names": digest(adata.obs_names),
        "var": digest(adata.var),
        "var_names": digest(adata.var_names),
        **{f"obsm:{k}": digest(v) for k, v in adata.obsm.items()},
        "uns": str(sorted(adata.uns)),
    }


def test_nothing_changes_but_the_registration_fields(adata):
    adata.obsm["X_pca"] = np.random.default_rng(0).normal(size=(adata.n_obs, 2))
    control = adata[(adata.obs.cell_type == "type1") & (adata.obs.condition == "control")].copy()
    real = adata[(adata.obs.cell_type == "type1") & (adata.obs.condition == "stimulated")].copy()
    before = {name: fingerprint(a) for name, a in (("adata", adata), ("control", control))}
    before_real = fingerprint(real)
    uns_before = set(adata.uns)

    TRVAE.setup_anndata(adata, condition_key="condition", cell_type_key="cell_type")
    model = TRVAE(adata, n_hidden=8, n_latent=2)
    model.train(batch_size=64, **TRAIN_FAST)
    pred = model.predict(control, target_condition="stimulated", add_residual=True)
    model.predict(target_condition="stimulated")
    model.get_latent_representation()
    model.get_mmd_layer_representation()
    metrics.prediction_scores(pred, real, control, n_draws=2)
    metrics.mean_shift_baseline(adata, control, "condition", "cell_type", "control", "stimulated")
    pl.reg_mean_plot(pred, real, control)
    pl.embedding(model)

    after = fingerprint(adata)
    assert set(after) - set(before["adata"]) == {f"obs:{c}" for c in REGISTRATION_OBS} | set()
    for key, value in before["adata"].items():
        if key != "uns":
            assert after[key] == value, f"{key} changed"
    assert set(adata.uns) - uns_before == REGISTRATION_UNS
    # Cells passed to predict are registered as scvi-tools documents; nothing else changes.
    control_after = fingerprint(control)
    for key, value in before["control"].items():
        if key != "uns":
            assert control_after[key] == value, f"control {key} changed"
    assert fingerprint(real) == before_real


def train_and_predict(adata):
    scvi.settings.seed = 42
    adata = adata.copy()
    TRVAE.setup_anndata(adata, condition_key="condition")
    model = TRVAE(adata, n_hidden=8, n_latent=2)
    model.train(batch_size=64, **TRAIN_FAST)
    return model.predict(target_condition="stimulated").X


def test_same_seed_same_predictions(adata):
    np.testing.assert_array_equal(train_and_predict(adata), train_and_predict(adata))


def test_load_in_a_fresh_process(adata, tmp_path):
    TRVAE.setup_anndata(adata, condition_key="condition")
    model = TRVAE(adata, n_hidden=8, n_latent=2)
    model.train(batch_size=64, **TRAIN_FAST)
    expected = model.predict(target_condition="stimulated").X
    model.save(tmp_path / "model", save_anndata=True)
    script = (
        "import sys, numpy as np; from scvi_trvae import TRVAE; "
        "m = TRVAE.load(sys.argv[1], accelerator='cpu'); "
        "np.save(sys.argv[2], m.predict(target_condition='stimulated').X)"
    )
    out = tmp_path / "prediction.npy"
    subprocess.run([sys.executable, "-c", script, tmp_path / "model", out], check=True)
    # Trained on a GPU where there is one: its float32 kernels differ from the CPU's in the
    # last bits (1e-6 here), so the CPU load matches to float32 precision, not bit for bit.
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-5, atol=1e-6)


def test_load_with_reordered_genes(adata, tmp_path):
    TRVAE.setup_anndata(adata, condition_key="condition")
    model = TRVAE(adata, n_hidden=8, n_latent=2)
    model.train(batch_size=64, **TRAIN_FAST)
    expected = model.predict(target_condition="stimulated").X
    model.save(tmp_path / "model")
    reordered = adata[:, adata.var_names[::-1]].copy()
    loaded = TRVAE.load(tmp_path / "model", adata=reordered)
    pred = loaded.predict(target_condition="stimulated")
    assert pred.var_names.equals(adata.var_names)
    np.testing.assert_allclose(pred.X, expected, atol=1e-6)
    assert reordered.var_names[0] == adata.var_names[-1]  # the user's copy is untouched
    with pytest.raises(ValueError, match="5 of the saved model's 50 genes are missing"):
        TRVAE.load(tmp_path / "model", adata=adata[:, 5:].copy())


def test_load_errors(adata, tmp_path):
    scvi_data = adata.copy()
    scvi.model.SCVI.setup_anndata(scvi_data, layer="counts")
    scvi.model.SCVI(scvi_data).save(tmp_path / "scvi")
    with pytest.raises(ValueError, match="different class"):
        TRVAE.load(tmp_path / "scvi", adata=adata)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="could not be read as a saved model"):
        TRVAE.load(tmp_path / "broken", adata=adata)
    with pytest.raises(FileNotFoundError, match="No saved model"):
        TRVAE.load(tmp_path / "nothing", adata=adata)


@pytest.mark.parametrize("saved", sorted(p.name for p in FIXTURES.glob("trvae_*")))
def test_models_saved_by_released_versions_still_load(saved):
    sys.path.insert(0, str(FIXTURES))
    from make_saved_model import FIXTURE_DATA, PREDICT

    adata = synthetic_perturbation(**FIXTURE_DATA)
    model = TRVAE.load(FIXTURES / saved, adata=adata)
    pred = model.predict(**PREDICT)
    np.testing.assert_allclose(pred.X, np.load(FIXTURES / saved / "prediction.npy"), atol=1e-5)


def test_no_one_cell_minibatch():
    # 129 training cells and batch size 128: a plain loader's last minibatch has one cell,
    # which batch norm cannot train on. The balanced sampler yields full minibatches only.
    adata = synthetic_perturbation(n_cells=36, n_genes=40, n_cell_types=2)[:129].copy()
    TRVAE.setup_anndata(adata, condition_key="condition")
    model = TRVAE(adata, n_hidden=8, n_latent=2)
    model.train(batch_size=128, train_size=1.0, **TRAIN_FAST)
    assert len(model.train_indices) == 129
    assert np.isfinite(model.history["train_loss"].to_numpy(dtype=float)).all()


def test_validation_set_smaller_than_a_minibatch_with_a_one_cell_remainder(adata):
    TRVAE.setup_anndata(adata, condition_key="condition")
    model = TRVAE(adata, n_hidden=8, n_latent=2)
    model.train(batch_size=23, **TRAIN_FAST)  # 24 validation cells: minibatches of 23 and 1
    assert np.isfinite(model.history["validation_loss"].to_numpy(dtype=float)).all()


def test_minibatch_of_one_condition(adata):
    TRVAE.setup_anndata(adata, condition_key="condition")
    model = TRVAE(adata, n_hidden=8, n_latent=2)
    one_condition = np.flatnonzero(adata.obs.condition == "control")[:32]
    batch = next(iter(model._make_data_loader(adata, indices=one_condition, batch_size=32)))
    model.module.train()
    _, _, loss = model.module(batch)
    assert torch.isfinite(loss.loss)
    assert loss.extra_metrics["mmd"] == 0


def test_load_a_model_saved_on_gpu_onto_cpu(adata, tmp_path, monkeypatch):
    TRVAE.setup_anndata(adata, condition_key="condition")
    model = TRVAE(adata, n_hidden=8, n_latent=2)
    model.train(batch_size=64, **TRAIN_FAST)
    expected = model.predict(target_condition="stimulated").X
    # torch.save records each tensor's device through location_tag: patched, the file says
    # cuda:0 for every tensor, as a save on a GPU does.
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        model.save(tmp_path / "gpu_model")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(tmp_path / "gpu_model" / "model.pt", weights_only=False)
    loaded = TRVAE.load(tmp_path / "gpu_model", adata=adata, accelerator="cpu")
    assert loaded.device.type == "cpu"
    predicted = loaded.predict(target_condition="stimulated").X
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-6)  # as above
