"""Maximum mean discrepancy between the conditions of a minibatch.

Convention (state it wherever an MMD weight is quoted):

* Kernel: multi-scale Gaussian, ``k(a, b) = sum_s exp(-||a - b||^2 / (2 s))`` summed (not
  averaged) over the 19 scales ``s`` in :data:`KERNEL_SCALES`, as in the scArches TRVAE, so an
  MMD weight here means the same as its ``beta``. The Keras original averages (divides by 19).
* Estimator: biased (V-statistic; the kernel diagonal is included), as in the original and
  scArches.
* Conditions: every unordered pair of conditions present in the minibatch, all computed from a
  single kernel matrix over the minibatch.
"""

from __future__ import annotations

import torch

KERNEL_SCALES = (
    1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 5.0, 10.0, 15.0,
    20.0, 25.0, 30.0, 35.0, 100.0, 1e3, 1e4, 1e5, 1e6,
)  # fmt: skip


def multiscale_gaussian_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Kernel matrix ``K[i, j] = sum_s exp(-||a_i - b_j||^2 / (2 s))``.

    Parameters
    ----------
    a
        Representations, shape ``(n, d)``.
    b
        Representations, shape ``(m, d)``.

    Returns
    -------
    Kernel matrix of shape ``(n, m)``.

    """
    # Expanded form rather than cdist: its gradient is defined at zero distance (the diagonal).
    sq_dist = (a.square().sum(1, keepdim=True) + b.square().sum(1) - 2.0 * a @ b.T).clamp_min(0)
    inv_two_s = 1.0 / (2.0 * torch.tensor(KERNEL_SCALES, dtype=a.dtype, device=a.device))
    return torch.exp(-sq_dist.unsqueeze(-1) * inv_two_s).sum(-1)


def mmd_all_pairs(representation: torch.Tensor, condition: torch.Tensor, n_conditions: int):
    """Sum over all pairs of conditions present of the squared MMD between their representations.

    With ``G`` the one-hot condition matrix normalised per column (each column sums to one) and
    ``K`` the kernel matrix of the minibatch, ``M = G^T K G`` holds the mean kernel value between
    every two conditions, and ``MMD^2(i, j) = M_ii + M_jj - 2 M_ij``. Summed over ``i < j``
    for ``P`` present conditions this is ``P * trace(M) - sum(M)``.

    Parameters
    ----------
    representation
        Shape ``(n_cells, d)``: the first-decoder-layer activations ``y`` (or ``z``).
    condition
        Integer condition codes, shape ``(n_cells,)`` or ``(n_cells, 1)``.
    n_conditions
        Number of conditions the model knows.

    Returns
    -------
    A 0-d tensor; zero when fewer than two conditions are present.

    """
    one_hot = torch.nn.functional.one_hot(condition.reshape(-1).long(), n_conditions)
    one_hot = one_hot.to(representation.dtype)
    counts = one_hot.sum(0)
    # Absent conditions get an all-zero column, hence a zero row and column in M, and drop out
    # of both terms; no data-dependent branch, so no device synchronisation in the step.
    weights = one_hot / counts.clamp_min(1.0)
    n_present = (counts > 0).sum()
    kernel = multiscale_gaussian_kernel(representation, representation)
    mean_kernel = weights.T @ kernel @ weights
    return n_present * torch.trace(mean_kernel) - mean_kernel.sum()
