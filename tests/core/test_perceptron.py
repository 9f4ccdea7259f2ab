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


# ---- make_dataset_info against its written specification (mutation testing, issue 21) ----


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(kind="bogus", n=10, margin=0.1), "^unknown dataset kind 'bogus'$"),
        (dict(kind="offset", n=3, margin=0.1), "^n must be at least 4$"),
        (dict(kind="offset", n=10, margin=-0.01), r"^margin must be in \[0, 1\)$"),
        (dict(kind="offset", n=10, margin=1.0), r"^margin must be in \[0, 1\)$"),
        (dict(kind="offset", n=10, margin=1.5), r"^margin must be in \[0, 1\)$"),
    ],
)
def test_make_dataset_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pc.make_dataset_info(rng=np.random.default_rng(0), **kwargs)


@pytest.mark.parametrize("kind", pc.DATASET_KINDS)
@pytest.mark.parametrize("n, margin", [(4, 0.0), (5, 0.999)])
def test_make_dataset_accepts_the_edges_of_its_ranges(kind, n, margin):
    """n = 4 and margin in [0, 1) are allowed (the validation bounds are inclusive / exclusive as documented)."""
    data = pc.make_dataset_info(kind, n, margin, np.random.default_rng(1))
    assert data.X.shape == (n, 2) and data.y.shape == (n,)
    assert data.margin == margin


def test_xor_dataset_spec():
    """Every coordinate has |x| in [margin, 1], both signs occur, y = [x1 > 0] xor [x2 > 0] (a literal loop)."""
    margin = 0.25
    data = pc.make_dataset_info("xor", 400, margin, np.random.default_rng(2))
    X, y = data.X, data.y
    assert X.shape == (400, 2) and y.dtype.kind == "i"
    assert (np.abs(X) >= margin).all() and (np.abs(X) <= 1.0).all()
    for j in range(2):  # both signs and the whole range [margin, 1] are used on each axis
        assert (X[:, j] > 0).sum() > 150 and (X[:, j] < 0).sum() > 150
        assert np.abs(X[:, j]).min() < margin + 0.02 and np.abs(X[:, j]).max() > 0.98
    literal = [int((x1 > 0) != (x2 > 0)) for x1, x2 in X]
    assert y.tolist() == literal
    assert data.normal.tolist() == [0.0, 0.0] and data.offset == 0.0 and data.margin == margin


@pytest.mark.parametrize("n", [400, 401])
def test_through_origin_dataset_spec(n):
    """Class 1 at signed distance [margin, 1] from the line u.x = 0, class 0 at [-1, -margin],
    position along the line in [-1, 1]; n // 2 points of class 1; u a unit normal; rows shuffled."""
    margin = 0.2
    data = pc.make_dataset_info("through_origin", n, margin, np.random.default_rng(3))
    X, y, u = data.X, data.y, data.normal
    assert y.dtype.kind == "i" and y.sum() == n // 2 and data.offset == 0.0 and data.margin == margin
    assert np.linalg.norm(u) == pytest.approx(1.0, abs=1e-12)
    along = X @ np.array([-u[1], u[0]])
    dist = X @ u
    tol = 1e-12
    assert (dist[y == 1] >= margin - tol).all() and (dist[y == 1] <= 1 + tol).all()
    assert (dist[y == 0] <= -margin + tol).all() and (dist[y == 0] >= -1 - tol).all()
    assert (np.abs(along) <= 1 + tol).all()
    # the ranges are filled, not a point or a corner of them
    assert along.min() < -0.95 and along.max() > 0.95
    assert dist[y == 1].min() < margin + 0.02 and dist[y == 1].max() > 0.98
    assert dist[y == 0].max() > -margin - 0.02 and dist[y == 0].min() < -0.98
    assert not (y[: n // 2] == 1).all()  # shuffled: not class 1 first


def test_offset_dataset_spec():
    """Class 1 at u.x in [1 + margin, 2]; class 0 at u.x in [-(1 - margin), 1 - margin], made of
    mirror pairs (x, -x) plus one point on the normal when their number is odd; along-line in [-1, 1]."""
    margin = 0.2
    n = 403  # n1 = 201, n0 = 202 = 2 * 101 mirror pairs
    data = pc.make_dataset_info("offset", n, margin, np.random.default_rng(4))
    X, y, u = data.X, data.y, data.normal
    assert data.offset == pc.OFFSET == 1.0 and data.margin == margin
    assert y.dtype.kind == "i" and y.sum() == n // 2
    dist, along = X @ u, X @ np.array([-u[1], u[0]])
    tol = 1e-12
    assert (dist[y == 1] >= 1 + margin - tol).all() and (dist[y == 1] <= 2 + tol).all()
    assert (np.abs(dist[y == 0]) <= 1 - margin + tol).all()
    assert (np.abs(along) <= 1 + tol).all()
    assert along[y == 1].min() < -0.95 and along[y == 1].max() > 0.95
    assert along[y == 0].min() < -0.95 and along[y == 0].max() > 0.95
    assert dist[y == 1].min() < 1 + margin + 0.02 and dist[y == 1].max() > 1.98
    assert dist[y == 0].min() < -(1 - margin) + 0.02 and dist[y == 0].max() > 1 - margin - 0.02
    # both class-0 coordinates fill their ranges (uniform, so some points lie near the middle)
    assert np.abs(dist[y == 0]).min() < 0.05 and np.abs(along[y == 0]).min() < 0.05
    # every class-0 point has its mirror image in class 0 (a literal search)
    X0 = X[y == 0]
    assert all(np.any(np.all(np.abs(X0 + x) < 1e-12, axis=1)) for x in X0)
    # odd class 0: one extra point, on the normal (along-line position 0)
    data = pc.make_dataset_info("offset", 402, margin, np.random.default_rng(5))  # n0 = 201
    X0 = data.X[data.y == 0]
    unpaired = [x for x in X0 if not np.any(np.all(np.abs(X0 + x) < 1e-12, axis=1))]
    assert len(unpaired) == 1
    assert unpaired[0] @ np.array([-data.normal[1], data.normal[0]]) == pytest.approx(0.0, abs=1e-12)


def test_normal_angle_fills_pi_over_12_to_5_pi_over_12():
    """The generating normal points into the first quadrant, at an angle uniform in [pi/12, 5 pi/12]."""
    angles = np.array(
        [
            np.arctan2(*pc.make_dataset_info("through_origin", 4, 0.1, np.random.default_rng(s)).normal[::-1])
            for s in range(400)
        ]
    )
    assert (angles >= np.pi / 12 - 1e-12).all() and (angles <= 5 * np.pi / 12 + 1e-12).all()
    assert angles.min() < np.pi / 12 + 0.02 and angles.max() > 5 * np.pi / 12 - 0.02


def test_firing_rate_counts_equality_as_firing():
    """w.x >= T fires (Rosenblatt's unit as `predict_threshold` writes it): a literal count, with ties."""
    X = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 0.25], [-1.0, 0.0]])  # w.x = 1, 1, 0.25, -1
    w = np.array([1.0, 1.0])
    T = np.array([-2.0, -1.0, 0.25, 1.0, 1.5])
    literal = [sum(1 for x in X if x @ w >= t) / len(X) for t in T]
    np.testing.assert_allclose(pc.firing_rate(X, w, T), literal, atol=0)
    np.testing.assert_allclose(pc.firing_rate(X, w, T), [1.0, 1.0, 0.75, 0.5, 0.0], atol=0)


# Hand-computed Novikoff bounds. Points x1 = (1, 0) (class 1), x2 = (-3, 4) (class 0).
NOVIKOFF_X = np.array([[1.0, 0.0], [-3.0, 4.0]])
NOVIKOFF_Y = np.array([1, 0])


def test_novikoff_bound_by_hand_without_bias():
    # separator x_1 = 0, given as the non-unit normal (2, 0): unit v = (1, 0);
    # signed distances (+1)(1) = 1 and (-1)(-3) = 3, so gamma = 1 (from the class-1 point);
    # R = max(|x1|, |x2|) = max(1, 5) = 5;  (R / gamma)^2 = 25
    assert pc.novikoff_bound(NOVIKOFF_X, NOVIKOFF_Y, np.array([2.0, 0.0]), 0.0, use_bias=False) == 25.0


def test_novikoff_bound_by_hand_with_bias():
    # separator x_1 = 0.5 -> augmented v = (1, 0, -0.5) / sqrt(1.25);
    # augmented x1 = (1, 0, 1): v.x = 0.5 / sqrt(1.25);  x2 = (-3, 4, 1): v.x = -3.5 / sqrt(1.25)
    # gamma = 0.5 / sqrt(1.25), R = |(-3, 4, 1)| = sqrt(26);  (R / gamma)^2 = 26 * 1.25 / 0.25 = 130
    bound = pc.novikoff_bound(NOVIKOFF_X, NOVIKOFF_Y, np.array([1.0, 0.0]), 0.5, use_bias=True)
    assert bound == pytest.approx(130.0, rel=1e-12)


def test_novikoff_bound_is_infinite_without_a_separator():
    inf = float("inf")
    # an offset line cannot be a separator through the origin
    assert pc.novikoff_bound(NOVIKOFF_X, NOVIKOFF_Y, np.array([1.0, 0.0]), 0.5, use_bias=False) == inf
    # no line at all (xor: zero normal), with or without bias
    for bias in (True, False):
        assert pc.novikoff_bound(NOVIKOFF_X, NOVIKOFF_Y, np.zeros(2), 0.0, use_bias=bias) == inf
    # a line with a point on the wrong side
    assert pc.novikoff_bound(NOVIKOFF_X, np.array([0, 1]), np.array([1.0, 0.0]), 0.0, use_bias=False) == inf
    # a point exactly on the line: margin 0, no finite bound (even when every point is at the origin)
    on_line = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert pc.novikoff_bound(on_line, NOVIKOFF_Y, np.array([1.0, 0.0]), 0.0, use_bias=False) == inf
    assert pc.novikoff_bound(np.zeros((2, 2)), NOVIKOFF_Y, np.array([1.0, 0.0]), 0.0, use_bias=False) == inf


def literal_perceptron(X, y, lr, max_epochs, use_bias):
    """Rosenblatt's rule written out, from w = 0, b = 0: the whole history of (w, b), examples in order."""
    w, b = [0.0] * X.shape[1], 0.0
    ws, bs, mistakes = [list(w)], [b], []
    for _ in range(max_epochs):
        count = 0
        for x, label in zip(X, y, strict=True):
            out = 1 if sum(wi * xi for wi, xi in zip(w, x, strict=True)) + b >= 0 else 0
            if out != label:
                w = [wi + lr * (label - out) * xi for wi, xi in zip(w, x, strict=True)]
                b = b + lr * (label - out) if use_bias else b
                ws.append(list(w))
                bs.append(b)
                count += 1
        mistakes.append(count)
        if count == 0:
            break
    return np.array(ws), np.array(bs), mistakes


def test_train_defaults_are_lr_1_bias_on_100_epochs():
    """train(X, y) with no options is the literal rule with lr = 1, a learned bias and at most 100 epochs."""
    data = pc.make_dataset_info("offset", 30, 0.1, np.random.default_rng(6))
    h = pc.train(data.X, data.y)
    ws, bs, mistakes = literal_perceptron(data.X, data.y, 1.0, 100, True)
    np.testing.assert_allclose(h.w, ws, atol=1e-12)
    np.testing.assert_allclose(h.b, bs, atol=1e-12)
    assert h.mistakes_per_epoch.tolist() == mistakes and h.converged
    X, y = pc.make_dataset("xor", 20, 0.1, np.random.default_rng(7))
    h = pc.train(X, y)
    assert len(h.mistakes_per_epoch) == 100 and not h.converged  # stops at the default 100 epochs
    assert h.mistakes_per_epoch.tolist() == literal_perceptron(X, y, 1.0, 100, True)[2]


def test_train_edge_cases_keep_integer_histories():
    """Nothing to learn (w = 0, b = 0 already fires on every class-1 example): no update, converged after
    one clean epoch, empty integer histories. Zero epochs: nothing run, not converged."""
    X = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, -3.0]])
    h = pc.train(X, np.ones(3, int))
    assert h.updates == 0 and h.converged and h.mistakes_per_epoch.tolist() == [0]
    assert h.w.shape == (1, 2) and h.b.tolist() == [0.0]
    assert h.sample.dtype.kind == h.epoch.dtype.kind == h.mistakes_per_epoch.dtype.kind == "i"
    h = pc.train(X, np.ones(3, int), max_epochs=0)
    assert not h.converged and h.mistakes_per_epoch.shape == (0,) and h.mistakes_per_epoch.dtype.kind == "i"


def test_predictions_are_integers():
    X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    w = np.array([1.0, 0.0])
    for out in (pc.predict(X, w, 0.0), pc.predict_threshold(X, w, 0.0)):
        assert out.dtype.kind == "i" and out.tolist() == [1, 0]


def test_line_in_box_axis_parallel_lines_by_hand():
    """Lines with a zero (or a one) in w, in a box whose y-range is not [-1, 1]; ends in either order."""
    box = (-1.0, 2.0, -2.0, 3.0)

    def ends(w, b):
        return sorted(map(tuple, np.round(pc.line_in_box(np.array(w), b, box), 12).tolist()))

    assert ends((0.0, 1.0), -0.5) == [(-1.0, 0.5), (2.0, 0.5)]  # y = 0.5: left side to right side
    assert ends((1.0, 0.0), -0.5) == [(0.5, -2.0), (0.5, 3.0)]  # x = 0.5: bottom to top
    assert ends((1.0, 1.0), -1.0) == [(-1.0, 2.0), (2.0, -1.0)]  # x + y = 1: left side to right side
    assert ends((2.0, 1.0), 0.0) == [(-1.0, 2.0), (1.0, -2.0)]  # 2x + y = 0: left side to bottom


def test_line_in_box_touching_one_corner_is_none():
    # x + y = 2 meets the unit box only at its corner (1, 1)
    assert pc.line_in_box(np.array([1.0, 1.0]), -2.0, (0.0, 1.0, 0.0, 1.0)) is None


def test_line_in_box_edge_tolerance():
    """A crossing may lie outside the box by eps = 1e-9 (x1 - x0 + y1 - y0) (rounding), inclusive, not more."""
    box = (10.0, 20.0, 10.0, 20.0)  # eps = 2e-8
    w = np.array([0.0, 1.0])  # horizontal lines y = -b
    assert pc.line_in_box(w, -(20.0 + 1e-8), box) is not None  # 0.5 eps above the top: kept
    assert pc.line_in_box(w, -(20.0 + 3e-8), box) is None  # 1.5 eps above: outside
    assert pc.line_in_box(w, -(10.0 - 1e-8), box) is not None
    assert pc.line_in_box(w, -(10.0 - 3e-8), box) is None
    # exactly eps outside, each side (the floats are built to be equal): still inside
    unit = (0.0, 1.0, 0.0, 1.0)  # eps = 2e-9
    eps = 1e-9 * 2.0
    for w, b in [
        ((1.0, 0.0), eps),  # x = -eps
        ((1.0, 0.0), -(1.0 + eps)),  # x = 1 + eps
        ((0.0, 1.0), eps),  # y = -eps
        ((0.0, 1.0), -(1.0 + eps)),  # y = 1 + eps
    ]:
        assert pc.line_in_box(np.array(w), b, unit) is not None, (w, b)


def test_offset_dataset_unpaired_point_spans_the_class_0_band():
    """With an odd class 0, its one unpaired point is drawn from the same band [-(1 - margin), 1 - margin]."""
    margin = 0.2
    dists = []
    for seed in range(60):
        data = pc.make_dataset_info("offset", 6, margin, np.random.default_rng(seed))  # n0 = 3: 1 pair + 1
        X0 = data.X[data.y == 0]
        (x,) = [x for x in X0 if not np.any(np.all(np.abs(X0 + x) < 1e-12, axis=1))]
        dists.append(x @ data.normal)
    dists = np.array(dists)
    assert (np.abs(dists) <= 1 - margin + 1e-12).all()
    assert dists.min() < -0.6 and dists.max() > 0.6  # the whole band, both sides
