"""The likelihood's own noise as a lever for the variances: a probe on one held-out cell type.

Trains scvi-trvae (seed 0) with one cell type's stimulated cells held out, as ``holdout.py``
does, and scores its predictions of them with and without the likelihood's noise.

``--likelihood mse`` (the defaults): the decoded means, the decoded means plus the MSE
likelihood's noise (a Gaussian of variance 1/2, clipped at zero like the data), the default
prediction (with the residual), and the default plus the same noise.

``--likelihood nb`` (raw counts): the decoded means, the default prediction (with the residual),
counts drawn from the negative binomial of the target condition, and a counterfactual draw: each
control cell's count is mapped to the count at the same quantile of the target condition's
negative binomial, the quantile drawn uniformly within the count's step of the source
condition's distribution (the abduction step for a discrete likelihood). Counts are normalised
like each control cell's ``X``.

    python benchmarks/likelihood_noise.py --cell-type NK
    python benchmarks/likelihood_noise.py --cell-type NK --likelihood nb

Other options (``--model-kwargs``, ``--train-kwargs``...) are ``holdout.py``'s. The saved
output (benchmarks/results/likelihood_noise.txt) was made with the MMD over all cells, the
default then: add ``--model-kwargs '{"mmd_by_cell_type": false}'`` to rerun it.
"""

from __future__ import annotations

import argparse
import time

import holdout
import numpy as np
import scanpy as sc
import torch
from scipy import sparse, stats

from scvi_trvae._compat import MODULE_KEYS
from scvi_trvae._module import MSE_SCALE


def with_noise(prediction, rng):
    """The prediction plus the MSE likelihood's Gaussian noise, clipped at zero like the data."""
    noisy = prediction.copy()
    noise = rng.normal(0, MSE_SCALE, prediction.shape)
    noisy.X = np.clip(prediction.X + noise, 0, None).astype(np.float32)
    return noisy


@torch.inference_mode()
def negative_binomials(model, counts, source, target):
    """The decoded negative binomials of the cells (posterior mean of z) in both conditions."""
    module = model.module
    x = torch.as_tensor(counts, dtype=torch.float32, device=model.device)
    batch = torch.full((len(x), 1), model.conditions.index(source), device=model.device)
    inference = module.inference(x, batch)
    theta = torch.exp(module.px_r).double().cpu().numpy()
    distributions = []
    for condition in (source, target):
        px = module.generative(
            inference[MODULE_KEYS.QZ_KEY].loc,
            batch,
            inference[MODULE_KEYS.LIBRARY_KEY],
            transform_batch=model.conditions.index(condition),
        )["px"]
        mu = px.mu.double().cpu().numpy()
        distributions.append(stats.nbinom(theta, theta / (theta + mu)))
    return distributions


def nb_noise(model, control, args, rng):
    """{label: prediction} of the two negative binomial draws (see the module docstring)."""
    layer = control.layers[args.counts_layer]
    counts = np.asarray(layer.toarray() if sparse.issparse(layer) else layer, dtype=np.float64)
    source_nb, target_nb = negative_binomials(model, counts, args.source, args.target)
    low = np.where(counts > 0, source_nb.cdf(counts - 1), 0.0)
    quantile = low + rng.random(counts.shape) * (source_nb.cdf(counts) - low)
    draws = {
        "trvae_nb_likelihood_noise": target_nb.rvs(random_state=rng),
        "trvae_nb_counterfactual_draw": target_nb.ppf(np.clip(quantile, 1e-12, 1 - 1e-12)),
    }
    scale = holdout.library_sizes(control)[:, None] / counts.sum(1, keepdims=True)
    predictions = {}
    for label, drawn in draws.items():
        predictions[label] = control.copy()
        predictions[label].X = np.log1p(drawn * scale).astype(np.float32)
    return predictions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cell-type", default="NK")
    parser.add_argument("--likelihood", default="mse", choices=["mse", "nb"])
    own, rest = parser.parse_known_args(argv)
    cell_type, likelihood = own.cell_type, own.likelihood
    # holdout.py's data, keys and defaults; the rest of the options (--model-kwargs...) as it takes them
    args = holdout.parse_args(["--cell-type", cell_type, *rest])
    adata = sc.read_h5ad(args.data)
    train, control, real = holdout.split(adata, cell_type, args)
    start = time.perf_counter()
    model = holdout.fit(train, args, 0, likelihood)
    seconds = time.perf_counter() - start
    print(f"{cell_type} held out: trained in {seconds:.0f} s")
    kwargs = {"target_condition": args.target, "library_size": holdout.library_sizes(control)}
    label = "trvae" if likelihood == "mse" else f"trvae_{likelihood}"
    predictions = {
        label: model.predict(control, **kwargs),
        f"{label}_no_residual": model.predict(control, add_residual=False, **kwargs),
    }
    rng = np.random.default_rng(0)
    if likelihood == "mse":
        predictions["trvae_likelihood_noise"] = with_noise(predictions["trvae_no_residual"], rng)
        predictions["trvae_residual_plus_noise"] = with_noise(predictions["trvae"], rng)
    else:
        predictions.update(nb_noise(model, control, args, rng))
    for row in holdout.score(predictions, real, control, cell_type, 0, seconds, args):
        figures = " ".join(f"{k}={row[k]:.3f}" for k in holdout.SCORES)
        print(cell_type, row["method"], figures)


if __name__ == "__main__":
    main()
