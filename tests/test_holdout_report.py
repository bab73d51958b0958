"""The benchmark: what its report pairs and subtracts, and a peer it runs in this environment."""

import importlib.util
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scvi_trvae.data import synthetic_perturbation

_path = Path(__file__).resolve().parents[1] / "benchmarks" / "holdout.py"
_spec = importlib.util.spec_from_file_location("holdout", _path)
holdout = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(holdout)


def _rows(method, seeds, cell_types, score):
    """Rows whose every score is ``score(seed, cell_type)``."""
    rows = []
    for seed in seeds:
        for cell_type in cell_types:
            row = {"method": method, "cell_type": cell_type, "seed": seed, "seconds": 1.0}
            row.update(dict.fromkeys(holdout.SCORES, score(seed, cell_type)))
            rows.append(row)
    return rows


@pytest.fixture
def table():
    bonus = {"A": 0.0, "B": 0.1, "C": 0.2}  # a cell type's ease, shared by every method
    gap = {"A": 0.002, "B": 0.004, "C": 0.006}  # how far mmd_z trails trvae
    return pd.DataFrame(
        _rows("trvae", [0, 1, 2], "ABC", lambda s, c: 0.5 + bonus[c] + 0.01 * s)
        + _rows("mmd_z", [0, 1, 2], "ABC", lambda s, c: 0.5 + bonus[c] + 0.01 * s - gap[c])
        + _rows("mean_shift", [0], "ABC", lambda s, c: 0.4 + bonus[c])
        + _rows("trvae_x", [0, 1], "A", lambda s, c: 0.5 + 0.01 * s + 0.03)
        + _rows("old_model", [0], "AB", lambda s, c: 0.9)
    )


def test_paired_differences_pair_by_seed_and_broadcast_seedless_methods(table):
    paired = holdout.paired_differences(table)
    # trvae_x and old_model miss cell types, so they are not in the means or this pairing.
    assert list(paired.index) == ["mmd_z", "mean_shift"]
    assert (paired.seeds == 3).all()
    # trvae minus mmd_z: the mean gap, 0.004, in every seed, so the interval is a point.
    assert paired.loc["mmd_z", "r2_var_all"] == "+0.0040 [+0.0040, +0.0040] 3/3"
    # mean_shift's one run per cell type pairs with each of trvae's seeds: 0.1, 0.11, 0.12.
    assert paired.loc["mean_shift", "r2_mean_all"] == "+0.1100 [+0.0852, +0.1348] 3/3"


def test_screen_differences_use_only_the_cell_types_and_seeds_the_screen_has(table):
    screened = holdout.screen_differences(table, ["trvae_x", "old_model"])
    # old_model varies no method of the benchmark, so it has no default to pair with.
    assert list(screened.index) == ["trvae_x"]
    row = screened.loc["trvae_x"]
    assert (row["versus"], row["cell types"], row["seeds"]) == ("trvae", 1, 2)
    # On cell type A in seeds 0 and 1 the screen is 0.03 ahead; B and C would have hidden it.
    assert row["change_r_all"] == "+0.0300 2/2"


@pytest.mark.parametrize(
    ("label", "default"),
    [
        ("trvae_ctbal", "trvae"),
        ("trvae_ctbal_no_residual", "trvae_no_residual"),
        ("mmd_z_y64", "mmd_z"),
        ("cvae_kl1", "cvae"),
        ("trvae", None),
        ("other_model", None),
    ],
)
def test_default_of(label, default):
    assert holdout.default_of(label) == default


def test_default_of_an_earlier_release_is_those_defaults_where_their_rows_are():
    methods = ["trvae", "trvae_v03", "trvae_v03_no_residual", "mmd_z_v03", "trvae_v03_x"]
    assert holdout.default_of("trvae_v03_kl0.05", methods) == "trvae_v03"
    assert holdout.default_of("trvae_v03_kl0.05_no_residual", methods) == "trvae_v03_no_residual"
    assert holdout.default_of("mmd_z_v03_kl0.05", methods) == "mmd_z_v03"
    # Only a release's defaults (method_vNN) are defaults: a screen never varies another screen.
    assert holdout.default_of("trvae_v03_x_y", methods) == "trvae_v03"
    # Without the release's rows, the current defaults.
    assert holdout.default_of("cvae_v03_kl0.05", methods) == "cvae"


def test_interval_needs_three_values_and_counts_from_two():
    assert holdout._interval(pd.Series([0.01])) == "+0.0100"
    assert holdout._interval(pd.Series([0.01, -0.03])) == "-0.0100 1/2"
    # sd 0.01 over 3 values: half-width t(0.975, 2) x 0.01 / sqrt(3) = 0.0248
    assert holdout._interval(pd.Series([0.01, 0.02, 0.03])) == "+0.0200 [-0.0048, +0.0448] 3/3"


def test_from_csv_with_screens_writes_the_screen_section(table, tmp_path):
    defaults, screens = tmp_path / "defaults.csv", tmp_path / "screens.csv"
    table[table.method != "trvae_x"].to_csv(defaults, index=False)
    table[table.method == "trvae_x"].to_csv(screens, index=False)
    output = tmp_path / "tables.md"
    argv = ["--all-cell-types", "--from-csv", str(defaults), "--screens", str(screens)]
    holdout.main([*argv, "--output", str(output)])
    text = output.read_text()
    assert "## Screens minus the defaults they vary" in text
    # label | versus | cell types | seeds
    assert re.search(r"\|\s*trvae_x\s*\|\s*trvae\s*\|\s*1\s*\|\s*2\s*\|", text)


def test_scvi_peer_predicts_log_normalised_cells_at_each_control_cells_total():
    adata = synthetic_perturbation(n_cells=30, n_genes=40, n_cell_types=3)
    # Each cell normalised to its own total (synthetic data all have 10,000).
    totals = np.random.default_rng(0).uniform(2e3, 2e4, adata.n_obs)[:, None]
    adata.X = np.log1p(np.expm1(adata.X.toarray()) * totals / 1e4)
    args = holdout.parse_args(["--max-epochs", "2", "--n-draws", "2"])
    rows, predictions, _, control = holdout.run_one(adata, "type1", "scvi", "mse", 0, args)
    predicted = predictions["scvi"]
    assert predicted.obs_names.equals(control.obs_names)
    # Decoded frequencies times each control cell's own total: the same totals as its X.
    np.testing.assert_allclose(
        np.expm1(predicted.X).sum(1), holdout.library_sizes(control), rtol=1e-4
    )
    assert [row["method"] for row in rows] == ["scvi"]
    scores = [value for key, value in rows[0].items() if key.startswith(("r2_", "change_r_"))]
    assert len(scores) == len(holdout.SCORES)
    assert np.isfinite(scores).all()
