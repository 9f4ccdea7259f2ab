"""core.activations against torch.nn.functional, torch autograd, published
LLaMA sizes and a literal numpy backprop loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core import activations as A

F = torch.nn.functional
TOL = 1e-6  # absolute and relative, float64 throughout


def torch_reference(name: str, x: torch.Tensor, **p: float) -> torch.Tensor:
    """The torch.nn.functional counterpart (written here, not taken from core)."""
    if name == "step":
        return torch.heaviside(x, torch.tensor(1.0, dtype=x.dtype))
    if name == "sigmoid":
        return F.sigmoid(x)
    if name == "tanh":
        return F.tanh(x)
    if name == "relu":
        return F.relu(x)
    if name == "leaky_relu":
        return F.leaky_relu(x, negative_slope=p["slope"])
    if name == "elu":
        return F.elu(x, alpha=p["alpha"])
    if name == "gelu":
        return F.gelu(x, approximate="none")
    if name == "gelu_tanh":
        return F.gelu(x, approximate="tanh")
    if name == "silu":
        # x sigma(beta x) = silu(beta x) / beta
        return F.silu(p["beta"] * x) / p["beta"]
    if name == "mish":
        return F.mish(x)
    if name == "softplus":
        return F.softplus(x, beta=p["beta"], threshold=1e9)
    raise KeyError(name)


REQUIRED = {
    "step",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "gelu",
    "gelu_tanh",
    "silu",
    "mish",
    "softplus",
}


def test_registry_has_every_required_activation():
    assert REQUIRED <= set(A.ACTIVATIONS)
    for name, act in A.ACTIVATIONS.items():
        assert act.name == name
        for p in act.params.values():
            assert p.low <= p.default <= p.high


def _params(name: str, rng: np.random.Generator) -> dict[str, float]:
    """Random parameter values inside each slider range."""
    return {
        k: float(rng.uniform(p.low if p.low > 0 else 0.05, p.high))
        for k, p in A.ACTIVATIONS[name].params.items()
    }


@pytest.mark.parametrize("name", sorted(A.ACTIVATIONS))
@pytest.mark.parametrize("use_defaults", [True, False])
def test_f_matches_torch_functional(name, use_defaults):
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 4.0, 2000)
    p = A.ACTIVATIONS[name].defaults() if use_defaults else _params(name, rng)
    ours = A.ACTIVATIONS[name].f(x, **p)
    ref = torch_reference(name, torch.from_numpy(x), **p).numpy()
    np.testing.assert_allclose(ours, ref, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("name", sorted(A.ACTIVATIONS))
@pytest.mark.parametrize("use_defaults", [True, False])
def test_df_matches_autograd_away_from_kinks(name, use_defaults):
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 4.0, 2000)
    act = A.ACTIVATIONS[name]
    for k in act.kinks:  # stay 1e-3 away from points where f' jumps
        x = x[np.abs(x - k) > 1e-3]
    p = act.defaults() if use_defaults else _params(name, rng)
    xt = torch.from_numpy(x).requires_grad_()
    if name == "step":  # no autograd through heaviside; its derivative is 0 off the kink
        ref = np.zeros_like(x)
    else:
        (ref_t,) = torch.autograd.grad(torch_reference(name, xt, **p).sum(), xt)
        ref = ref_t.numpy()
    np.testing.assert_allclose(act.df(x, **p), ref, rtol=TOL, atol=TOL)


@settings(max_examples=50, deadline=None)
@given(x=st.floats(-30, 30), name=st.sampled_from(sorted(A.ACTIVATIONS)))
def test_df_matches_central_difference(x, name):
    """A second, torch-free reference: f'(x) ~ (f(x+h) - f(x-h)) / 2h, h = 1e-5."""
    act = A.ACTIVATIONS[name]
    if any(abs(x - k) < 1e-3 for k in act.kinks):
        return
    h = 1e-5
    xs = np.array([x - h, x, x + h])
    fx = act.f(xs)
    fd = (fx[2] - fx[0]) / (2 * h)
    assert act.df(xs[1:2])[0] == pytest.approx(fd, rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("name", sorted(A.ACTIVATIONS))
def test_torch_f_used_for_depth_matches_numpy_f(name):
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 4.0, 500)
    act = A.ACTIVATIONS[name]
    p = _params(name, rng)
    np.testing.assert_allclose(
        act.torch_f(torch.from_numpy(x), **p).numpy(), act.f(x, **p), rtol=TOL, atol=TOL
    )


def test_gelu_tanh_approximates_gelu():
    # Hendrycks & Gimpel: the tanh form is a close approximation (max error ~ 5e-4 on the line)
    x = np.linspace(-6, 6, 10001)
    assert np.max(np.abs(A.gelu(x) - A.gelu_tanh(x))) < 1e-3


def test_swish_limits():
    x = np.linspace(-5, 5, 101)
    np.testing.assert_allclose(A.silu(x, beta=1e4), A.relu(x), atol=1e-3)  # beta -> inf: ReLU
    np.testing.assert_allclose(A.silu(x, beta=1e-6), x / 2, atol=1e-5)  # beta -> 0: x / 2


def test_swiglu_matches_torch():
    rng = np.random.default_rng(3)
    x, W, V = rng.normal(size=(4, 5, 8)), rng.normal(size=(8, 12)), rng.normal(size=(8, 12))
    xt, Wt, Vt = (torch.from_numpy(a) for a in (x, W, V))
    ref = (F.silu(xt @ Wt) * (xt @ Vt)).numpy()
    out = A.swiglu(x, W, V)
    assert out.shape == (4, 5, 12)
    np.testing.assert_allclose(out, ref, rtol=TOL, atol=TOL)


@pytest.mark.parametrize(
    "dim, published",
    # intermediate_size of the released LLaMA-1 7B / 13B / 33B / 65B checkpoints (Touvron et al. 2023)
    [(4096, 11008), (5120, 13824), (6656, 17920), (8192, 22016)],
)
def test_llama_hidden_size_matches_published(dim, published):
    assert A.llama_hidden_size(dim) == published


def test_gated_ffn_keeps_the_parameter_count():
    c = A.ffn_param_counts(4096)
    assert c["classic"] == 8 * 4096**2
    assert c["swiglu"] == 3 * 4096 * 11008
    assert abs(c["swiglu"] / c["classic"] - 1) < 0.02
    assert c["swiglu_unscaled"] == pytest.approx(1.5 * c["classic"])


def _literal_backprop(name: str, depth: int, width: int, init: str, seed: int, batch: int) -> np.ndarray:
    """Slow literal oracle: redraw the same weights, backprop by hand with the analytic df."""
    gen = torch.Generator().manual_seed(seed)
    std = {"he": math.sqrt(2 / width), "xavier": math.sqrt(1 / width), "small": 0.01}[init]
    Ws = (torch.randn(depth, width, width, generator=gen, dtype=torch.float64) * std).numpy()
    x = torch.randn(batch, width, generator=gen, dtype=torch.float64).numpy()
    g = torch.randn(width, generator=gen, dtype=torch.float64).numpy()
    act = A.ACTIVATIONS[name]
    hs, As = [x], []
    for layer in range(depth):
        As.append(hs[-1] @ Ws[layer])
        hs.append(act.f(As[-1]))
    delta_h = np.tile(g / batch, (batch, 1))  # dL/dh_depth for L = mean_n <h[n], g>
    norms = np.zeros(depth)
    for layer in reversed(range(depth)):
        delta_a = delta_h * act.df(As[layer])  # dL/da_l = dL/dh_l * f'(a_l)
        norms[layer] = np.linalg.norm(hs[layer].T @ delta_a)  # dL/dW_l = h_{l-1}^T dL/da_l
        delta_h = delta_a @ Ws[layer].T
    return norms


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "gelu", "silu"])
@pytest.mark.parametrize("init", A.INITS)
def test_gradient_through_depth_matches_literal_backprop(name, init):
    r = A.gradient_through_depth(name, 8, 16, init, seed=5, batch=32)
    ref = _literal_backprop(name, 8, 16, init, seed=5, batch=32)
    np.testing.assert_allclose(r.grad_norm, ref, rtol=1e-9, atol=1e-300)
    assert r.grad_norm.shape == r.act_std.shape == r.dead_frac.shape == (8,)


def test_sigmoid_vanishes_relu_and_gelu_do_not_under_he():
    """Glorot & Bengio sec. 4.2: sigma' <= 1/4 shrinks the gradient every layer."""
    depth = 30
    sig = A.gradient_through_depth("sigmoid", depth, 64, "he", seed=0).grad_rel
    assert sig[0] < 1e-8
    for name in ("relu", "gelu"):
        rel = A.gradient_through_depth(name, depth, 64, "he", seed=0).grad_rel
        assert rel[0] > 1e-2, name


def test_dead_units():
    step = A.gradient_through_depth("step", 5, 32, "he", seed=0)
    np.testing.assert_array_equal(step.dead_frac, 1.0)  # f' = 0 everywhere
    np.testing.assert_array_equal(step.grad_norm, 0.0)
    leaky = A.gradient_through_depth("leaky_relu", 20, 32, "he", seed=0)
    np.testing.assert_array_equal(leaky.dead_frac, 0.0)  # f' >= slope > 0
    relu = A.gradient_through_depth("relu", 20, 32, "he", seed=0)
    assert relu.dead_frac[0] == 0.0  # first layer sees zero-mean inputs
    assert np.all((relu.dead_frac >= 0) & (relu.dead_frac <= 1))


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        A.gradient_through_depth("nope", 3, 4, "he", 0)
    with pytest.raises(ValueError):
        A.gradient_through_depth("relu", 3, 4, "lecun-ish", 0)


# ---- gradient_through_depth: every statistic, defaults and bounds (mutation testing, issue 21) ----


def _literal_forward(name, depth, width, init, seed, batch, params):
    """The same weights redrawn; the forward pass in numpy, one layer at a time."""
    gen = torch.Generator().manual_seed(seed)
    std = {"he": math.sqrt(2 / width), "xavier": math.sqrt(1 / width), "small": 0.01}[init]
    Ws = (torch.randn(depth, width, width, generator=gen, dtype=torch.float64) * std).numpy()
    h = torch.randn(batch, width, generator=gen, dtype=torch.float64).numpy()
    act = A.ACTIVATIONS[name]
    pre, outs = [], []
    for layer in range(depth):
        pre.append(h @ Ws[layer])
        h = act.f(pre[-1], **params)
        outs.append(h)
    return pre, outs


@pytest.mark.parametrize(
    "name, params", [("relu", {}), ("leaky_relu", {"slope": 0.3}), ("elu", {"alpha": 2.0})]
)
def test_depth_statistics_match_a_literal_forward_pass(name, params):
    """act_std = the sample standard deviation (n - 1) of h_l over batch and units; dead_frac = the share
    of units whose f'(a) is 0 on every input of the batch; the activation's parameters are used."""
    r = A.gradient_through_depth(name, 6, 12, "he", seed=3, batch=40, params=params)
    pre, outs = _literal_forward(name, 6, 12, "he", 3, 40, params)
    np.testing.assert_allclose(r.act_std, [np.std(h, ddof=1) for h in outs], rtol=1e-12)
    act = A.ACTIVATIONS[name]
    dead = [np.mean([all(act.df(a[n, j], **params) == 0 for n in range(40)) for j in range(12)]) for a in pre]
    np.testing.assert_array_equal(r.dead_frac, dead)


def test_depth_dead_fraction_counts_units_not_entries():
    """ReLU at a small width and batch: some units are dead on every input (dead_frac > 0 somewhere),
    and a unit counts only if all its inputs are negative (checked against the literal forward pass)."""
    r = A.gradient_through_depth("relu", 12, 4, "he", seed=1, batch=8)
    pre, _ = _literal_forward("relu", 12, 4, "he", 1, 8, {})
    dead = [np.mean([(a[:, j] <= 0).all() for j in range(4)]) for a in pre]
    np.testing.assert_array_equal(r.dead_frac, dead)
    assert max(dead) > 0 and min(dead) < 1


def test_depth_dead_fraction_uses_the_activations_parameters():
    """Leaky ReLU with slope 0 is ReLU: units die (its f' is 0 for a <= 0), where the default slope 0.01
    would never let one die; literal forward pass as above."""
    r = A.gradient_through_depth("leaky_relu", 12, 4, "he", seed=1, batch=8, params={"slope": 0.0})
    pre, _ = _literal_forward("leaky_relu", 12, 4, "he", 1, 8, {"slope": 0.0})
    dead = [np.mean([(a[:, j] <= 0).all() for j in range(4)]) for a in pre]
    np.testing.assert_array_equal(r.dead_frac, dead)
    assert max(dead) > 0


def test_depth_default_batch_is_128():
    r = A.gradient_through_depth("tanh", 3, 8, "xavier", seed=2)
    _, outs = _literal_forward("tanh", 3, 8, "xavier", 2, 128, {})
    np.testing.assert_allclose(r.act_std, [np.std(h, ddof=1) for h in outs], rtol=1e-12)


def test_grad_rel_is_relative_to_the_top_layer():
    r = A.gradient_through_depth("gelu", 5, 8, "he", seed=4, batch=16)
    assert r.grad_rel[-1] == 1.0
    np.testing.assert_allclose(r.grad_rel * r.grad_norm[-1], r.grad_norm, rtol=1e-12)
    # no gradient at the top (the step function): zeros, not 0 / 0
    np.testing.assert_array_equal(
        A.gradient_through_depth("step", 3, 8, "he", seed=0, batch=16).grad_rel, 0.0
    )


@pytest.mark.parametrize("depth, width", [(1, 1), (1, 5), (4, 1)])
def test_depth_and_width_of_one_are_allowed(depth, width):
    r = A.gradient_through_depth("tanh", depth, width, "he", seed=0, batch=8)
    ref = _literal_backprop("tanh", depth, width, "he", seed=0, batch=8)
    np.testing.assert_allclose(r.grad_norm, ref, rtol=1e-9)


@pytest.mark.parametrize(
    "args, message",
    [
        (("nope", 3, 4, "he", 0), "^unknown activation 'nope'$"),
        (("relu", 0, 4, "he", 0), "^depth and width must be positive$"),
        (("relu", 3, 0, "he", 0), "^depth and width must be positive$"),
        (
            ("relu", 3, 4, "lecun-ish", 0),
            r"^unknown init 'lecun-ish'; expected one of \('he', 'xavier', 'small'\)$",
        ),
    ],
)
def test_bad_arguments_messages(args, message):
    with pytest.raises(ValueError, match=message):
        A.gradient_through_depth(*args)


def test_ffn_param_counts_every_entry():
    """Every entry by hand for d = 4096: classic hidden 4d = 16384, SwiGLU hidden 11008 (LLaMA-7B)."""
    assert A.ffn_param_counts(4096) == {
        "classic_hidden": 16384,
        "classic": 2 * 4096 * 16384,
        "swiglu_hidden": 11008,
        "swiglu": 3 * 4096 * 11008,
        "swiglu_unscaled": 3 * 4096 * 16384,
    }
    # multiple_of is passed on: d = 1000 -> int(8000 / 3) = 2666 -> next multiple of 128 = 2688
    assert A.ffn_param_counts(1000, multiple_of=128)["swiglu_hidden"] == 2688
    assert A.llama_hidden_size(1000, multiple_of=128) == 2688


def test_llama_rounding_at_exact_and_one_past_multiples():
    """Round up to a multiple, by hand: 8 * 96 / 3 = 256 is already one (stays 256);
    8 * 3 / 3 = 8 is one past 7, so it becomes 14 with multiple_of = 7."""
    assert A.llama_hidden_size(96) == 256
    assert A.llama_hidden_size(3, multiple_of=7) == 14
    assert A.llama_hidden_size(3, multiple_of=8) == 8


def test_step_fires_at_zero_in_numpy_and_torch():
    """The threshold unit fires at x = 0 (w.x >= T), in both the numpy f and the torch f of the depth chart."""
    act = A.ACTIVATIONS["step"]
    assert act.f(np.array([0.0, -1e-300, 1e-300])).tolist() == [1.0, 0.0, 1.0]
    assert act.torch_f(torch.tensor([0.0, -1e-300, 1e-300], dtype=torch.float64)).tolist() == [1.0, 0.0, 1.0]


def test_defaults_without_params_match_torch_defaults():
    """Called with no parameters, every f, f' and torch f uses the defaults torch uses
    (leaky slope 0.01, ELU alpha 1, SiLU/softplus beta 1); f' against autograd."""
    x = np.array([-3.0, -0.5, 0.7, 2.0])
    for name, act in A.ACTIVATIONS.items():
        ref = torch_reference(name, torch.from_numpy(x), **act.defaults()).numpy()
        np.testing.assert_allclose(act.f(x), ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(act.torch_f(torch.from_numpy(x)).numpy(), ref, rtol=1e-12, atol=1e-12)
        if name != "step":
            xt = torch.from_numpy(x).requires_grad_()
            (g,) = torch.autograd.grad(torch_reference(name, xt, **act.defaults()).sum(), xt)
            np.testing.assert_allclose(act.df(x), g.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "name, params", [("leaky_relu", {"slope": 0.2}), ("elu", {"alpha": 2.0}), ("relu", {})]
)
def test_derivative_at_the_kink_follows_autograd(name, params):
    """At x = 0 f' is a convention; ours is torch autograd's (the negative side: slope, alpha, 0),
    which is also what makes a ReLU unit with a = 0 count as dead."""
    act = A.ACTIVATIONS[name]
    xt = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(torch_reference(name, xt, **params).sum(), xt)
    assert act.df(np.zeros(1), **params)[0] == g.item()
    assert act.f(np.zeros(1), **params)[0] == 0.0


def test_erf_is_computed_in_float64():
    """erf in float64 whatever the input's precision (its docstring): against math.erf, to 1e-15."""
    z = np.linspace(-3, 3, 61, dtype=np.float32)
    np.testing.assert_allclose(A._erf(z), [math.erf(float(v)) for v in z], rtol=0, atol=1e-15)


def test_swiglu_passes_beta_to_the_gate():
    rng = np.random.default_rng(8)
    x, W, V = rng.normal(size=(3, 4)), rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    xt, Wt, Vt = (torch.from_numpy(a) for a in (x, W, V))
    ref = (F.silu(2.0 * (xt @ Wt)) / 2.0 * (xt @ Vt)).numpy()  # Swish_2(z) = silu(2 z) / 2
    np.testing.assert_allclose(A.swiglu(x, W, V, beta=2.0), ref, rtol=1e-12, atol=1e-12)
