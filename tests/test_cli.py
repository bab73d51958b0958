import inspect

import anndata
import matplotlib
import numpy as np
import pandas as pd
import pytest

from scvi_trvae import TRVAE
from scvi_trvae.cli import main
from scvi_trvae.data import synthetic_perturbation

matplotlib.use("Agg")


def test_demo(tmp_path, capsys):
    main(["demo", "--max-epochs", "3", "--out", str(tmp_path / "demo")])
    out = capsys.readouterr().out
    assert "Scores of the prediction" in out and "change_r" in out
    assert (tmp_path / "demo" / "reg_mean.png").stat().st_size > 0
    scores = pd.read_csv(tmp_path / "demo" / "scores.csv")
    assert set(scores.score) == {"r2_mean", "r2_var", "change_r"}


def test_train_predict_evaluate(tmp_path, capsys):
    data = tmp_path / "data.h5ad"
    synthetic_perturbation(n_cells=40, n_genes=60, n_cell_types=3, n_response_genes=10).write_h5ad(
        data
    )
    model = tmp_path / "model"
    main(
        [
            "train", str(data), str(model), "--condition-key", "condition",
            "--cell-type-key", "cell_type", "--hold-out-cell-type", "type0",
            "--hold-out-condition", "stimulated", "--max-epochs", "3",
        ]
    )  # fmt: skip
    assert "Holding out 40 cells" in capsys.readouterr().out
    pred = tmp_path / "pred.h5ad"
    main(
        [
            "predict", str(model), str(data), str(pred), "--target-condition", "stimulated",
            "--cell-type", "type0", "--source-condition", "control",
        ]
    )  # fmt: skip
    predicted = anndata.read_h5ad(pred)
    assert predicted.n_obs == 40 and (predicted.obs.condition == "stimulated").all()
    # The command's default is TRVAE.predict's (the residual); --no-add-residual leaves it out.
    api_default = inspect.signature(TRVAE.predict).parameters["add_residual"].default
    assert predicted.uns["trvae_predict"]["add_residual"] == api_default
    main(
        [
            "predict", str(model), str(data), str(tmp_path / "plain.h5ad"),
            "--target-condition", "stimulated", "--cell-type", "type0",
            "--source-condition", "control", "--no-add-residual",
        ]
    )  # fmt: skip
    plain = anndata.read_h5ad(tmp_path / "plain.h5ad")
    assert not plain.uns["trvae_predict"]["add_residual"]
    assert not np.allclose(plain.X, predicted.X)
    main(
        [
            "evaluate", str(pred), str(data), "--cell-type", "type0", "--control", "control",
            "--target", "stimulated", "--out", str(tmp_path / "scores"),
        ]
    )  # fmt: skip
    assert (tmp_path / "scores" / "scores.csv").exists()


def test_clear_errors(tmp_path, capsys):
    with pytest.raises(SystemExit, match="does not exist"):
        main(["train", str(tmp_path / "nope.h5ad"), str(tmp_path / "m"), "--condition-key", "c"])
    data = tmp_path / "data.h5ad"
    synthetic_perturbation(n_cells=10, n_genes=40, n_cell_types=2).write_h5ad(data)
    with pytest.raises(SystemExit, match=r"cell type 'NK' is not in obs\['cell_type'\]"):
        main(
            [
                "train", str(data), str(tmp_path / "m"), "--condition-key", "condition",
                "--cell-type-key", "cell_type", "--hold-out-cell-type", "NK",
                "--hold-out-condition", "stimulated",
            ]
        )  # fmt: skip
    with pytest.raises(SystemExit):
        main(["train", str(data), str(tmp_path / "m"), "--condition-key", "treatment"])
    assert "Condition key 'treatment' is not a column" in capsys.readouterr().err
