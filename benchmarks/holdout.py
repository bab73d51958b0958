"""Hold out the perturbed cells of a cell type, predict them, and score the prediction.

The trVAE paper's protocol: train on every cell but the perturbed cells of one cell type; map
that cell type's control cells to the perturbed condition; compare with the real perturbed
cells (R^2 of per-gene means and variances over all genes and the top-100 DEGs, 100 draws of
80% of the cells) and the Pearson r of the predicted change. Every method runs in this one
script, on the same split, scored by the same code:

- trvae: scvi-trvae with its defaults (one run per --likelihood and --seeds);
- cvae: the same network with mmd_weight=0 (a plain conditional VAE);
- mmd_z: the same network with the MMD on z instead of y (the paper's ablation);
- scarches: the scArches TRVAE 0.6.1 ([128, 128] hidden, latent 20, MSE, MMD on y, beta 1,
  its trainer's defaults), which has no predict(): its encoder maps the control cells with
  their condition (posterior mean), its decoder decodes them with the target condition.
  Needs `pip install --group bench` (scarches imports only with anndata<0.12);
- scgen: pertpy's Scgen (JAX) with its defaults, trained as scGen's README trains it (100
  epochs at most, batches of 32, early stopping after 25), predicting with its own predict():
  the control cells' latent codes plus the mean stimulated-minus-control latent difference of
  the training cells. Needs its own environment: `pip install --group bench-scgen` (pertpy
  1.0 needs anndata>=0.12, scarches anndata<0.12);
- scvi: scvi-tools' SCVI with its defaults on the raw counts (--counts-layer), the condition as
  its batch; the control cells' normalised expression decoded in the target batch
  (get_normalized_expression(transform_batch=...)), scaled to each cell's own total of
  expm1(X), log1p;
- mean_shift: control cells + the mean perturbed-minus-control difference of the other types;
- control: the control cells themselves.

    python benchmarks/holdout.py --data ../shared/data/kang2018_pbmc.h5ad --cell-type NK
    python benchmarks/holdout.py --all-cell-types --methods trvae,cvae,mmd_z,scarches,mean_shift,control \\
        --seeds 0,1,2 --output docs/benchmarks.md --plots docs/_static
    python benchmarks/holdout.py --all-cell-types --methods trvae \\
        --model-kwargs '{"mmd_weight": 10}' --suffix _mmd10 --csv mmd10.csv   # a sweep's rows
    python benchmarks/holdout.py --all-cell-types --from-csv defaults.csv --screens mmd10.csv
        # each screen's row minus the default it varies, on the cell types it was run on
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shlex
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import scanpy as sc
import scvi
import torch
from scipy import stats

import scvi_trvae
from scvi_trvae import metrics

DEFAULT_DATA = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kang2018_pbmc.h5ad"
)
SCORES = [
    "r2_mean_all",
    "r2_mean_top100",
    "r2_var_all",
    "r2_var_top100",
    "change_r_all",
    "change_r_top100",
]
HEADLINE = ["r2_mean_all", "r2_mean_top100", "r2_var_all", "change_r_all", "change_r_top100"]
DETERMINISTIC = ("mean_shift", "control")
# Where the models train: scvi's trainer and the scArches trainer both take the GPU if there is one.
DEVICE = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"


def fit(train, args, seed, likelihood="mse", **model_kwargs) -> scvi_trvae.TRVAE:
    """scvi-trvae trained on ``train`` with ``--model-kwargs`` and ``--train-kwargs``."""
    scvi.settings.seed = seed
    layer = None if likelihood == "mse" else args.counts_layer
    scvi_trvae.TRVAE.setup_anndata(
        train, condition_key=args.condition_key, cell_type_key=args.cell_type_key, layer=layer
    )
    model = scvi_trvae.TRVAE(
        train, likelihood=likelihood, **{**json.loads(args.model_kwargs), **model_kwargs}
    )
    model.train(
        max_epochs=args.max_epochs, enable_progress_bar=False, **json.loads(args.train_kwargs)
    )
    logging.info("trained %d epochs", len(model.history["train_loss"]))
    return model


def library_sizes(control) -> np.ndarray:
    """Each control cell's total of expm1(X): count models' predictions are normalised to it."""
    return np.asarray(np.expm1(metrics._dense(control)).sum(1)).ravel()


def _trvae(name, train, control, args, seed, likelihood="mse", **model_kwargs):
    """Train scvi-trvae and predict; {label: prediction}."""
    model = fit(train, args, seed, likelihood, **model_kwargs)
    kwargs = {"library_size": library_sizes(control), **json.loads(args.predict_kwargs)}
    label = (name if likelihood == "mse" else f"{name}_{likelihood}") + args.suffix
    predictions = {label: model.predict(control, target_condition=args.target, **kwargs)}
    if name == "trvae":  # the same model without the residual: an ablation at no training cost
        kwargs["add_residual"] = False
        predictions[f"{label}_no_residual"] = model.predict(
            control, target_condition=args.target, **kwargs
        )
    return predictions


def trvae(train, control, args, seed, likelihood):
    return _trvae("trvae", train, control, args, seed, likelihood)


def cvae(train, control, args, seed, likelihood):
    return _trvae("cvae", train, control, args, seed, likelihood, mmd_weight=0.0)


def mmd_z(train, control, args, seed, likelihood):
    return _trvae("mmd_z", train, control, args, seed, likelihood, mmd_on="z")


def scarches(train, control, args, seed, likelihood):
    import scarches as sca
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002  scArches draws its validation split from the global RNG
    conditions = sorted(train.obs[args.condition_key].unique())
    model = sca.models.TRVAE(
        adata=train,
        condition_key=args.condition_key,
        conditions=conditions,
        hidden_layer_sizes=[128, 128],
        latent_dim=20,
        recon_loss="mse",
        mmd_on="y",
        beta=1,
    )
    model.train(seed=seed, **({} if args.max_epochs is None else {"n_epochs": args.max_epochs}))
    net = model.model.eval()
    encode = net.condition_encoder
    x = torch.tensor(metrics._dense(control), dtype=torch.float32)
    source = torch.tensor([encode[c] for c in control.obs[args.condition_key]])
    with torch.no_grad():
        z_mean, _ = net.encoder(x, source)
        decoded, _ = net.decoder(z_mean, torch.full_like(source, encode[args.target]))
    predicted = control.copy()
    predicted.X = decoded.numpy()
    return {"scarches": predicted}


def scgen(train, control, args, seed, likelihood):
    from unittest import mock

    import pertpy as pt

    scvi.settings.seed = seed
    pt.tl.Scgen.setup_anndata(train, batch_key=args.condition_key, labels_key=args.cell_type_key)
    model = pt.tl.Scgen(train)
    model.train(
        max_epochs=args.max_epochs or 100,
        batch_size=32,
        early_stopping=True,
        early_stopping_patience=25,
        enable_progress_bar=False,
    )
    # Its predict() draws the cells of the latent difference from an unseeded generator
    # (np.random.default_rng() in pertpy): one seeded generator makes the row reproducible.
    rng = np.random.default_rng(seed)
    with mock.patch.object(np.random, "default_rng", lambda *_: rng):
        predicted, _ = model.predict(
            ctrl_key=args.source, stim_key=args.target, adata_to_predict=control
        )
    return {"scgen": predicted}


def scvi_peer(train, control, args, seed, likelihood):
    scvi.settings.seed = seed
    scvi.model.SCVI.setup_anndata(train, layer=args.counts_layer, batch_key=args.condition_key)
    model = scvi.model.SCVI(train)
    model.train(max_epochs=args.max_epochs, enable_progress_bar=False)
    frequencies = model.get_normalized_expression(
        control, transform_batch=args.target, library_size=1, return_numpy=True
    )
    predicted = control.copy()
    predicted.X = np.log1p(frequencies * library_sizes(control)[:, None]).astype(np.float32)
    return {"scvi": predicted}


def mean_shift(train, control, args, seed, likelihood):
    shifted = metrics.mean_shift_baseline(
        train, control, args.condition_key, args.cell_type_key, args.source, args.target
    )
    return {"mean_shift": shifted}


def control_cells(train, control, args, seed, likelihood):
    return {"control": metrics.control_baseline(control)}


METHODS = {
    "trvae": trvae,
    "cvae": cvae,
    "mmd_z": mmd_z,
    "scarches": scarches,
    "scgen": scgen,
    "scvi": scvi_peer,
    "mean_shift": mean_shift,
    "control": control_cells,
}


def split(adata, cell_type, args):
    is_type = adata.obs[args.cell_type_key] == cell_type
    condition = adata.obs[args.condition_key]
    train = adata[~(is_type & (condition == args.target))].copy()
    control = adata[is_type & (condition == args.source)].copy()
    real = adata[is_type & (condition == args.target)].copy()
    return train, control, real


def held_out_cell_types(adata, args) -> list[str]:
    """Every cell type with --all-cell-types, else those of --cell-type."""
    if args.all_cell_types:
        return sorted(adata.obs[args.cell_type_key].unique())
    return args.cell_type.split(",")


def run_one(adata, cell_type, method, likelihood, seed, args):
    """Rows of scores (one per prediction the method makes) and the predictions."""
    train, control, real = split(adata, cell_type, args)
    start = time.perf_counter()
    predictions = METHODS[method](train, control, args, seed, likelihood)
    seconds = time.perf_counter() - start
    rows = score(predictions, real, control, cell_type, seed, seconds, args)
    return rows, predictions, real, control


def score(predictions, real, control, cell_type, seed, seconds, args) -> list[dict]:
    """A row of scores per prediction ({label: AnnData}) of one held-out cell type."""
    degs = metrics.top_degs(real, control)
    rows = []
    for label, predicted in predictions.items():
        scores = metrics.prediction_scores(
            predicted, real, control, degs=degs, n_draws=args.n_draws, seed=seed
        )
        row = {"method": label, "cell_type": cell_type, "seed": seed, "seconds": round(seconds, 1)}
        row["device"] = DEVICE
        means = zip(scores.score, scores.genes, scores["mean"], strict=True)
        row.update({f"{s}_{g}": m for s, g, m in means})
        rows.append(row)
    return rows


def complete_methods(table: pd.DataFrame) -> list[str]:
    """Methods with rows for every cell type of the table (a mean over fewer would mislead)."""
    coverage = table.groupby("method", sort=False).cell_type.nunique()
    return list(coverage.index[coverage == table.cell_type.nunique()])


def _per_run(table: pd.DataFrame) -> pd.DataFrame:
    """The scores of each method, seed and cell type; a run repeated counts once (averaged)."""
    return table.groupby(["method", "seed", "cell_type"], sort=False)[SCORES].mean()


def _per_seed(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over cell types of each complete method and seed."""
    table = table[table.method.isin(complete_methods(table))]
    return _per_run(table).groupby(["method", "seed"], sort=False).mean()


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over cell types of each method; for seeded methods, mean and sd over seeds."""
    per_seed = _per_seed(table)
    mean = per_seed.groupby("method", sort=False).mean()
    sd = per_seed.groupby("method", sort=False).std()
    n_seeds = per_seed.groupby("method", sort=False).size()
    out = mean.round(3).astype(str)
    for method in out.index:
        if n_seeds[method] > 1:
            out.loc[method] = [
                f"{m:.3f} ± {s:.3f}" for m, s in zip(mean.loc[method], sd.loc[method], strict=True)
            ]
    out.insert(0, "seeds", n_seeds)
    return out


def _paired(runs: pd.DataFrame, ours: str, theirs: str) -> tuple[pd.DataFrame, int]:
    """``ours`` minus ``theirs``, seed by seed, on the cell types both were run on in that seed.

    Per seed, the difference of the means over those cell types: the seeds share their splits,
    so the pairing removes what a seed does to every model. A method that does not depend on
    the seed (mean_shift, control) pairs its one run per cell type with every seed of ``ours``.
    Returns the differences (a row per seed) and how many cell types they cover.
    """
    a, b = runs.loc[ours].reset_index(), runs.loc[theirs].reset_index()
    keys = ["seed", "cell_type"]
    if theirs in DETERMINISTIC:
        b, keys = b.drop(columns="seed"), ["cell_type"]
    both = a.merge(b, on=keys, suffixes=("", "_theirs"))
    diff = pd.DataFrame({s: both[s] - both[f"{s}_theirs"] for s in HEADLINE})
    return diff.groupby(both.seed).mean(), both.cell_type.nunique()


def _interval(d: pd.Series) -> str:
    """Mean; from 3 values on, its 95% t interval; from 2, how many values are above zero."""
    text = f"{d.mean():+.4f}"
    if len(d) >= 3:
        half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
        text += f" [{d.mean() - half:+.4f}, {d.mean() + half:+.4f}]"
    return f"{text} {(d > 0).sum()}/{len(d)}" if len(d) > 1 else text


def paired_differences(table: pd.DataFrame, reference: str = "trvae") -> pd.DataFrame:
    """``reference`` minus each other complete method, paired by seed (see :func:`_paired`).

    Seeded methods need 3 seeds or more in common with ``reference``.
    """
    runs = _per_run(table[table.method.isin(complete_methods(table))])
    methods = runs.index.get_level_values("method").unique()
    if reference not in methods:
        return pd.DataFrame()
    rows = {}
    for method in methods.drop(reference):
        diff, _ = _paired(runs, reference, method)
        if len(diff) >= 3:
            rows[method] = [len(diff), *(_interval(diff[s]) for s in HEADLINE)]
    return pd.DataFrame.from_dict(rows, orient="index", columns=["seeds", *HEADLINE])


def default_of(label: str, methods: Iterable[str] = ()) -> str | None:
    """The default row a screen's row varies: ``trvae_ctbal`` varies ``trvae``, and
    ``trvae_ctbal_no_residual`` varies ``trvae_no_residual``. A screen of an earlier release's
    defaults, ``trvae_v03_kl0.05``, varies those defaults, ``trvae_v03``, where ``methods``
    (the rows at hand) has them."""
    base = label.removesuffix("_no_residual")
    versioned = (m for m in methods if re.fullmatch(rf"({'|'.join(METHODS)})_v\d\d", m))
    default = max(
        (m for m in (*METHODS, *versioned) if base.startswith(f"{m}_")), key=len, default=None
    )
    if default is None:
        return None
    return f"{default}_no_residual" if label.endswith("_no_residual") else default


def screen_differences(table: pd.DataFrame, screens: list[str]) -> pd.DataFrame:
    """Each screen's row minus the default it varies, paired by seed on their shared cell types.

    This compares a screen stopped after a few cell types with the defaults on the same ones.
    """
    runs = _per_run(table)
    methods = runs.index.get_level_values("method").unique()
    rows = {}
    for label in screens:
        default = default_of(label, methods)
        if default not in methods:
            continue
        diff, n_types = _paired(runs, label, default)
        if len(diff):
            rows[label] = [default, n_types, len(diff), *(_interval(diff[s]) for s in HEADLINE)]
    columns = ["versus", "cell types", "seeds", *HEADLINE]
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)


def write_markdown(
    table: pd.DataFrame,
    means: pd.DataFrame,
    paired: pd.DataFrame,
    screened: pd.DataFrame,
    path: Path,
    commands: list[str],
):
    """The tables: ``means`` from :func:`summary`, ``paired`` from :func:`paired_differences`,
    ``screened`` from :func:`screen_differences`."""
    per_type = table.groupby(["cell_type", "method"], sort=False)[HEADLINE].mean().round(3)
    text = [
        "# Benchmarks",
        "",
        "Leave-one-cell-type-out on Kang 2018 PBMCs (`../shared/data/kang2018_pbmc.h5ad`, 1,975 "
        "cells x 6,998 genes, control vs IFN-beta): each cell type's stimulated cells are held "
        "out in turn, predicted from its control cells, and scored against the real ones "
        "(R^2 of per-gene means and variances over all genes and the top-100 DEGs, averaged over "
        "100 draws of 80% of the cells; Pearson r of the predicted change against the real "
        "change from the control mean). Produced by:",
        "",
        *[f"    {command}" for command in commands],
        "",
        f"(Training and prediction, summed over the runs: {_minutes_by_device(table)}.) Methods: "
        "see the docstring of `benchmarks/holdout.py`.",
        "",
        "## Mean over cell types",
        "",
        "For methods run with several seeds: mean ± sd over the seeds of the mean over cell types."
        + incomplete_note(table),
        "",
        means.to_markdown(),
        "",
        *_section(PAIRED_TEXT, paired),
        *_section(SCREEN_TEXT, screened),
        "## Per cell type (mean over seeds)",
        "",
        per_type.reset_index().to_markdown(index=False),
        "",
    ]
    path.write_text("\n".join(text))


PAIRED_TEXT = (
    "## trVAE minus each alternative, paired by seed",
    "Per seed, the difference of the means over cell types (trvae minus the method); the mean of "
    "those differences, its 95% t interval over the seeds, and the number of seeds in which trvae "
    "is ahead. Methods that do not depend on the seed pair with every seed.",
)
SCREEN_TEXT = (
    "## Screens minus the defaults they vary, on the cell types they were run on",
    "Each row of the CSVs given with `--screens` minus the default row it varies (`versus`: "
    "trvae, mmd_z, cvae, or trvae_no_residual for the prediction without the residual), paired "
    "by seed on the cell types both were run on in that seed: per seed, the difference of the "
    "means over those cell types; the mean over the seeds, its 95% t interval from 3 seeds on, "
    "and from 2 seeds on the number of seeds in which the screen is ahead.",
)


def _section(text: tuple[str, str], frame: pd.DataFrame) -> list[str]:
    """A heading, its explanation and ``frame`` as a markdown table; nothing if it is empty."""
    heading, explanation = text
    return [] if frame.empty else [heading, "", explanation, "", frame.to_markdown(), ""]


def _minutes_by_device(table: pd.DataFrame) -> str:
    # Rows saved before the device was recorded were all run on the project's CPU machine.
    device = table["device"] if "device" in table else pd.Series("cpu", index=table.index)
    minutes = table.seconds.groupby(device.fillna("cpu"), sort=False).sum() / 60
    where = {"cpu": "a 2-core CPU machine"}
    return ", ".join(f"{m:.0f} min on {where.get(d, f'one {d}')}" for d, m in minutes.items())


def incomplete_note(table: pd.DataFrame) -> str:
    partial = sorted(set(table.method) - set(complete_methods(table)))
    if not partial:
        return ""
    return (
        f" Not run on every cell type, so left out of the means: {', '.join(partial)}"
        " (their rows are in the per-cell-type table)."
    )


def save_plots(predicted, real, control, folder: Path, cell_type: str):
    import matplotlib

    matplotlib.use("Agg")
    folder.mkdir(parents=True, exist_ok=True)
    degs = metrics.top_degs(real, control)
    scvi_trvae.pl.reg_mean_plot(
        predicted, real, degs=degs, save=folder / f"{cell_type}_reg_mean.png"
    )
    scvi_trvae.pl.reg_var_plot(
        predicted, real, degs=degs, save=folder / f"{cell_type}_reg_var.png"
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="h5ad with log-normalised X")
    parser.add_argument(
        "--cell-type", default="NK", help="cell type(s) to hold out, comma-separated"
    )
    parser.add_argument("--all-cell-types", action="store_true", help="hold out each in turn")
    parser.add_argument("--methods", default="trvae,mean_shift,control", help=",".join(METHODS))
    parser.add_argument("--likelihood", default="mse", help="trvae likelihoods: mse,nb,zinb")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds of the model runs")
    parser.add_argument("--condition-key", default="condition")
    parser.add_argument("--cell-type-key", default="cell_type")
    parser.add_argument("--counts-layer", default="counts", help="raw counts, for nb and zinb")
    parser.add_argument("--source", default="control")
    parser.add_argument("--target", default="stimulated")
    parser.add_argument("--max-epochs", type=int, default=None, help="default: each method's own")
    parser.add_argument("--model-kwargs", default="{}", help="JSON passed to TRVAE()")
    parser.add_argument("--train-kwargs", default="{}", help="JSON passed to TRVAE.train()")
    parser.add_argument("--predict-kwargs", default="{}", help="JSON passed to TRVAE.predict()")
    parser.add_argument(
        "--suffix", default="", help="appended to the model rows' names (a sweep of the *-kwargs)"
    )
    parser.add_argument("--n-draws", type=int, default=100)
    parser.add_argument("--csv", default=None, help="write every row to this CSV")
    parser.add_argument("--output", default=None, help="write the tables to this markdown file")
    parser.add_argument("--plots", default=None, help="folder for the NK regression plots")
    parser.add_argument(
        "--from-csv", nargs="+", default=[], help="only report rows saved by earlier --csv runs"
    )
    parser.add_argument(
        "--screens",
        nargs="+",
        default=[],
        help="report these CSVs' rows too (screens run against the current defaults), each "
        "paired with the default it varies (from --from-csv) on the cell types it was run on",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.from_csv or args.screens:
        screens = [pd.read_csv(f) for f in args.screens]
        table = pd.concat([*(pd.read_csv(f) for f in args.from_csv), *screens])
        if not args.all_cell_types:
            table = table[table.cell_type.isin(args.cell_type.split(","))]
        return report(table, args, list(dict.fromkeys(m for t in screens for m in t.method)))
    adata = sc.read_h5ad(args.data)
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = []
    for method in args.methods.split(","):
        if method not in METHODS:
            raise SystemExit(f"unknown method {method!r}; choose from {list(METHODS)}")
        likelihoods = args.likelihood.split(",") if method == "trvae" else ["mse"]
        runs += [
            (method, lik, seed)
            for lik in likelihoods
            for seed in (seeds[:1] if method in DETERMINISTIC else seeds)
        ]
    rows = []
    for cell_type in held_out_cell_types(adata, args):
        for method, likelihood, seed in runs:
            new, predictions, real, control = run_one(
                adata, cell_type, method, likelihood, seed, args
            )
            header = not rows
            rows += new
            print(pd.DataFrame(new).round(3).to_string(index=False, header=header), flush=True)
            if args.csv:  # after every run, so that an interrupted benchmark keeps its rows
                pd.DataFrame(rows).to_csv(args.csv, index=False)
                Path(args.csv).with_suffix(".cmd").write_text(_command() + "\n")
            if args.plots and cell_type == "NK" and "trvae" in predictions and seed == seeds[0]:
                save_plots(predictions["trvae"], real, control, Path(args.plots), cell_type)
    report(pd.DataFrame(rows), args)


def report(table: pd.DataFrame, args, screens: list[str] | None = None):
    """Print the tables and write them to ``--output``; ``screens``: the labels to pair with
    the defaults they vary."""
    print("\nMean over cell types (for several seeds: mean ± sd over seeds):")
    means, paired = summary(table), paired_differences(table)
    screened = screen_differences(table, screens or [])
    print(means.to_string())
    if not paired.empty:
        print("\ntrvae minus each method, paired by seed (mean [95% interval] seeds ahead):")
        print(paired.to_string())
    if not screened.empty:
        print("\nEach screen minus the default it varies, on their shared cell types and seeds:")
        print(screened.to_string())
    if args.output:
        commands = [_command()]
        if args.from_csv or args.screens:  # the runs that made the rows, then this report
            sidecars = [Path(f).with_suffix(".cmd") for f in args.from_csv + args.screens]
            # a sidecar holds one command a line (a run resumed in parts has several)
            commands = [
                c for p in sidecars if p.exists() for c in p.read_text().splitlines()
            ] + commands
        write_markdown(table, means, paired, screened, Path(args.output), commands)


def _command() -> str:
    return "python " + " ".join(shlex.quote(a) for a in sys.argv)


if __name__ == "__main__":
    main()
