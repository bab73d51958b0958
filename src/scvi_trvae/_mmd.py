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


_MIN_EXPONENT = -80.0


class _SummedGaussians(torch.autograd.Function):
    """``K = sum_s exp(-c_s * D)`` elementwise, with ``c_s = 1 / (2 s)``.

    Autograd would keep the 19 exponentials (a ``(n, m, 19)`` tensor) and run three more passes
    over them backwards. This accumulates ``K`` and ``dK/dD`` scale by scale in two ``(n, m)``
    buffers, which stay in cache for minibatch-sized ``n, m``, and saves only ``dK/dD``.

    Exponents below -80 are raised to -80 (``exp(-80)`` is 1.8e-35): the small scales would
    otherwise produce float32 denormals, which x86 CPUs process several times slower, for a
    change far below float32 resolution next to the kernel's diagonal of 1s.
    """

    @staticmethod
    def forward(ctx, sq_dist: torch.Tensor) -> torch.Tensor:
        kernel = torch.zeros_like(sq_dist)
        slope = torch.zeros_like(sq_dist)
        term = torch.empty_like(sq_dist)
        for s in KERNEL_SCALES:
            c = 1.0 / (2.0 * s)
            torch.mul(sq_dist, -c, out=term).clamp_min_(_MIN_EXPONENT).exp_()
            kernel += term
            slope.add_(term, alpha=-c)
        ctx.save_for_backward(slope)
        return kernel

    @staticmethod
    def backward(ctx, grad_kernel: torch.Tensor) -> torch.Tensor:
        (slope,) = ctx.saved_tensors
        return grad_kernel * slope


def _squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # Expanded form rather than cdist: its gradient is defined at zero distance.
    return (a.square().sum(1, keepdim=True) + b.square().sum(1) - 2.0 * a @ b.T).clamp_min(0)


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
    return _SummedGaussians.apply(_squared_distances(a, b))


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
    sq_dist = _squared_distances(representation, representation)
    # A cell's distance to itself is 0; the expanded form leaves rounding error there, which the
    # smallest scales (1e-6) would turn into a kernel value well below 1.
    sq_dist.fill_diagonal_(0.0)
    kernel = _SummedGaussians.apply(sq_dist)
    mean_kernel = weights.T @ kernel @ weights
    return n_present * torch.trace(mean_kernel) - mean_kernel.sum()
