"""Stochastic approximation: the Robbins–Monro algorithm, incremental mean estimation and mini-batch SGD.

We want the root w* of g(w) = 0, but we can only observe g through noise,
g~(w, eta) = g(w) + eta. Robbins and Monro (1951) iterate

    w_{k+1} = w_k - a_k g~(w_k, eta_k),        k = 1, 2, ...

and showed that the iterates converge to w* (with probability 1, under the
conditions of Theorem 6.1 in Zhao's book) when the step sizes satisfy

    sum_k a_k = infinity     and     sum_k a_k^2 < infinity.

The first condition lets the steps travel any distance (the start w_1 may be far
from w*); the second makes the steps shrink fast enough for the noise to average
out. Estimating a mean E[X] is the special case g(w) = w - E[X], observed as
w - x_k, which gives the incremental rule w_{k+1} = w_k - a_k (w_k - x_k); with
a_k = 1/k it is exactly the running sample mean. Stochastic gradient descent on
J(w) = E[(w - X)^2 / 2] is the same rule again; a mini-batch replaces x_k by the
mean of m samples, dividing the noise variance by m.

Everything here is vectorised over independent runs: one Python loop over the
iteration index k, each step a whole-array operation over the runs.

References:
    H. Robbins and S. Monro, "A Stochastic Approximation Method",
        Ann. Math. Statist. 22(3):400-407, 1951 (the algorithm and the conditions on a_k).
    S. Zhao, "Mathematical Foundations of Reinforcement Learning", Springer, 2025,
        Chapter 6 "Stochastic Approximation": Sec. 6.1 (mean estimation, the incremental
        rule), Sec. 6.2 (the Robbins-Monro algorithm, Theorem 6.1, the example
        g(w) = tanh(w - 1) from w_1 = 3 with a_k = 1/k), Sec. 6.4 (SGD, mini-batch GD
        for mean estimation, sampling with replacement).
    J. Sacks, "Asymptotic Distribution of Stochastic Approximation Procedures",
        Ann. Math. Statist. 29(2):373-405, 1958 (with a_k = c/k and 2 c g'(w*) > 1,
        sqrt(k) (w_k - w*) -> N(0, c^2 sigma^2 / (2 c g'(w*) - 1))).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

Family = Literal["harmonic", "power", "constant"]
FAMILIES: tuple[Family, ...] = ("harmonic", "power", "constant")

# Iterates whose magnitude exceeds this are declared diverged and set to NaN from then on.
DIVERGENCE_BOUND = 1e8


# ----------------------------------------------------------------------------------------------
# Step sizes
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepSizes:
    """A step-size family a_k, k = 1, 2, ...

    family:
        "harmonic"  a_k = 1/k
        "power"     a_k = c / k^alpha
        "constant"  a_k = c            (the book writes a constant step as alpha; here it is c)
    """

    family: Family
    c: float = 1.0
    alpha: float = 1.0

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown step-size family {self.family!r}; expected one of {FAMILIES}")

    def __call__(self, num_steps: int) -> np.ndarray:
        """The first num_steps step sizes a_1 .. a_K, shape (K,)."""
        k = np.arange(1, num_steps + 1, dtype=float)  # (K,)
        if self.family == "harmonic":
            return 1.0 / k
        if self.family == "power":
            # a_k = c / k^alpha
            return self.c / k**self.alpha
        return np.full(num_steps, float(self.c))


@dataclass(frozen=True)
class Conditions:
    """Whether a step-size family meets the two Robbins–Monro conditions."""

    sum_diverges: bool  # sum_k a_k = infinity
    squares_summable: bool  # sum_k a_k^2 < infinity

    @property
    def both(self) -> bool:
        return self.sum_diverges and self.squares_summable


def step_size_conditions(steps: StepSizes) -> Conditions:
    """Decide analytically whether sum a_k = inf and sum a_k^2 < inf.

    Every family is a power family a_k = c / k^alpha: harmonic is (c, alpha) = (1, 1),
    constant is alpha = 0. The p-series sum_k 1/k^p converges iff p > 1 (integral test:
    int_1^inf x^{-p} dx is finite iff p > 1). Hence, for c != 0,

        sum_k a_k   = |c| sum_k k^{-alpha}   diverges  iff  alpha <= 1,
        sum_k a_k^2 = c^2 sum_k k^{-2 alpha} converges iff  2 alpha > 1, i.e. alpha > 1/2,

    so c / k^alpha meets both iff 1/2 < alpha <= 1, whatever c != 0. For alpha <= 0 the
    terms do not even go to zero, so the sum of squares diverges. A constant step c != 0
    (alpha = 0) meets the first condition and fails the second: the iterates keep
    jumping by a non-vanishing amount and settle into a noise band, not a point.
    With c = 0 every a_k is 0: the squares sum to 0 (finite) but the steps sum to 0,
    so the iterate never moves. The sign of c is not judged here (a negative c
    walks away from the root of an increasing g, but the sums are the same).
    """
    if steps.family == "harmonic":
        c, alpha = 1.0, 1.0
    elif steps.family == "power":
        c, alpha = float(steps.c), float(steps.alpha)
    else:
        c, alpha = float(steps.c), 0.0
    if c == 0.0:
        return Conditions(sum_diverges=False, squares_summable=True)
    return Conditions(sum_diverges=alpha <= 1.0, squares_summable=alpha > 0.5)


def partial_sums(step_sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Running sums S_K = sum_{k<=K} a_k and Q_K = sum_{k<=K} a_k^2, each shape (K,)."""
    a = np.asarray(step_sizes, dtype=float)
    return np.cumsum(a), np.cumsum(a * a)


# ----------------------------------------------------------------------------------------------
# The Robbins–Monro iteration
# ----------------------------------------------------------------------------------------------


def robbins_monro(
    g: Callable[[np.ndarray], np.ndarray],
    w1: float,
    step_sizes: np.ndarray,
    noise_std: float,
    n_runs: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Run n_runs independent Robbins–Monro iterations for the root of g.

    g: vectorised function of w, (n_runs,) -> (n_runs,).
    step_sizes: a_1 .. a_K, shape (K,).
    The noisy observation is g~(w_k, eta_k) = g(w_k) + eta_k with eta_k ~ N(0, noise_std^2),
    independent over k and runs; the whole noise array is drawn first, as
    eta = noise_std * rng.standard_normal((n_runs, K)), so a run is reproducible from the seed.
    Returns every iterate of every run, W of shape (n_runs, K + 1) with W[:, 0] = w1 and
    W[:, k] = w_{k+1}. A run whose |w| exceeds DIVERGENCE_BOUND is NaN from then on.
    """
    a = np.asarray(step_sizes, dtype=float)  # (K,)
    K = a.shape[0]
    eta = noise_std * rng.standard_normal((n_runs, K))  # (R, K)
    eta_t = np.ascontiguousarray(eta.T)  # (K, R): one contiguous row per step
    W_t = np.empty((K + 1, n_runs))  # (K+1, R)
    W_t[0] = w1
    w = W_t[0].copy()  # (R,)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(K):
            # w_{k+1} = w_k - a_k (g(w_k) + eta_k)
            w = w - a[k] * (g(w) + eta_t[k])
            W_t[k + 1] = w
        # a run is diverged from the first iterate with |w| > bound (or inf / NaN) onwards
        escaped = np.logical_or.accumulate(~(np.abs(W_t) <= DIVERGENCE_BOUND), axis=0)  # (K+1, R)
    W_t[escaped] = np.nan
    return W_t.T


# ----------------------------------------------------------------------------------------------
# Mean estimation and mini-batch SGD
# ----------------------------------------------------------------------------------------------


def sample_stream(
    mean: float, noise_std: float, n_runs: int, num_steps: int, rng: np.random.Generator
) -> np.ndarray:
    """i.i.d. samples x_k ~ N(mean, noise_std^2), shape (n_runs, K)."""
    return mean + noise_std * rng.standard_normal((n_runs, num_steps))


def mean_estimation(samples: np.ndarray, step_sizes: np.ndarray, w1: float = 0.0) -> np.ndarray:
    """Incremental mean estimate w_{k+1} = w_k - a_k (w_k - x_k) for each run.

    samples: x_1 .. x_K per run, shape (n_runs, K); step_sizes: shape (K,).
    Returns W of shape (n_runs, K + 1), W[:, 0] = w1. With a_k = 1/k, a_1 = 1 discards w1
    and W[:, k] is the sample mean of x_1 .. x_k (Zhao, Sec. 6.1).
    """
    x_t = np.ascontiguousarray(np.asarray(samples, dtype=float).T)  # (K, R)
    a = np.asarray(step_sizes, dtype=float)  # (K,)
    K, R = x_t.shape
    W_t = np.empty((K + 1, R))  # (K+1, R)
    W_t[0] = w1
    w = W_t[0].copy()  # (R,)
    for k in range(K):
        # w_{k+1} = w_k - a_k (w_k - x_k)
        w = w - a[k] * (w - x_t[k])
        W_t[k + 1] = w
    return W_t.T


def mean_estimation_mse(step_sizes: np.ndarray, w1: float, mean: float, noise_std: float) -> np.ndarray:
    """Exact expected squared error E[(w_k - E[X])^2] of the incremental rule, shape (K + 1,).

    With e_k = w_k - E[X] and x_k = E[X] + xi_k (Var xi_k = sigma^2, independent):
        e_{k+1} = (1 - a_k) e_k + a_k xi_k, so
        bias  b_{k+1} = (1 - a_k) b_k,                         b_1 = w1 - E[X]
        var   v_{k+1} = (1 - a_k)^2 v_k + a_k^2 sigma^2,        v_1 = 0
    and MSE = b^2 + v. For a_k = 1/k this is sigma^2 / k; for a constant a in (0, 2)
    v tends to the fixed point a sigma^2 / (2 - a) (solve v = (1 - a)^2 v + a^2 sigma^2).
    """
    a = np.asarray(step_sizes, dtype=float)
    K = a.shape[0]
    b = np.empty(K + 1)
    v = np.empty(K + 1)
    b[0], v[0] = w1 - mean, 0.0
    for k in range(K):
        b[k + 1] = (1.0 - a[k]) * b[k]
        v[k + 1] = (1.0 - a[k]) ** 2 * v[k] + a[k] ** 2 * noise_std**2
    return b * b + v


def constant_step_variance(a: float, noise_std: float) -> float:
    """Stationary variance a sigma^2 / (2 - a) of w_k under a constant step a in (0, 2)."""
    if not 0.0 < a < 2.0:
        raise ValueError("a constant step has a stationary variance only for 0 < a < 2")
    return a * noise_std**2 / (2.0 - a)


def minibatch_sgd_mean(
    data: np.ndarray,
    batch_size: int,
    step_sizes: np.ndarray,
    w1: float,
    n_runs: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Mini-batch SGD for the mean of a finite data set {x_i}_{i=1}^n.

    Minimises J(w) = (1/n) sum_i (w - x_i)^2 / 2, whose minimiser is the sample mean x_bar.
    Each step draws a batch I_k of batch_size indices uniformly WITH replacement (Zhao,
    Sec. 6.4: so even a batch of size n is not the full batch) and steps along the
    batch gradient:  w_{k+1} = w_k - a_k (w_k - (1/m) sum_{i in I_k} x_i).
    At step k the indices of all runs are drawn together, rng.integers(0, n, size=(n_runs, m)),
    so memory stays O(n_runs * m) however long the run. Returns W of shape (n_runs, K + 1).
    """
    x = np.asarray(data, dtype=float)  # (n,)
    a = np.asarray(step_sizes, dtype=float)  # (K,)
    K = a.shape[0]
    W_t = np.empty((K + 1, n_runs))  # (K+1, R)
    W_t[0] = w1
    w = W_t[0].copy()  # (R,)
    for k in range(K):
        idx = rng.integers(0, x.shape[0], size=(n_runs, batch_size))  # (R, m): the batches I_k
        # w_{k+1} = w_k - a_k (w_k - (1/m) sum_{i in I_k} x_i)
        w = w - a[k] * (w - x[idx].mean(axis=1))
        W_t[k + 1] = w
    return W_t.T


# ----------------------------------------------------------------------------------------------
# Root-finding examples and run statistics
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """A root-finding problem g(w) = 0 with its known root and default start."""

    g: Callable[[np.ndarray], np.ndarray]
    root: float
    w1: float
    slope_at_root: float  # g'(w*), for the asymptotic variance


def tanh_example() -> Example:
    """g(w) = tanh(w - 1), root w* = 1, start w_1 = 3 (Zhao, Sec. 6.2); g'(w*) = 1."""
    return Example(g=lambda w: np.tanh(w - 1.0), root=1.0, w1=3.0, slope_at_root=1.0)


def cube_example() -> Example:
    """g(w) = w^3 - 5, root w* = 5^(1/3), start w_1 = 0; g'(w*) = 3 * 5^(2/3).

    g' is unbounded, so Theorem 6.1's bound on g' fails: large steps far from the root
    can throw the iterate out and it diverges (try a_k = 1/k).
    """
    root = 5.0 ** (1.0 / 3.0)
    return Example(g=lambda w: w**3 - 5.0, root=root, w1=0.0, slope_at_root=3.0 * root**2)


def asymptotic_variance(c: float, slope_at_root: float, noise_std: float) -> float:
    """Sacks (1958): with a_k = c/k and 2 c g'(w*) > 1, k Var(w_k) -> c^2 sigma^2 / (2 c g'(w*) - 1)."""
    lam = c * slope_at_root
    if lam <= 0.5:
        raise ValueError("the 1/sqrt(k) rate needs 2 c g'(w*) > 1")
    return c**2 * noise_std**2 / (2.0 * lam - 1.0)


@dataclass(frozen=True)
class RunSummary:
    """Across-run statistics of W (n_runs, K+1) against a target w*; NaN (diverged) runs excluded."""

    quantiles: np.ndarray  # (len(qs), K+1): the requested quantiles of w_k
    mean: np.ndarray  # (K+1,)
    rmse: np.ndarray  # (K+1,): sqrt(mean_r (w_k - w*)^2)
    n_diverged: int


def summarize_runs(
    W: np.ndarray, target: float, qs: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 0.9)
) -> RunSummary:
    finite = np.all(np.isfinite(W), axis=1)  # (R,)
    n_diverged = int((~finite).sum())
    if not finite.any():
        nan = np.full(W.shape[1], np.nan)
        return RunSummary(np.full((len(qs), W.shape[1]), np.nan), nan, nan, n_diverged)
    Wf = W[finite]
    return RunSummary(
        quantiles=np.quantile(Wf, qs, axis=0),
        mean=Wf.mean(axis=0),
        # RMSE_k = sqrt( (1/R) sum_r (w_k^r - w*)^2 )
        rmse=np.sqrt(np.mean((Wf - target) ** 2, axis=0)),
        n_diverged=n_diverged,
    )


def log_spaced_indices(num_points: int, max_points: int = 200) -> np.ndarray:
    """About max_points distinct indices in [0, num_points), dense at the start, always with 0 and the last."""
    if num_points <= max_points:
        return np.arange(num_points)
    idx = np.unique(np.round(np.geomspace(1, num_points, max_points)).astype(int) - 1)
    return np.union1d([0, num_points - 1], idx)


# ----------------------------------------------------------------------------------------------
# One experiment as the page runs it
# ----------------------------------------------------------------------------------------------

EXAMPLES = ("mean", "tanh", "cube", "sgd")
MEAN_OF_X = 1.0  # E[X] in the mean-estimation examples (X ~ N(1, sigma^2))
SGD_DATA_SIZE = 100  # n, the size of the finite data set for mini-batch SGD


@dataclass(frozen=True)
class Experiment:
    W: np.ndarray  # (n_runs, K+1): every iterate of every run
    target: float  # w*: the root, E[X], or the data set's mean x_bar
    theory_rmse: np.ndarray | None  # (K+1,) predicted RMSE where a formula applies, else None


def run_experiment(
    example: str,
    step_sizes: np.ndarray,
    noise_std: float,
    n_runs: int,
    w1: float,
    rng: np.random.Generator,
    batch_size: int = 1,
) -> Experiment:
    """Run one of EXAMPLES and attach the theory curve that applies to it.

    mean: x_k ~ N(MEAN_OF_X, sigma^2), incremental rule; theory = exact sqrt(MSE) recursion.
    sgd:  a data set of SGD_DATA_SIZE samples from N(MEAN_OF_X, sigma^2) (drawn first from rng),
          mini-batches of batch_size with replacement; the target is the data mean x_bar and the
          batch mean has variance s^2 / m, so the same exact recursion applies with sigma^2 = s^2 / m.
    tanh, cube: Robbins-Monro with additive N(0, sigma^2) noise; theory = Sacks's sqrt(V / k)
          when a_k = c/k with 2 c g'(w*) > 1 (c = 1 for the harmonic family), else None.
    """
    a = np.asarray(step_sizes, dtype=float)
    K = a.shape[0]
    if example == "mean":
        x = sample_stream(MEAN_OF_X, noise_std, n_runs, K, rng)  # (R, K)
        W = mean_estimation(x, a, w1)
        return Experiment(W, MEAN_OF_X, np.sqrt(mean_estimation_mse(a, w1, MEAN_OF_X, noise_std)))
    if example == "sgd":
        data = sample_stream(MEAN_OF_X, noise_std, 1, SGD_DATA_SIZE, rng)[0]  # (n,)
        x_bar = float(data.mean())
        W = minibatch_sgd_mean(data, batch_size, a, w1, n_runs, rng)
        # Var of a with-replacement batch mean: s^2 / m with s^2 = (1/n) sum (x_i - x_bar)^2
        batch_std = float(np.sqrt(data.var() / batch_size))
        return Experiment(W, x_bar, np.sqrt(mean_estimation_mse(a, w1, x_bar, batch_std)))
    if example not in ("tanh", "cube"):
        raise ValueError(f"unknown example {example!r}; expected one of {EXAMPLES}")
    ex = tanh_example() if example == "tanh" else cube_example()
    W = robbins_monro(ex.g, w1, a, noise_std, n_runs, rng)
    theory = None
    k = np.arange(1, K + 1, dtype=float)
    c = a[0]
    # a_k = c / k exactly (harmonic, or power with alpha = 1)?
    if K > 1 and noise_std > 0 and np.allclose(a * k, c, rtol=1e-12) and 2 * c * ex.slope_at_root > 1:
        V = asymptotic_variance(c, ex.slope_at_root, noise_std)
        # RMSE_k ~ sqrt(V / k), k = number of steps taken; undefined at the start
        theory = np.concatenate([[np.nan], np.sqrt(V / k)])
    return Experiment(W, ex.root, theory)
