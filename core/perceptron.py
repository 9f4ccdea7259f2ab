"""Rosenblatt's perceptron, and why its threshold became a learnable bias.

A perceptron fires (outputs 1) when the weighted sum of its inputs reaches a
threshold T:  w·x >= T.  Choosing T by hand does not scale, so T is learned like
a weight; moved to the left-hand side it becomes the bias b = -T and the rule
reads w·x + b >= 0. The larger T (the more negative b), the harder the unit is
to activate.

The learning rule visits the examples in order and, on a mistake, moves the
weights toward the example's label:  w <- w + lr (y - y_hat) x,  b <- b + lr (y - y_hat).
On linearly separable data it stops after finitely many updates; Novikoff's
theorem bounds their number by (R / gamma)^2, where R is the largest input
norm and gamma the margin of any separating unit vector (both measured on
inputs augmented with a constant 1 when the bias is learned).

References:
    F. Rosenblatt, "The perceptron: a probabilistic model for information
        storage and organization in the brain", Psychological Review 65(6), 1958.
    A. B. J. Novikoff, "On convergence proofs on perceptrons", Symposium on the
        Mathematical Theory of Automata, 1962.
    M. Minsky, S. Papert, "Perceptrons", MIT Press, 1969 (XOR is not linearly separable).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DATASET_KINDS: tuple[str, ...] = ("through_origin", "offset", "xor")

# The "offset" data are split by the line u·x = OFFSET (u a random unit normal),
# and class 0 is symmetric about the origin, so no line through the origin separates them.
OFFSET = 1.0


def predict(X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """1 where w·x + b >= 0, else 0.   X: (n, d), w: (d,) -> (n,) int."""
    return (X @ w + b >= 0).astype(int)


def predict_threshold(X: np.ndarray, w: np.ndarray, T: float) -> np.ndarray:
    """The same unit written with a threshold: 1 where w·x >= T (T = -b)."""
    return (X @ w >= T).astype(int)


def firing_rate(X: np.ndarray, w: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Fraction of inputs that activate the unit, for each threshold T.   -> (len(thresholds),)"""
    z = X @ w  # (n,)
    return (z[None, :] >= thresholds[:, None]).mean(axis=1)


@dataclass(frozen=True)
class Dataset:
    X: np.ndarray  # (n, 2)
    y: np.ndarray  # (n,) in {0, 1}
    normal: np.ndarray  # (2,) unit normal of the generating line (zeros for xor)
    offset: float  # the generating line is normal·x = offset
    margin: float  # every point is at least this far from the generating line


def make_dataset(kind: str, n: int, margin: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two-dimensional points with labels 0/1: `(X, y)`. See `make_dataset_info` for the generating line."""
    data = make_dataset_info(kind, n, margin, rng)
    return data.X, data.y


def make_dataset_info(kind: str, n: int, margin: float, rng: np.random.Generator) -> Dataset:
    """`n` points of one of three kinds, at least `margin` from the generating line.

    - "through_origin": split by a line through the origin.
    - "offset": split by the line u·x = 1; class 0 is symmetric about the origin,
      so the origin lies inside its convex hull and no line through the origin
      can separate the classes (a perceptron without bias never converges).
    - "xor": the four quadrants, opposite ones sharing a label; no line separates them.
    """
    if kind not in DATASET_KINDS:
        raise ValueError(f"unknown dataset kind {kind!r}")
    if n < 4:
        raise ValueError("n must be at least 4")
    if not 0 <= margin < 1:
        raise ValueError("margin must be in [0, 1)")
    if kind == "xor":
        signs = rng.choice([-1.0, 1.0], size=(n, 2))
        X = signs * rng.uniform(margin, 1.0, size=(n, 2))
        y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int)
        return Dataset(X, y, np.zeros(2), 0.0, margin)

    # The normal points into the first quadrant, so the default unit w = (1, 1) starts roughly right.
    angle = rng.uniform(np.pi / 12, 5 * np.pi / 12)
    u = np.array([np.cos(angle), np.sin(angle)])  # normal of the generating line
    u_perp = np.array([-u[1], u[0]])
    n1 = n // 2
    n0 = n - n1
    if kind == "through_origin":
        # signed distance to the line: class 1 in [margin, 1], class 0 in [-1, -margin]
        a1 = rng.uniform(margin, 1.0, n1)
        a0 = -rng.uniform(margin, 1.0, n0)
        s = rng.uniform(-1.0, 1.0, n)
        c = 0.0
    else:
        c = OFFSET
        a1 = rng.uniform(c + margin, c + 1.0, n1)
        # class 0: half the points and their mirror images through the origin,
        # with projections in [-(c - margin), c - margin]
        half = n0 // 2
        a0_half = rng.uniform(-(c - margin), c - margin, half)
        s0_half = rng.uniform(-1.0, 1.0, half)
        a0 = np.concatenate([a0_half, -a0_half, rng.uniform(-(c - margin), c - margin, n0 - 2 * half)])
        s0 = np.concatenate([s0_half, -s0_half, np.zeros(n0 - 2 * half)])
        s = np.concatenate([rng.uniform(-1.0, 1.0, n1), s0])
    a = np.concatenate([a1, a0])
    X = a[:, None] * u + s[:, None] * u_perp  # (n, 2)
    y = np.concatenate([np.ones(n1, int), np.zeros(n0, int)])
    order = rng.permutation(n)
    return Dataset(X[order], y[order], u, c, margin)


@dataclass(frozen=True)
class PerceptronHistory:
    w: np.ndarray  # (updates + 1, d): the weights before any update, then after each
    b: np.ndarray  # (updates + 1,)
    sample: np.ndarray  # (updates,): index of the example that caused each update
    epoch: np.ndarray  # (updates,): the epoch (0-based) of each update
    mistakes_per_epoch: np.ndarray  # (epochs run,)
    converged: bool  # an epoch passed with no mistake

    @property
    def updates(self) -> int:
        return len(self.sample)


def train(
    X: np.ndarray,
    y: np.ndarray,
    *,
    lr: float = 1.0,
    max_epochs: int = 100,
    use_bias: bool = True,
) -> PerceptronHistory:
    """Rosenblatt's rule, examples visited in order, from w = 0, b = 0.

    Without a bias, b stays 0: the decision line must pass through the origin.
    """
    n, d = X.shape
    w = np.zeros(d)
    b = 0.0
    ws, bs, samples, epochs, mistakes = [w.copy()], [b], [], [], []
    for epoch in range(max_epochs):
        count = 0
        for i in range(n):
            y_hat = 1 if X[i] @ w + b >= 0 else 0
            if y_hat != y[i]:
                # w <- w + lr (y - y_hat) x ;  b <- b + lr (y - y_hat)
                w = w + lr * (y[i] - y_hat) * X[i]
                if use_bias:
                    b = b + lr * (y[i] - y_hat)
                ws.append(w.copy())
                bs.append(b)
                samples.append(i)
                epochs.append(epoch)
                count += 1
        mistakes.append(count)
        if count == 0:
            break
    return PerceptronHistory(
        w=np.array(ws),
        b=np.array(bs, dtype=float),
        sample=np.array(samples, dtype=int),
        epoch=np.array(epochs, dtype=int),
        mistakes_per_epoch=np.array(mistakes, dtype=int),
        converged=bool(mistakes and mistakes[-1] == 0),
    )


def novikoff_bound(X: np.ndarray, y: np.ndarray, normal: np.ndarray, offset: float, use_bias: bool) -> float:
    """(R / gamma)^2 for the separator normal·x = offset; inf if it does not separate the data.

    With a bias the inputs are augmented to (x, 1) and the separator to
    (normal, -offset), normalised to unit length; gamma is its smallest signed
    distance to the points, R the largest augmented input norm.
    """
    Xa = np.hstack([X, np.ones((len(X), 1))]) if use_bias else X
    v = np.append(normal, -offset) if use_bias else np.asarray(normal, float)
    if (not use_bias and offset != 0) or not np.any(normal):
        return float("inf")  # no separator through the origin / no separating line at all (xor)
    v = v / np.linalg.norm(v)
    signed = (2 * y - 1) * (Xa @ v)  # y in {0,1} -> {-1,+1}
    gamma = signed.min()
    if gamma <= 0:
        return float("inf")
    R = np.linalg.norm(Xa, axis=1).max()
    return float((R / gamma) ** 2)


def line_in_box(w: np.ndarray, b: float, box: tuple[float, float, float, float]) -> np.ndarray | None:
    """The two ends (2, 2) of the part of the line w·x + b = 0 inside the box x0..x1 × y0..y1.

    None when the line misses the box (or touches it in one point) or w = 0.
    Cut here, not clipped by a chart, so that a chart's axes span the box.
    """
    x0, x1, y0, y1 = box
    ends = []
    if w[1] != 0:  # crossings of the vertical sides x = x0, x = x1
        ends += [(x, -(w[0] * x + b) / w[1]) for x in (x0, x1)]
    if w[0] != 0:  # crossings of the horizontal sides y = y0, y = y1
        ends += [(-(w[1] * y + b) / w[0], y) for y in (y0, y1)]
    eps = 1e-9 * (x1 - x0 + y1 - y0)
    inside = [(x, y) for x, y in ends if x0 - eps <= x <= x1 + eps and y0 - eps <= y <= y1 + eps]
    if len(inside) < 2:
        return None
    pts = np.array(inside)
    along = pts @ np.array([-w[1], w[0]])  # position of each crossing along the line
    ends = pts[[along.argmin(), along.argmax()]]
    return None if np.allclose(ends[0], ends[1]) else ends


def halfplanes(w: np.ndarray, b: float, box: tuple[float, float, float, float]) -> list[np.ndarray]:
    """The box x0 <= x1 <= x1_max, y0 <= x2 <= y1 cut by the line w·x + b = 0.

    Returns [fires, silent]: the polygon (k, 2) where the unit outputs 1 and the
    one where it outputs 0, vertices in order (either may be empty, (0, 2)).
    """
    x0, x1, y0, y1 = box
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    out = []
    for fires in (True, False):
        # Sutherland–Hodgman: keep the part of the box where the unit's output is `fires`.
        poly = []
        for p, q in zip(corners, np.roll(corners, -1, axis=0), strict=True):
            fp, fq = p @ w + b, q @ w + b
            p_in, q_in = (fp >= 0) == fires, (fq >= 0) == fires
            if p_in:
                poly.append(p)
            if p_in != q_in:
                s = fp / (fp - fq)  # where the edge p -> q crosses w·x + b = 0
                poly.append(p + s * (q - p))
        out.append(np.array(poly).reshape(-1, 2))
    return out
