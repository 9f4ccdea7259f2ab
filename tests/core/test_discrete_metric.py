"""core.smooth_metrics against hand-computed values, literal loops, torch autograd,
exact enumeration (REINFORCE) and a Newton / IRLS logistic-regression optimum."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core import smooth_metrics as S

# ---- soft accuracy ----

def _literal_soft_accuracy(logits: np.ndarray, y: np.ndarray, T: float) -> float:
    total = 0.0
    for row, label in zip(logits, y, strict=True):
        m = max(row)
        e = [math.exp((v - m) / T) for v in row]
        total += e[label] / sum(e)
    return total / len(y)


def test_soft_accuracy_matches_literal_loop():
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(50, 3)) * 3, rng.integers(0, 3, 50)
    for T in (0.1, 1.0, 5.0):
        assert S.soft_accuracy(z, y, T) == pytest.approx(_literal_soft_accuracy(z, y, T), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(ints=arrays(np.int64, st.tuples(st.integers(1, 40), st.just(3)), elements=st.integers(-50, 50)),
       seed=st.integers(0, 10**6))
def test_soft_accuracy_becomes_hard_accuracy_as_temperature_goes_to_zero(ints, seed):
    z = ints * 0.1  # logit gaps are multiples of 0.1
    top2 = np.sort(z, axis=1)[:, -2:]
    z = z[top2[:, 1] - top2[:, 0] > 0.05]  # rows with a unique argmax
    if len(z) == 0:
        return
    y = np.random.default_rng(seed).integers(0, 3, len(z))
    hard = S.hard_accuracy(z, y)
    top2 = np.sort(z, axis=1)[:, -2:]
    g = float(np.min(top2[:, 1] - top2[:, 0]))  # smallest margin, >= 0.1
    for T in (10.0, 1.0, 0.1, 0.01, 1e-3):
        # a right row loses at most sum_{k != y} e^{-(z_y - z_k)/T} <= (K-1) e^{-g/T};
        # a wrong row gains at most e^{-g/T}:  |soft - hard| <= 2 e^{-g/T}
        assert abs(S.soft_accuracy(z, y, T) - hard) <= 2 * math.exp(-g / T) + 1e-15
    assert abs(S.soft_accuracy(z, y, 1e-3) - hard) < 1e-12


def test_soft_accuracy_torch_path_matches_numpy():
    rng = np.random.default_rng(1)
    z, y = rng.normal(size=(20, 2)), rng.integers(0, 2, 20)
    out = S.soft_accuracy(torch.from_numpy(z), torch.from_numpy(y), 0.7)
    assert float(out) == pytest.approx(S.soft_accuracy(z, y, 0.7), abs=1e-12)


# ---- soft F1 ----

def test_soft_f1_hand_value():
    # 2 * (0.9 + 0.6 + 0.4) / (2.2 + 3) = 3.8 / 5.2 = 19/26 = 0.7307692...
    assert S.soft_f1([0.9, 0.2, 0.6, 0.4, 0.1], [1, 0, 1, 1, 0]) == pytest.approx(0.7307692, abs=1e-7)


@settings(max_examples=80, deadline=None)
@given(bits=arrays(np.int64, st.tuples(st.integers(1, 30), st.just(2)), elements=st.integers(0, 1)))
def test_soft_f1_on_hard_predictions_is_f1(bits):
    pred, y = bits[:, 0], bits[:, 1]
    tp = sum(1 for p, t in zip(pred, y, strict=True) if p and t)
    fp = sum(1 for p, t in zip(pred, y, strict=True) if p and not t)
    fn = sum(1 for p, t in zip(pred, y, strict=True) if t and not p)
    if tp + fp + fn == 0:
        return
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    assert S.soft_f1(pred.astype(float), y) == pytest.approx(f1, abs=1e-12)
    logits = np.stack([np.zeros(len(pred)), np.where(pred == 1, 1.0, -1.0)], axis=1)
    assert S.hard_f1(logits, y) == pytest.approx(f1, abs=1e-12)


# ---- analytic gradients of the smooth objectives vs torch autograd ----

@pytest.mark.parametrize("objective", ["cross_entropy", "soft_accuracy", "soft_f1"])
@pytest.mark.parametrize("T", [0.2, 1.0, 3.0])
def test_objective_gradient_matches_autograd(objective, T):
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(30, 2)), rng.integers(0, 2, 30)
    theta = rng.normal(size=(3, 2))
    Phi = np.hstack([X, np.ones((30, 1))])
    loss, grad = S.objective_and_grad(objective, theta, Phi, y, T)

    th = torch.tensor(theta, requires_grad=True)
    z = torch.from_numpy(Phi) @ th
    if objective == "cross_entropy":
        L = torch.nn.functional.cross_entropy(z, torch.from_numpy(y))
    elif objective == "soft_accuracy":
        L = 1 - torch.softmax(z / T, 1)[torch.arange(30), torch.from_numpy(y)].mean()
    else:
        p1 = torch.softmax(z / T, 1)[:, 1]
        yt = torch.from_numpy(y).double()
        L = 1 - 2 * (p1 * yt).sum() / (p1 + yt).sum()
    L.backward()
    assert loss == pytest.approx(L.item(), abs=1e-12)
    np.testing.assert_allclose(grad, th.grad.numpy(), rtol=1e-9, atol=1e-12)


# ---- REINFORCE ----

def _exact_expected_gradient(theta, X, y, T, baseline):
    """E over every joint action a in {0,1}^N of (1/N) sum_n (r_n - b) grad log pi(a_n|x_n), by enumeration."""
    Phi = np.hstack([X, np.ones((len(X), 1))])
    pi = S.softmax(Phi @ theta, T)
    N = len(X)
    G = np.zeros_like(theta)
    for a in itertools.product(range(2), repeat=N):
        a = np.array(a)
        prob = np.prod(pi[np.arange(N), a])
        r = (a == y).astype(float)
        g_z = (r - baseline)[:, None] * (np.eye(2)[a] - pi) / T
        G += prob * Phi.T @ g_z / N
    return G


def test_reinforce_estimate_matches_exact_expected_gradient():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(4, 2)), np.array([0, 1, 1, 0])
    theta, T, b = rng.normal(size=(3, 2)), 0.8, 0.4
    exact = _exact_expected_gradient(theta, X, y, T, b)

    # the same quantity two more ways: the baseline term has zero mean, and
    # d/dtheta E[accuracy] = d/dtheta soft_accuracy (autograd)
    np.testing.assert_allclose(exact, _exact_expected_gradient(theta, X, y, T, 0.0), atol=1e-12)
    th = torch.tensor(theta, requires_grad=True)
    Phi = torch.from_numpy(np.hstack([X, np.ones((4, 1))]))
    S.soft_accuracy(Phi @ th, torch.from_numpy(y), T).backward()
    np.testing.assert_allclose(exact, th.grad.numpy(), atol=1e-12)

    n = 40_000
    g, _ = S.reinforce_gradient(theta, X, y, T, b, n, np.random.default_rng(4))
    mean = g.mean(axis=0)
    stderr = g.std(axis=0, ddof=1) / math.sqrt(n)
    # Monte-Carlo error: every component within 4.5 standard errors (seeded, so not flaky)
    assert np.all(np.abs(mean - exact) <= 4.5 * stderr + 1e-12), (mean, exact, stderr)


def test_reinforce_baseline_lowers_variance_not_mean():
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(8, 2)), rng.integers(0, 2, 8)
    theta = rng.normal(size=(3, 2))
    r_mean = S.soft_accuracy(np.hstack([X, np.ones((8, 1))]) @ theta, y, 1.0)
    g0, _ = S.reinforce_gradient(theta, X, y, 1.0, 0.0, 20_000, np.random.default_rng(6))
    gb, _ = S.reinforce_gradient(theta, X, y, 1.0, r_mean, 20_000, np.random.default_rng(6))
    assert gb.var(axis=0).sum() < g0.var(axis=0).sum()


# ---- training ----

DEFAULTS = dict(temperature=0.5, steps=300, lr=0.05, seed=0)


@pytest.fixture(scope="module")
def data():
    return S.make_dataset()


@pytest.mark.parametrize(
    "objective, metric, better",
    [
        ("cross_entropy", "test_ce", -1),  # its own metric is cross-entropy itself
        ("soft_accuracy", "test_acc", +1),
        ("soft_f1", "test_f1", +1),
        ("reinforce", "test_acc", +1),  # reward = per-example correctness
    ],
)
def test_each_objective_improves_its_own_metric(data, objective, metric, better):
    r = S.train_classifier(data.X_train, data.y_train, objective, X_test=data.X_test, y_test=data.y_test, **DEFAULTS)
    hist = getattr(r, metric)
    assert better * (hist[-1] - hist[0]) > 0.1, (hist[0], hist[-1])
    assert r.loss[-1] < r.loss[0]
    assert r.theta.shape == (DEFAULTS["steps"] + 1, 3, 2)
    assert r.loss.shape == r.test_acc.shape == r.test_f1.shape == (DEFAULTS["steps"] + 1,)


def _irls_optimum(X, y, iters=30):
    """Newton's method for binary logistic regression (Bishop sec. 4.3.3): the CE minimum."""
    Phi = np.hstack([X, np.ones((len(X), 1))])
    w = np.zeros(3)
    for _ in range(iters):
        p = 1 / (1 + np.exp(-Phi @ w))
        H = Phi.T @ (Phi * (p * (1 - p))[:, None])
        w -= np.linalg.solve(H, Phi.T @ (p - y))
    p = 1 / (1 + np.exp(-Phi @ w))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def test_cross_entropy_training_reaches_the_logistic_regression_optimum(data):
    r = S.train_classifier(data.X_train, data.y_train, "cross_entropy", 1.0, 1000, 0.1, 0,
                           X_test=data.X_test, y_test=data.y_test)
    assert r.train_ce[-1] == pytest.approx(_irls_optimum(data.X_train, data.y_train), abs=1e-4)


def test_boundary_separates_the_predictions(data):
    r = S.train_classifier(data.X_train, data.y_train, "soft_f1", 0.5, 100, 0.05, 1,
                           X_test=data.X_test, y_test=data.y_test)
    side = np.hstack([data.X_test, np.ones((len(data.X_test), 1))]) @ r.boundary > 0
    pred = (np.hstack([data.X_test, np.ones((len(data.X_test), 1))]) @ r.theta[-1]).argmax(1) == 1
    np.testing.assert_array_equal(side, pred)
    assert np.mean(side == data.y_test) == pytest.approx(r.test_acc[-1])


def test_soft_f1_beats_cross_entropy_on_f1_when_positives_are_rare():
    """Imbalanced data: the F1-optimal threshold sits below p = 1/2, where CE puts it."""
    wins = 0
    for seed in range(3):
        d = S.make_dataset(positive_fraction=0.1, seed=seed)
        f1 = {
            obj: S.train_classifier(d.X_train, d.y_train, obj, 0.5, 300, 0.1, 0,
                                    X_test=d.X_test, y_test=d.y_test).test_f1[-1]
            for obj in ("cross_entropy", "soft_f1")
        }
        wins += f1["soft_f1"] > f1["cross_entropy"]
    assert wins >= 2


def test_cross_entropy_falls_while_accuracy_falls_on_outliers():
    """A far cluster of hopeless negatives: CE keeps paying for them, accuracy pays the bill."""
    d = S.make_dataset("outliers", positive_fraction=0.5)
    ce = S.train_classifier(d.X_train, d.y_train, "cross_entropy", 1.0, 300, 0.05, 0,
                            X_test=d.X_test, y_test=d.y_test)
    peak = int(np.argmax(ce.train_acc))
    assert np.all(np.diff(ce.train_ce[peak:]) <= 1e-9)  # CE falls all the way after the peak ...
    assert ce.train_ce[-1] < 0.85 * ce.train_ce[peak]
    assert ce.train_acc[-1] < ce.train_acc[peak] - 0.02  # ... while accuracy drops
    # the smooth accuracy gives up on hopeless points (its gradient vanishes there)
    sa = S.train_classifier(d.X_train, d.y_train, "soft_accuracy", 0.5, 300, 0.05, 0,
                            X_test=d.X_test, y_test=d.y_test)
    assert sa.test_acc[-1] > ce.test_acc[-1] + 0.03


def test_make_dataset_and_bad_arguments():
    d = S.make_dataset(n=300, n_test=500, positive_fraction=0.2, seed=7)
    assert d.X_train.shape == (300, 2) and d.X_test.shape == (500, 2)
    assert abs(d.y_test.mean() - 0.2) < 0.06
    with pytest.raises(ValueError):
        S.make_dataset(positive_fraction=0.0)
    with pytest.raises(ValueError):
        S.train_classifier(d.X_train, d.y_train, "hinge", 1.0, 10, 0.1, 0)
    with pytest.raises(ValueError):
        S.soft_accuracy(np.zeros((2, 2)), [0, 1], 0.0)
