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

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/core/conftest.py

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


# ---- issue 21: tests that pin what mutation testing found unchecked ----

def test_softmax_default_temperature_is_one_literal():
    z = np.array([[0.3, -1.2, 2.0], [5.0, 5.0, -3.0]])
    for row, got in zip(z, S.softmax(z), strict=True):
        e = [math.exp(v) for v in row]
        np.testing.assert_allclose(got, [v / sum(e) for v in e], rtol=1e-14)
    # large logits: the max shift keeps it finite (exp(800) overflows without it)
    np.testing.assert_allclose(S.softmax(np.array([800.0, 800.0 + math.log(3.0)])), [0.25, 0.75], rtol=1e-12)


def test_smooth_step_is_the_logistic_sigmoid():
    """0.5 (1 + tanh(x / 2T)) = 1 / (1 + e^{-x/T}) (an identity of tanh), written out by hand."""
    for x in (-3.0, -0.4, 0.0, 0.25, 2.0):
        for T in (0.1, 0.5, 1.0, 4.0):
            assert S.smooth_step(np.array([x]), T)[0] == pytest.approx(1 / (1 + math.exp(-x / T)), abs=1e-14)
    assert S.smooth_step(np.array([1.0]), 1.0)[0] == pytest.approx(0.7310585786300049, abs=1e-15)


def test_soft_f1_torch_path_hand_value_and_empty_case():
    p = torch.tensor([0.9, 0.2, 0.6, 0.4, 0.1], dtype=torch.float64, requires_grad=True)
    f = S.soft_f1(p, [1, 0, 1, 1, 0])
    assert f.item() == pytest.approx(19 / 26, abs=1e-12)  # 2 * 1.9 / 5.2, as in the numpy hand value
    f.backward()
    # dF/dp_n = (2 y_n - F) / D with D = sum(p + y) = 5.2 (quotient rule by hand)
    y = np.array([1, 0, 1, 1, 0])
    np.testing.assert_allclose(p.grad.numpy(), (2 * y - 19 / 26) / 5.2, rtol=1e-12)
    # nothing predicted and nothing to find: 0, not 0/0
    assert float(S.soft_f1(torch.zeros(3, dtype=torch.float64), [0, 0, 0])) == 0.0
    assert S.soft_f1([0.0, 0.0], [0, 0]) == 0.0


def test_hard_f1_is_zero_when_nothing_is_predicted_or_present():
    logits = np.array([[1.0, 0.0], [2.0, -1.0]])  # both predicted negative
    assert S.hard_f1(logits, [0, 0]) == 0.0
    assert S.hard_f1(logits, [1, 0]) == 0.0  # a missed positive: TP = 0
    assert S.hard_f1(np.array([[0.0, 1.0], [2.0, -1.0]]), [1, 0]) == 1.0  # 2*1 / (1 + 1)


def test_cross_entropy_hand_value():
    # -(log(e^2/(e^2+e^0)) + log(e^0/(e^0+e^1))) / 2, and a large logit that would overflow exp
    z = np.array([[2.0, 0.0], [0.0, 1.0]])
    want = -(math.log(math.exp(2) / (math.exp(2) + 1)) + math.log(1 / (1 + math.e))) / 2
    assert S.cross_entropy(z, [0, 0]) == pytest.approx(want, abs=1e-14)
    assert S.cross_entropy(np.array([[1000.0, 1000.0]]), [1]) == pytest.approx(math.log(2), abs=1e-12)
    # rows on very different scales: each row is shifted by its own max (a global shift underflows row 2)
    want = (math.log(2) + math.log(1 + math.exp(-1))) / 2
    assert S.cross_entropy(np.array([[1000.0, 1000.0], [0.0, 1.0]]), [1, 1]) == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: S.soft_accuracy(np.zeros((2, 2)), [0, 1], -1.0), "^temperature must be positive$"),
        (lambda: S.make_dataset("moons"), "^unknown dataset 'moons'$"),
        (lambda: S.make_dataset(positive_fraction=1.0), r"^positive_fraction must be in \(0, 1\)$"),
        (lambda: S.make_dataset(positive_fraction=0.0), r"^positive_fraction must be in \(0, 1\)$"),
        (lambda: S.objective_and_grad("hinge", np.zeros((3, 2)), np.ones((2, 3)), np.array([0, 1]), 1.0), "^hinge$"),
        (lambda: S.train_classifier(np.zeros((4, 2)), [0, 1, 0, 1], "hinge", 1.0, 1, 0.1, 0),
         r"^unknown objective 'hinge'; expected one of \('cross_entropy', 'soft_accuracy', 'soft_f1', 'reinforce'\)$"),
        (lambda: S.train_classifier(np.zeros((4, 2)), [0, 1, 0, 1], "soft_f1", 0.0, 1, 0.1, 0),
         "^temperature and lr must be positive, steps non-negative$"),
        (lambda: S.train_classifier(np.zeros((4, 2)), [0, 1, 0, 1], "soft_f1", 1.0, -1, 0.1, 0),
         "^temperature and lr must be positive, steps non-negative$"),
        (lambda: S.train_classifier(np.zeros((4, 2)), [0, 1, 0, 1], "soft_f1", 1.0, 1, 0.0, 0),
         "^temperature and lr must be positive, steps non-negative$"),
    ],
)
def test_bad_arguments_messages(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_make_dataset_edges_of_positive_fraction_are_accepted():
    for f in (1e-9, 1 - 1e-9):
        d = S.make_dataset(n=20, n_test=20, positive_fraction=f)
        assert d.y_train.tolist() + d.y_test.tolist() == [int(f > 0.5)] * 40


def _literal_dataset(kind, n, positive_fraction, seed, n_test, noise, outlier_fraction):
    """The docstring's recipe, drawn in the same order: labels, then Gaussian noise, then the far cluster."""
    rng = np.random.default_rng(seed)
    N = n + n_test
    u = rng.random(N)
    y = [1 if u[i] < positive_fraction else 0 for i in range(N)]
    z = rng.normal(size=(N, 2))
    if kind == "blobs":
        mean = {0: (-1.0, 0.0), 1: (1.0, 0.5)}
        X = [[mean[y[i]][0] + noise * z[i, 0], mean[y[i]][1] + noise * z[i, 1]] for i in range(N)]
    else:
        mean = {0: (-1.5, 0.0), 1: (1.5, 0.0)}
        X = [[mean[y[i]][0] + 0.5 * noise * z[i, 0], mean[y[i]][1] + 0.5 * noise * z[i, 1]] for i in range(N)]
        v = rng.random(N)
        far = [i for i in range(N) if y[i] == 0 and v[i] < outlier_fraction]
        w = rng.normal(size=(len(far), 2))
        for j, i in enumerate(far):
            X[i] = [7.0 + 0.3 * w[j, 0], -3.0 + 0.3 * w[j, 1]]
    X, y = np.array(X), np.array(y)
    return X[:n], y[:n], X[n:], y[n:]


@pytest.mark.parametrize(
    "kwargs, spec",
    [
        ({}, ("blobs", 400, 0.3, 0, 2000, 1.0, 0.1)),  # the documented defaults
        (dict(kind="outliers"), ("outliers", 400, 0.3, 0, 2000, 1.0, 0.1)),
        (dict(kind="outliers", n=50, positive_fraction=0.4, seed=3, n_test=70, noise=0.7, outlier_fraction=0.3),
         ("outliers", 50, 0.4, 3, 70, 0.7, 0.3)),
        (dict(kind="blobs", n=30, positive_fraction=0.6, seed=5, n_test=40, noise=2.0), ("blobs", 30, 0.6, 5, 40, 2.0, 0.1)),
    ],
)
def test_make_dataset_follows_its_written_recipe(kwargs, spec):
    d = S.make_dataset(**kwargs)
    for got, want in zip((d.X_train, d.y_train, d.X_test, d.y_test), _literal_dataset(*spec), strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-14)
    if spec[0] == "outliers":  # the far cluster exists and is made of negatives only
        far = np.vstack([d.X_train, d.X_test])[:, 0] > 5
        assert far.sum() > 0 and np.all(np.concatenate([d.y_train, d.y_test])[far] == 0)


def _literal_train(X, y, Xt, yt, objective, T, steps, lr, seed, init_scale=0.01, decay=0.9):
    """Adam (Kingma & Ba, Algorithm 1) written out; gradients by torch autograd, REINFORCE by a per-example loop."""
    rng = np.random.default_rng(seed)
    theta = init_scale * rng.normal(size=(3, 2))
    Phi = np.hstack([X, np.ones((len(X), 1))])
    m, v, base, thetas, losses = np.zeros((3, 2)), np.zeros((3, 2)), None, [], []
    yt_t = torch.from_numpy(y)
    for t in range(1, steps + 2):
        thetas.append(theta.copy())
        th = torch.tensor(theta, requires_grad=True)
        z = torch.from_numpy(Phi) @ th
        if objective == "cross_entropy":
            L = torch.nn.functional.cross_entropy(z, yt_t)
        elif objective in ("soft_accuracy", "reinforce"):
            L = 1 - torch.softmax(z / T, 1)[torch.arange(len(y)), yt_t].mean()
        else:
            p1 = torch.softmax(z / T, 1)[:, 1]
            L = 1 - 2 * (p1 * yt_t.double()).sum() / (p1 + yt_t.double()).sum()
        losses.append(L.item())
        if t == steps + 1:
            break
        if objective == "reinforce":
            pi = torch.softmax(z / T, 1).detach().numpy()
            u = rng.random(len(y))
            b = 0.5 if base is None else base
            g = np.zeros((3, 2))
            rewards = []
            for n in range(len(y)):
                a = 0 if u[n] <= pi[n, 0] else 1
                r = float(a == y[n])
                rewards.append(r)
                g -= (r - b) * np.outer(Phi[n], np.eye(2)[a] - pi[n]) / T / len(y)
            rbar = sum(rewards) / len(rewards)
            base = rbar if base is None else decay * base + (1 - decay) * rbar
        else:
            L.backward()
            g = th.grad.numpy()
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        mh, vh = m / (1 - 0.9**t), v / (1 - 0.999**t)
        theta = theta - lr * mh / (np.sqrt(vh) + 1e-8)
    return np.array(thetas), np.array(losses)


def _literal_metrics(theta, X, y):
    """(cross-entropy, argmax accuracy, F1 by counting) of one iterate."""
    z = np.hstack([X, np.ones((len(X), 1))]) @ theta
    # -log softmax(z)[y] row by row, shifted by the row's max (math, not the module's numpy)
    ce = sum(max(row) + math.log(sum(math.exp(v - max(row)) for v in row)) - row[t] for row, t in zip(z, y, strict=True)) / len(y)
    pred = [int(row[1] > row[0]) for row in z]
    acc = sum(p == t for p, t in zip(pred, y, strict=True)) / len(y)
    tp = sum(p and t for p, t in zip(pred, y, strict=True))
    n = sum(pred) + sum(y)
    return ce, acc, (2 * tp / n if n else 0.0)


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 40)
    X = rng.normal(size=(40, 2)) + np.where(y[:, None] == 1, 0.8, -0.8)
    return X, y


@pytest.mark.parametrize("objective", ["cross_entropy", "soft_accuracy", "soft_f1", "reinforce"])
def test_training_is_adam_on_the_objective_step_by_step(small, objective):
    """Every iterate, loss and metric of an 8-step run against the literal loop above (atol 1e-10)."""
    X, y = small
    Xtr, ytr, Xt, yt = X[:28], y[:28], X[28:], y[28:]
    r = S.train_classifier(Xtr, ytr, objective, 0.7, 8, 0.2, 4, X_test=Xt, y_test=yt)
    thetas, losses = _literal_train(Xtr, ytr, Xt, yt, objective, 0.7, 8, 0.2, 4)
    np.testing.assert_allclose(r.theta, thetas, rtol=0, atol=1e-10)
    np.testing.assert_allclose(r.loss, losses, rtol=0, atol=1e-10)
    for name, Xs, ys, idx in (("train", Xtr, ytr, (0, 1)), ("test", Xt, yt, (0, 1, 2))):
        for t in range(9):
            m = _literal_metrics(thetas[t], Xs, ys)
            assert getattr(r, f"{name}_ce")[t] == pytest.approx(m[0], abs=1e-10)
            assert getattr(r, f"{name}_acc")[t] == pytest.approx(m[1], abs=1e-12)
            if 2 in idx:
                assert r.test_f1[t] == pytest.approx(m[2], abs=1e-12)
    np.testing.assert_allclose(r.boundary, thetas[-1][:, 1] - thetas[-1][:, 0], rtol=0, atol=1e-10)


def test_training_defaults_and_the_70_30_split(small):
    """No held-out data: the last 30 % (round(0.7 N) = 28 of 40) is held out; init_scale 0.01 and decay 0.9."""
    X, y = small
    r = S.train_classifier(X, y, "reinforce", 0.7, 6, 0.2, 2)
    thetas, losses = _literal_train(X[:28], y[:28], X[28:], y[28:], "reinforce", 0.7, 6, 0.2, 2)
    np.testing.assert_allclose(r.theta, thetas, rtol=0, atol=1e-10)
    np.testing.assert_allclose(r.loss, losses, rtol=0, atol=1e-10)
    assert r.test_acc[-1] == pytest.approx(_literal_metrics(thetas[-1], X[28:], y[28:])[1], abs=1e-12)
    # a non-default init scale and baseline decay are used, not ignored
    r = S.train_classifier(X, y, "reinforce", 0.7, 6, 0.2, 2, init_scale=0.5, baseline_decay=0.3)
    thetas, _ = _literal_train(X[:28], y[:28], X[28:], y[28:], "reinforce", 0.7, 6, 0.2, 2, 0.5, 0.3)
    np.testing.assert_allclose(r.theta, thetas, rtol=0, atol=1e-10)
    # half-given held-out data counts as none; 25 rows: round(17.5) = 18 training rows
    r = S.train_classifier(X[:25], y[:25], "soft_f1", 0.7, 0, 0.2, 2, X_test=X[:3])
    assert r.test_acc[0] == pytest.approx(_literal_metrics(r.theta[0], X[18:25], y[18:25])[1], abs=1e-12)
    assert r.train_acc[0] == pytest.approx(_literal_metrics(r.theta[0], X[:18], y[:18])[1], abs=1e-12)


def test_zero_steps_gives_the_initial_model_only(small):
    X, y = small
    r = S.train_classifier(X, y, "cross_entropy", 1.0, 0, 0.1, 9)
    assert r.theta.shape == (1, 3, 2) and r.loss.shape == (1,)
    np.testing.assert_allclose(r.theta[0], 0.01 * np.random.default_rng(9).normal(size=(3, 2)), atol=0)


def test_test_f1_is_zero_with_no_positives_anywhere():
    """Only negatives: the trained model predicts none, and F1 = 0 (nothing to find), not 0/0 or 1."""
    X = np.random.default_rng(1).normal(size=(20, 2))
    y = np.zeros(20, dtype=int)
    r = S.train_classifier(X, y, "cross_entropy", 1.0, 60, 0.2, 0, X_test=X, y_test=y)
    assert r.test_acc[-1] == 1.0 and r.test_f1[-1] == 0.0
    assert np.all(np.isfinite(r.test_f1)) and np.all(r.test_f1 == 0.0)


def test_reinforce_gradient_against_a_literal_loop():
    """Documented draw: u = rng.random((S, N, 1)), a_n = first class whose cumulative pi reaches u;
    g_s = (1/N) sum_n (r_n - b) phi_n (onehot(a_n) - pi_n)^T / T, written as loops (K = 3 here)."""
    rng = np.random.default_rng(21)
    X, y = rng.normal(size=(6, 2)), np.array([0, 2, 1, 1, 0, 2])
    theta, T, b, S_ = rng.normal(size=(3, 3)), 0.6, 0.3, 4
    g, mean_r = S.reinforce_gradient(theta, X, y, T, b, S_, np.random.default_rng(5))
    u = np.random.default_rng(5).random((S_, 6, 1))
    for s in range(S_):
        G, rewards = np.zeros((3, 3)), []
        for n in range(6):
            phi = [X[n, 0], X[n, 1], 1.0]
            z = [sum(phi[d] * theta[d, k] for d in range(3)) / T for k in range(3)]
            e = [math.exp(v) for v in z]
            pi = [v / sum(e) for v in e]
            a, acc = 2, 0.0
            for k in range(3):
                acc += pi[k]
                if acc >= u[s, n, 0]:
                    a = k
                    break
            r = float(a == y[n])
            rewards.append(r)
            for d in range(3):
                for k in range(3):
                    G[d, k] += (r - b) * phi[d] * (float(k == a) - pi[k]) / T / 6
        np.testing.assert_allclose(g[s], G, rtol=0, atol=1e-12)
        assert mean_r[s] == pytest.approx(sum(rewards) / 6, abs=1e-15)


class _TopUniform:
    """A stand-in generator whose every uniform is the largest double below 1 (a legal rng.random value)."""

    def random(self, shape):
        return np.full(shape, np.nextafter(1.0, 0.0))


def test_reinforce_sampling_catches_round_off_in_the_last_class():
    """These 5 logits give cumulative pi = 1 - 2^-52 < u = 1 - 2^-53: inverse-CDF sampling must still
    answer the last class (4), not an index past the end."""
    z = np.array([-2.2751092526952275, 4.262946066935749, 2.178281366843295, 2.5311979869098042, 3.4945919433330843])
    theta = np.zeros((3, 5))
    theta[2] = z  # X = 0: the logits are the bias row
    assert np.cumsum(S.softmax(z))[-1] < np.nextafter(1.0, 0.0)
    g, mean_r = S.reinforce_gradient(theta, np.zeros((1, 2)), np.array([4]), 1.0, 0.25, 2, _TopUniform())
    pi = np.exp(z) / np.exp(z).sum()
    want = np.outer([0.0, 0.0, 1.0], (0.75 * (np.eye(5)[4] - pi)))  # (r - b) = 1 - 0.25, phi = [0, 0, 1]
    np.testing.assert_allclose(g, [want, want], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(mean_r, [1.0, 1.0])


def test_soft_f1_guard_only_touches_an_empty_denominator():
    """One positive, predicted with p = 1e-13: F1 = 2e-13 / (1 + 1e-13) exactly (rel 1e-15); the 1e-12
    guard against 0/0 must not move a denominator that is just above 1."""
    want = 2e-13 / (1 + 1e-13)
    assert S.soft_f1([1e-13], [1]) == pytest.approx(want, rel=1e-15, abs=0)
    assert S.soft_f1(torch.tensor([1e-13], dtype=torch.float64), [1]).item() == pytest.approx(want, rel=1e-15, abs=0)


def test_metrics_on_a_tie_follow_argmax(small):
    """init_scale = 0: theta = 0, every logit pair ties, and argmax (like hard_accuracy) picks class 0:
    accuracy = fraction of negatives, F1 = 0 (nothing predicted), CE = log 2 on both sets."""
    X, y = small
    r = S.train_classifier(X[:28], y[:28], "soft_accuracy", 1.0, 0, 0.1, 0, X_test=X[28:], y_test=y[28:], init_scale=0.0)
    assert r.train_acc[0] == pytest.approx(np.mean(y[:28] == 0), abs=1e-15)
    assert r.test_acc[0] == pytest.approx(np.mean(y[28:] == 0), abs=1e-15)
    assert r.test_acc[0] == S.hard_accuracy(np.zeros((12, 2)), y[28:])
    assert r.test_f1[0] == 0.0 and y[28:].sum() > 0
    assert r.train_ce[0] == pytest.approx(math.log(2), abs=1e-15)
    assert r.test_ce[0] == pytest.approx(math.log(2), abs=1e-15)
