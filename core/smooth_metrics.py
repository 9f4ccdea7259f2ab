"""Training for a discrete metric: smooth stand-ins for accuracy and F1, and REINFORCE.

Accuracy and F1 are built from argmax and thresholds, so they are piecewise
constant in the weights: their gradient is zero almost everywhere and
gradient descent cannot use them. Cross-entropy is the usual proxy, but a
falling cross-entropy does not promise a rising accuracy. Two ways out:

1. Smooth the discrete pieces: replace argmax by a softmax with temperature
   T (and the threshold step by a sigmoid). Accuracy becomes the mean
   probability of the true class, F1 becomes 2 sum(p y) / sum(p + y). As
   T -> 0 the smooth metric becomes the hard one again.
2. Treat the metric as a reward: sample a prediction from the model's
   softmax, reward 1 if it is right, and follow the score-function
   (REINFORCE) gradient E[(r - b) grad log pi(a|x)], which is an unbiased
   estimate of the gradient of the expected accuracy.

The model is a linear softmax classifier on 2-D points, logits z = [x, 1] theta
with theta of shape (3, K), so its decision boundary is a straight line.

References:
    R. J. Williams, "Simple statistical gradient-following algorithms for
        connectionist reinforcement learning", Machine Learning 8, 1992,
        eq. 11 (REINFORCE with a baseline b that does not depend on the action).
    R. S. Sutton, A. G. Barto, "Reinforcement Learning: An Introduction",
        2nd ed., 2018, sec. 13.3-13.4 (REINFORCE, baselines).
    C. Manning, P. Raghavan, H. Schuetze, "Introduction to Information
        Retrieval", 2008, sec. 8.3 (F1 = 2PR / (P + R) = 2TP / (2TP + FP + FN)).
    M. Jansche, "Maximum expected F-measure training of logistic regression
        models", HLT/EMNLP 2005 (a smooth F-measure from probabilities).
    C. Bishop, "Pattern Recognition and Machine Learning", 2006, sec. 4.3.4
        (softmax regression and its cross-entropy gradient).
    D. Kingma, J. Ba, "Adam: a method for stochastic optimization", ICLR 2015
        (the optimiser used for every objective).
    I. Goodfellow, Y. Bengio, A. Courville, "Deep Learning", 2016, sec. 8.1.1
        (surrogate losses: we minimise cross-entropy because 0-1 loss has no
        useful gradient).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Array = np.ndarray
OBJECTIVES: tuple[str, ...] = ("cross_entropy", "soft_accuracy", "soft_f1", "reinforce")
DATASETS: tuple[str, ...] = ("blobs", "outliers")
K = 2  # classes: 0 = negative, 1 = positive (the class F1 is about)


# ---- metrics: hard and smooth; numpy in -> numpy out, torch in -> torch out (differentiable) ----

def _is_torch(a) -> bool:
    # duck-typed so this module never has to import torch
    return type(a).__module__.startswith("torch")


def softmax(logits: Array, temperature: float = 1.0) -> Array:
    # softmax(z / T)_k = exp(z_k / T) / sum_j exp(z_j / T), shifted by the max for stability
    s = np.asarray(logits, dtype=float) / temperature
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def soft_accuracy(logits, y, temperature: float):
    """Mean softmax(logits / T) probability of the true class.   logits (N, K), y (N,) ints.

    Equal to the expected accuracy of a classifier that samples its answer
    from softmax(z / T); approaches the argmax accuracy as T -> 0.
    """
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    if _is_torch(logits):  # differentiable path: same formula on a torch tensor
        p = (logits / temperature).softmax(dim=-1)  # (N, K)
        return p[range(len(y)), y].mean()
    p = softmax(logits, temperature)  # (N, K)
    y = np.asarray(y, dtype=int)
    # (1/N) sum_n p_n[y_n]
    return float(p[np.arange(len(y)), y].mean())


def soft_f1(probs, y):
    """Soft F1 of the positive class: 2 sum(p y) / sum(p + y).   probs, y: (N,).

    With hard p in {0, 1} this is exactly 2 TP / (2 TP + FP + FN).
    """
    if _is_torch(probs):  # differentiable path
        yt = probs.new_tensor(np.asarray(y, dtype=float))
        return 2 * (probs * yt).sum() / (probs + yt).sum().clamp_min(1e-12)
    p = np.asarray(probs, dtype=float)
    yf = np.asarray(y, dtype=float)
    # F1_soft = 2 sum_n p_n y_n / sum_n (p_n + y_n)
    return float(2 * (p * yf).sum() / max((p + yf).sum(), 1e-12))


def hard_accuracy(logits: Array, y: Array) -> float:
    return float((np.argmax(logits, axis=-1) == np.asarray(y)).mean())


def hard_f1(logits: Array, y: Array) -> float:
    # F1 = 2 TP / (2 TP + FP + FN) with the argmax prediction; 0 when there is nothing to find
    pred = np.argmax(logits, axis=-1) == 1
    pos = np.asarray(y) == 1
    tp = np.sum(pred & pos)
    denom = pred.sum() + pos.sum()
    return float(2 * tp / denom) if denom > 0 else 0.0


def cross_entropy(logits: Array, y: Array) -> float:
    # CE = -(1/N) sum_n log softmax(z_n)[y_n]
    z = np.asarray(logits, dtype=float)
    logp = z - z.max(axis=-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(axis=-1, keepdims=True))
    return float(-logp[np.arange(len(y)), np.asarray(y, dtype=int)].mean())


# ---- the smooth step and argmax, for the first panel of the page ----

def smooth_step(x: Array, temperature: float) -> Array:
    # 1[x >= 0]  ~  sigma(x / T)
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float) / temperature))


# ---- data ----

@dataclass(frozen=True)
class Dataset:
    X_train: Array  # (N, 2)
    y_train: Array  # (N,) in {0, 1}
    X_test: Array  # (M, 2)
    y_test: Array  # (M,)


def make_dataset(
    kind: str = "blobs",
    n: int = 400,
    positive_fraction: float = 0.3,
    seed: int = 0,
    *,
    n_test: int = 2000,
    noise: float = 1.0,
    outlier_fraction: float = 0.1,
) -> Dataset:
    """Two Gaussian classes in 2-D: `n` training points and `n_test` held-out ones.

    blobs:    negatives ~ N((-1, 0), noise^2 I), positives ~ N((1, 0.5), noise^2 I);
              `positive_fraction` sets the class imbalance.
    outliers: well separated blobs plus a far cluster of negatives deep on the
              positive side: cross-entropy is dominated by them and tilts the line.
    The held-out set is large so that its F1 is not at the mercy of a few points.
    """
    if kind not in DATASETS:
        raise ValueError(f"unknown dataset {kind!r}")
    if not 0.0 < positive_fraction < 1.0:
        raise ValueError("positive_fraction must be in (0, 1)")
    rng = np.random.default_rng(seed)
    N = n + n_test
    y = (rng.random(N) < positive_fraction).astype(int)
    if kind == "blobs":
        centres = np.array([[-1.0, 0.0], [1.0, 0.5]])
        X = centres[y] + noise * rng.normal(size=(N, 2))
    else:
        centres = np.array([[-1.5, 0.0], [1.5, 0.0]])
        X = centres[y] + 0.5 * noise * rng.normal(size=(N, 2))
        far = (y == 0) & (rng.random(N) < outlier_fraction)
        X[far] = np.array([7.0, -3.0]) + 0.3 * rng.normal(size=(far.sum(), 2))
    return Dataset(X[:n], y[:n], X[n:], y[n:])


# ---- model and REINFORCE ----

def _design(X: Array) -> Array:
    return np.hstack([X, np.ones((len(X), 1))])  # (N, 3): [x1, x2, 1]


def reinforce_gradient(
    theta: Array,
    X: Array,
    y: Array,
    temperature: float,
    baseline: float,
    num_samples: int,
    rng: np.random.Generator,
) -> tuple[Array, Array]:
    """`num_samples` independent REINFORCE estimates of grad_theta E[accuracy].

    For each sample s, every example n draws a_n ~ pi(.|x_n) = softmax(z_n / T),
    gets r_n = 1[a_n = y_n], and the estimate is (Williams 1992, eq. 11)
        g_s = (1/N) sum_n (r_n - b) grad_theta log pi(a_n | x_n),
        grad_z log pi(a | x) = (onehot(a) - pi) / T,   z = [x, 1] theta.
    Returns (g of shape (S, 3, K), mean reward of each sample (S,)).
    """
    Phi = _design(X)  # (N, 3)
    pi = softmax(Phi @ theta, temperature)  # (N, K)
    N = len(X)
    # inverse-CDF sampling of a_n for all samples at once: (S, N)
    u = rng.random((num_samples, N, 1))
    a = (u > np.cumsum(pi, axis=-1)[None]).sum(axis=-1).clip(max=pi.shape[1] - 1)
    r = (a == np.asarray(y)[None]).astype(float)  # (S, N)
    onehot = np.eye(pi.shape[1])[a]  # (S, N, K)
    # d/dz log pi(a|x) = (onehot(a) - pi) / T, weighted by the advantage (r - b)
    g_z = (r - baseline)[..., None] * (onehot - pi[None]) / temperature  # (S, N, K)
    # chain rule through z = Phi theta:  g_theta = Phi^T g_z / N
    g_theta = np.einsum("nd,snk->sdk", Phi, g_z) / N  # (S, 3, K)
    return g_theta, r.mean(axis=1)


@dataclass(frozen=True)
class TrainResult:
    """Whole history of one run; index t = after t updates (t = 0 is the initial model).

    loss:        the objective being minimised, on the training set (exact expected
                 error 1 - E[r] for reinforce).                     (steps + 1,)
    train_ce, train_acc:  cross-entropy and accuracy on the training set.   (steps + 1,)
    test_acc, test_f1, test_ce:  the same on held-out data.             (steps + 1,)
    theta:       weights after every step.                          (steps + 1, 3, K)
    boundary:    final decision line w1 x1 + w2 x2 + c = 0 as (w1, w2, c).   (3,)
    """

    loss: Array
    train_ce: Array
    train_acc: Array
    test_acc: Array
    test_f1: Array
    test_ce: Array
    theta: Array
    boundary: Array


def objective_and_grad(objective: str, theta: Array, Phi: Array, y: Array, temperature: float) -> tuple[float, Array]:
    """Loss to minimise and its analytic gradient d loss / d theta for the smooth objectives.

    Phi: (N, 3) design matrix [x1, x2, 1], theta: (3, K), z = Phi theta, p = softmax(z / T).
    """
    N = len(y)
    onehot = np.eye(theta.shape[1])[y]  # (N, K)
    z = Phi @ theta  # (N, K)
    if objective == "cross_entropy":
        p = softmax(z)
        loss = cross_entropy(z, y)
        # dCE/dz = (p - onehot(y)) / N   (Bishop eq. 4.109)
        g_z = (p - onehot) / N
    elif objective == "soft_accuracy":
        p = softmax(z, temperature)
        p_y = p[np.arange(N), y]  # (N,)
        loss = 1.0 - p_y.mean()
        # d p_y / d z = p_y (onehot(y) - p) / T, so dL/dz = -(1/N) p_y (onehot(y) - p) / T
        g_z = -(p_y[:, None] * (onehot - p)) / (temperature * N)
    elif objective == "soft_f1":
        p = softmax(z, temperature)
        p1 = p[:, 1]  # (N,) soft "predicted positive"
        yf = y.astype(float)
        S, D = np.sum(p1 * yf), np.sum(p1 + yf)
        F1 = 2 * S / D
        loss = 1.0 - F1
        # F1 = 2S/D  ->  dF1/dp1_n = (2 y_n - F1) / D
        dF_dp1 = (2 * yf - F1) / D  # (N,)
        # d p1 / d z = p1 (e_1 - p) / T
        g_z = -(dF_dp1 * p1)[:, None] * (np.eye(theta.shape[1])[1] - p) / temperature
    else:
        raise ValueError(objective)
    # chain rule through z = Phi theta
    return float(loss), Phi.T @ g_z  # (3, K)


def train_classifier(
    X: Array,
    y: Array,
    objective: str,
    temperature: float,
    steps: int,
    lr: float,
    seed: int,
    *,
    X_test: Array | None = None,
    y_test: Array | None = None,
    init_scale: float = 0.01,
    baseline_decay: float = 0.9,
) -> TrainResult:
    """Full-batch Adam on one objective; metrics on held-out data at every step.

    objective: cross_entropy (T not used), soft_accuracy, soft_f1, or reinforce
    (one sampled prediction per example per step, reward = correctness, baseline =
    running mean of past rewards). Held-out data: X_test / y_test, or the last
    30 % of (X, y) when not given.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; expected one of {OBJECTIVES}")
    if temperature <= 0 or steps < 0 or lr <= 0:
        raise ValueError("temperature and lr must be positive, steps non-negative")
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=int)
    if X_test is None or y_test is None:
        cut = int(round(0.7 * len(X)))
        X, X_test, y, y_test = X[:cut], X[cut:], y[:cut], y[cut:]
    X_test = np.asarray(X_test, dtype=float)
    y_test = np.asarray(y_test, dtype=int)

    rng = np.random.default_rng(seed)
    theta = init_scale * rng.normal(size=(3, K))  # (3, K)
    Phi = _design(X)  # (N, 3)
    # Adam state (Kingma & Ba, Algorithm 1)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    baseline = None

    thetas = np.empty((steps + 1, 3, K))
    loss = np.empty(steps + 1)
    for t in range(steps + 1):
        thetas[t] = theta
        if objective == "reinforce":
            # the value we report: expected error 1 - E_pi[r] = 1 - soft accuracy at T
            loss[t] = 1.0 - soft_accuracy(Phi @ theta, y, temperature)
        else:
            loss[t], grad = objective_and_grad(objective, theta, Phi, y, temperature)
        if t == steps:
            break
        if objective == "reinforce":
            b = 0.5 if baseline is None else baseline
            g, mean_r = reinforce_gradient(theta, X, y, temperature, b, 1, rng)
            grad = -g[0]  # ascend E[r] = descend -E[r]
            # b <- decay b + (1 - decay) r_bar: past rewards only, so the estimate stays unbiased
            r_bar = float(mean_r[0])
            baseline = r_bar if baseline is None else baseline_decay * baseline + (1 - baseline_decay) * r_bar
        # Adam: m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;  theta <- theta - lr m_hat / (sqrt(v_hat) + eps)
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        m_hat = m / (1 - beta1 ** (t + 1))
        v_hat = v / (1 - beta2 ** (t + 1))
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)

    # metrics for every iterate at once. With K = 2 only the logit difference
    # s = z_1 - z_0 matters: class 1 wins where s > 0, and
    # CE = -log sigma(+-s) = log(1 + e^{-(2y-1) s})
    w_hist = (thetas[:, :, 1] - thetas[:, :, 0]).T  # (3, T+1)
    S_train = _design(X) @ w_hist  # (N, T+1)
    S_test = _design(X_test) @ w_hist  # (M, T+1)
    sign_train = (2 * y - 1)[:, None]
    sign_test = (2 * y_test - 1)[:, None]
    train_ce = np.logaddexp(0.0, -sign_train * S_train).mean(axis=0)
    train_acc = ((S_train > 0) == (y == 1)[:, None]).mean(axis=0)
    test_ce = np.logaddexp(0.0, -sign_test * S_test).mean(axis=0)
    pred = S_test > 0  # (M, T+1)
    pos = (y_test == 1)[:, None]
    test_acc = (pred == pos).mean(axis=0)
    # F1 = 2 TP / (|predicted positive| + |positive|), per iterate
    denom = pred.sum(axis=0) + pos.sum()
    test_f1 = np.where(denom > 0, 2 * (pred & pos).sum(axis=0) / np.maximum(denom, 1), 0.0)
    # class 1 wins where z_1 - z_0 > 0:  (theta[:, 1] - theta[:, 0]) . [x1, x2, 1] = 0
    boundary = thetas[-1][:, 1] - thetas[-1][:, 0]
    return TrainResult(loss, train_ce, train_acc, test_acc, test_f1, test_ce, thetas, boundary)
