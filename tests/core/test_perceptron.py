"""The perceptron against its textbook guarantees (Rosenblatt 1958, Novikoff 1962)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import perceptron as pc

SEEDS = range(8)


def literal_predict(X, w, b):
    """One example at a time, as the rule is written."""
    return np.array([1 if sum(wi * xi for wi, xi in zip(w, x, strict=True)) + b >= 0 else 0 for x in X])


@given(st.integers(0, 10_000), st.floats(-3, 3), st.floats(-3, 3), st.floats(-4, 4))
@settings(max_examples=50, deadline=None)
def test_bias_and_threshold_views_agree(seed, w1, w2, b):
    X, _ = pc.make_dataset("xor", 50, 0.1, np.random.default_rng(seed))
    w = np.array([w1, w2])
    np.testing.assert_array_equal(pc.predict(X, w, b), pc.predict_threshold(X, w, -b))
    np.testing.assert_array_equal(pc.predict(X, w, b), literal_predict(X, w, b))


@pytest.mark.parametrize("kind", ["through_origin", "offset"])
@pytest.mark.parametrize("seed", SEEDS)
def test_converges_within_novikoff_bound(kind, seed):
    data = pc.make_dataset_info(kind, 80, 0.1, np.random.default_rng(seed))
    h = pc.train(data.X, data.y, use_bias=True, max_epochs=1000)
    assert h.converged
    assert (pc.predict(data.X, h.w[-1], h.b[-1]) == data.y).all()
    bound = pc.novikoff_bound(data.X, data.y, data.normal, data.offset, use_bias=True)
    assert np.isfinite(bound)
    assert h.updates <= bound  # Novikoff: #updates <= (R / gamma)^2 for any separator's margin gamma


@pytest.mark.parametrize("seed", SEEDS)
def test_without_bias_origin_data_converge_within_bound(seed):
    data = pc.make_dataset_info("through_origin", 80, 0.1, np.random.default_rng(seed))
    h = pc.train(data.X, data.y, use_bias=False, max_epochs=1000)
    assert h.converged and (h.b == 0).all()
    assert h.updates <= pc.novikoff_bound(data.X, data.y, data.normal, 0.0, use_bias=False)


@pytest.mark.parametrize("seed", SEEDS)
def test_offset_data_never_learned_without_bias(seed):
    X, y = pc.make_dataset("offset", 60, 0.1, np.random.default_rng(seed))
    h = pc.train(X, y, use_bias=False, max_epochs=200)
    assert not h.converged
    assert h.mistakes_per_epoch.min() > 0  # not a single clean epoch
    # and no line through the origin separates them: the origin lies in class 0's hull
    assert np.allclose(X[y == 0].mean(axis=0), 0, atol=0.5)


@pytest.mark.parametrize("seed", SEEDS)
def test_xor_never_learned(seed):
    X, y = pc.make_dataset("xor", 60, 0.1, np.random.default_rng(seed))
    for bias in (True, False):
        assert not pc.train(X, y, use_bias=bias, max_epochs=100).converged


def test_history_replays_the_rule():
    """Each recorded update is exactly w + lr (y - y_hat) x on the recorded example."""
    X, y = pc.make_dataset("offset", 40, 0.05, np.random.default_rng(3))
    lr = 0.5
    h = pc.train(X, y, lr=lr, use_bias=True)
    assert h.w.shape == (h.updates + 1, 2) and h.b.shape == (h.updates + 1,)
    for k, i in enumerate(h.sample):
        y_hat = int(X[i] @ h.w[k] + h.b[k] >= 0)
        assert y_hat != y[i]
        np.testing.assert_allclose(h.w[k + 1], h.w[k] + lr * (y[i] - y_hat) * X[i], atol=1e-12)
        assert h.b[k + 1] == pytest.approx(h.b[k] + lr * (y[i] - y_hat))
    assert h.mistakes_per_epoch.sum() == h.updates


@pytest.mark.parametrize("kind", pc.DATASET_KINDS)
def test_dataset_margin(kind):
    data = pc.make_dataset_info(kind, 200, 0.2, np.random.default_rng(0))
    assert data.X.shape == (200, 2) and set(np.unique(data.y)) <= {0, 1}
    if kind == "xor":
        assert (np.abs(data.X) >= 0.2 - 1e-12).all()
    else:
        dist = data.X @ data.normal - data.offset
        assert (np.abs(dist) >= 0.2 - 1e-12).all()
        assert ((dist > 0) == (data.y == 1)).all()


def test_firing_rate_falls_as_threshold_rises():
    X, _ = pc.make_dataset("through_origin", 100, 0.1, np.random.default_rng(0))
    T = np.linspace(-5, 5, 51)
    rate = pc.firing_rate(X, np.array([1.0, 1.0]), T)
    assert (np.diff(rate) <= 0).all() and rate[0] == 1 and rate[-1] == 0


@given(st.floats(-3, 3), st.floats(-3, 3), st.floats(-3, 3))
@settings(max_examples=60, deadline=None)
def test_halfplanes_partition_the_box(w1, w2, b):
    """The two clipped polygons' areas add up to the box, and each lies on its side of the line."""
    w = np.array([w1, w2])
    box = (-1.0, 2.0, -1.5, 1.0)
    fires, silent = pc.halfplanes(w, b, box)

    def area(p):
        return (
            0.0
            if len(p) < 3
            else 0.5 * abs(np.dot(p[:, 0], np.roll(p[:, 1], -1)) - np.dot(p[:, 1], np.roll(p[:, 0], -1)))
        )

    assert area(fires) + area(silent) == pytest.approx(7.5, rel=1e-9)
    assert (fires @ w + b >= -1e-9).all() and (silent @ w + b <= 1e-9).all()


# weights as the sliders make them: zero, or at least 1e-3 in size
_weight = st.one_of(st.just(0.0), st.floats(1e-3, 3), st.floats(-3, -1e-3))


@settings(max_examples=300, deadline=None)
@given(w=st.tuples(_weight, _weight), b=st.one_of(st.just(0.0), st.floats(-4, 4)))
def test_line_in_box_against_dense_points_on_the_line(w, b):
    """The ends lie on the line, in the box, and bracket every point of the line inside the box.

    Reference: 20,001 points along the line (a slow literal sampling), kept when inside the box;
    tolerance 2e-3 for the sampled extremes (the sampling step is 1e-3), 1e-8 for in-the-box.
    """
    w = np.array(w)
    box = (-1.5, 2.0, -1.0, 1.0)
    ends = pc.line_in_box(w, b, box)
    if not w.any():
        assert ends is None  # w = 0: no line at all
        return
    # the line as p0 + s d: p0 the closest point to the origin, d along the line
    n = w / np.linalg.norm(w)
    p0, d = -b / np.linalg.norm(w) * n, np.array([-n[1], n[0]])
    s = np.linspace(-10, 10, 20_001)
    pts = p0 + s[:, None] * d
    x0, x1, y0, y1 = box
    tol = 1e-8  # a line along an edge counts as inside, as in line_in_box
    inside = pts[
        (pts[:, 0] >= x0 - tol) & (pts[:, 0] <= x1 + tol) & (pts[:, 1] >= y0 - tol) & (pts[:, 1] <= y1 + tol)
    ]
    if len(inside) < 3:  # misses the box or grazes a corner: nothing worth drawing
        return
    assert ends is not None
    assert np.allclose(ends @ w + b, 0, atol=1e-9 * (1 + abs(b)))
    assert (ends[:, 0] >= x0 - 1e-8).all() and (ends[:, 0] <= x1 + 1e-8).all()
    assert (ends[:, 1] >= y0 - 1e-8).all() and (ends[:, 1] <= y1 + 1e-8).all()
    along, sampled = ends @ d, inside @ d
    assert abs(along.min() - sampled.min()) < 2e-3 and abs(along.max() - sampled.max()) < 2e-3
