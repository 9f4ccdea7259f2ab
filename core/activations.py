"""Activation functions, their derivatives, gated feed-forward layers, and
how well a gradient survives a trip through a deep stack of them.

The story told by the page: Rosenblatt's threshold unit (1957) has no useful
gradient; sigmoid and tanh are smooth but saturate, so a gradient shrinks
through every layer; ReLU (2010-2012) keeps a gradient of 1 for positive
inputs but can die; GELU (2016) and Swish / SiLU (2017) are smooth, slightly
non-monotone ReLUs; SwiGLU (2020) multiplies a Swish gate into a linear path
and is the feed-forward layer of LLaMA, PaLM and most current LLMs.

Every entry of `ACTIVATIONS` has the function `f(x, **params)` and its
analytic derivative `df(x, **params)` on numpy arrays (float64), plus the same
function in torch (`torch_f`) used to build deep networks for
`gradient_through_depth`.

References:
    F. Rosenblatt, "The perceptron: a probabilistic model for information
        storage and organization in the brain", Psychological Review 65(6),
        1958 (threshold unit; the Mark I hardware is from 1957).
    X. Glorot, Y. Bengio, "Understanding the difficulty of training deep
        feedforward neural networks", AISTATS 2010, sec. 4.2 (sigmoid
        saturation) and eq. 16 (normalised "Xavier" initialisation).
    V. Nair, G. Hinton, "Rectified linear units improve restricted Boltzmann
        machines", ICML 2010 (ReLU).
    A. Maas, A. Hannun, A. Ng, "Rectifier nonlinearities improve neural
        network acoustic models", ICML 2013 workshop (leaky ReLU).
    K. He, X. Zhang, S. Ren, J. Sun, "Delving deep into rectifiers",
        ICCV 2015, sec. 2.2, eq. 10 (He initialisation, Var[w] = 2 / fan_in).
    D.-A. Clevert, T. Unterthiner, S. Hochreiter, "Fast and accurate deep
        network learning by exponential linear units (ELUs)", ICLR 2016, eq. 1.
    D. Hendrycks, K. Gimpel, "Gaussian error linear units (GELUs)",
        arXiv:1606.08415, sec. 2 (GELU = x * Phi(x), and the tanh
        approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))).
    P. Ramachandran, B. Zoph, Q. Le, "Searching for activation functions",
        arXiv:1710.05941, eq. 1 (Swish, x * sigmoid(beta x)); S. Elfwing,
        E. Uchibe, K. Doya, Neural Networks 107, 2018 (SiLU, beta = 1).
    D. Misra, "Mish: a self regularized non-monotonic activation function",
        BMVC 2020, eq. 1 (x * tanh(softplus(x))).
    N. Shazeer, "GLU variants improve Transformer", arXiv:2002.05202, eq. 5-6
        (SwiGLU(x, W, V) = Swish(xW) * xV; hidden size scaled by 2/3 to keep
        the parameter count of the 4d feed-forward layer).
    H. Touvron et al., "LLaMA: open and efficient foundation language
        models", arXiv:2302.13971, sec. 2.2 (SwiGLU with hidden size 2/3 * 4d);
        the released code rounds it up to a multiple of 256, which gives the
        published 11008 for d = 4096 (LLaMA-7B), 13824 for d = 5120 (13B),
        17920 for d = 6656 (33B) and 22016 for d = 8192 (65B).
    D. Rumelhart, G. Hinton, R. Williams, "Learning representations by
        back-propagating errors", Nature 323, 1986 (sigmoid units + backprop).
    Y. LeCun, L. Bottou, G. Orr, K.-R. Mueller, "Efficient BackProp", in
        Neural Networks: Tricks of the Trade, 1998, sec. 4.4 (prefer tanh).
    C. Dugas et al., "Incorporating second-order functional knowledge for
        better option pricing", NIPS 2001 (softplus).
    I. Goodfellow, Y. Bengio, A. Courville, "Deep Learning", MIT Press 2016,
        sec. 6.3 (hidden units) and sec. 8.2.5 (exploding / vanishing gradients).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from core.threads import one_thread

Array = np.ndarray


def _erf(x: Array) -> Array:
    """erf, elementwise: numpy has none, so torch's float64 erf (a Python loop over libm was 50x slower)."""
    return torch.erf(torch.as_tensor(np.asarray(x, dtype=np.float64))).numpy()


SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_TANH_C = 0.044715


@dataclass(frozen=True)
class Param:
    """A tunable parameter of an activation: default and slider range."""

    default: float
    low: float
    high: float
    step: float


@dataclass(frozen=True)
class Activation:
    """One activation: numpy f and f', the torch f, and where it sits in history.

    `kinks` lists the x where f' is undefined (or jumps); tests stay away from them.
    """

    name: str
    f: Callable[..., Array]
    df: Callable[..., Array]
    torch_f: Callable[..., torch.Tensor]
    year: int
    params: dict[str, Param] = field(default_factory=dict)
    kinks: tuple[float, ...] = ()
    relu_like: bool = False  # exactly zero gradient on a half-line: units can die

    def defaults(self) -> dict[str, float]:
        return {k: p.default for k, p in self.params.items()}


def _sigmoid(x: Array) -> Array:
    # sigma(x) = 1 / (1 + e^{-x}), written as 0.5 (1 + tanh(x / 2)) so it never overflows
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softplus(x: Array, beta: float = 1.0) -> Array:
    # softplus_beta(x) = log(1 + e^{beta x}) / beta, with logaddexp for stability
    return np.logaddexp(0.0, beta * x) / beta


def _Phi(x: Array) -> Array:
    # standard normal CDF: Phi(x) = (1 + erf(x / sqrt 2)) / 2
    return 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))


def _phi(x: Array) -> Array:
    # standard normal density: phi(x) = e^{-x^2/2} / sqrt(2 pi)
    return np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


# ---- f and f' for each activation (x: numpy array, any shape) ----


def step(x: Array) -> Array:
    # Heaviside threshold unit: 1 if x >= 0 else 0
    return (x >= 0).astype(float)


def d_step(x: Array) -> Array:
    # zero everywhere except x = 0, where it is undefined: nothing to learn from
    return np.zeros_like(x, dtype=float)


def sigmoid(x: Array) -> Array:
    return _sigmoid(x)


def d_sigmoid(x: Array) -> Array:
    # sigma'(x) = sigma(x) (1 - sigma(x)) <= 1/4
    s = _sigmoid(x)
    return s * (1.0 - s)


def tanh(x: Array) -> Array:
    return np.tanh(x)


def d_tanh(x: Array) -> Array:
    # tanh'(x) = 1 - tanh(x)^2 <= 1
    return 1.0 - np.tanh(x) ** 2


def relu(x: Array) -> Array:
    return np.maximum(x, 0.0)


def d_relu(x: Array) -> Array:
    return (x > 0).astype(float)


def leaky_relu(x: Array, slope: float = 0.01) -> Array:
    # max(x, 0) + slope * min(x, 0)
    return np.where(x > 0, x, slope * x)


def d_leaky_relu(x: Array, slope: float = 0.01) -> Array:
    return np.where(x > 0, 1.0, slope)


def elu(x: Array, alpha: float = 1.0) -> Array:
    # ELU: x for x > 0, alpha (e^x - 1) otherwise (Clevert et al. eq. 1)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def d_elu(x: Array, alpha: float = 1.0) -> Array:
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))


def gelu(x: Array) -> Array:
    # GELU(x) = x Phi(x)  (Hendrycks & Gimpel sec. 2)
    return x * _Phi(x)


def d_gelu(x: Array) -> Array:
    # d/dx [x Phi(x)] = Phi(x) + x phi(x)
    return _Phi(x) + x * _phi(x)


def gelu_tanh(x: Array) -> Array:
    # GELU(x) ~ 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
    u = SQRT_2_OVER_PI * (x + GELU_TANH_C * x**3)
    return 0.5 * x * (1.0 + np.tanh(u))


def d_gelu_tanh(x: Array) -> Array:
    # 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du/dx,  du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
    th = np.tanh(SQRT_2_OVER_PI * (x + GELU_TANH_C * x**3))
    du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_C * x**2)
    return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th**2) * du


def silu(x: Array, beta: float = 1.0) -> Array:
    # Swish_beta(x) = x sigma(beta x); beta = 1 is SiLU, beta -> inf is ReLU
    return x * _sigmoid(beta * x)


def d_silu(x: Array, beta: float = 1.0) -> Array:
    # d/dx = sigma(beta x) + beta x sigma(beta x) (1 - sigma(beta x))
    s = _sigmoid(beta * x)
    return s + beta * x * s * (1.0 - s)


def mish(x: Array) -> Array:
    # Mish(x) = x tanh(softplus(x))
    return x * np.tanh(_softplus(x))


def d_mish(x: Array) -> Array:
    # d/dx = tanh(sp) + x (1 - tanh^2(sp)) sigma(x),  sp = softplus(x), sp' = sigma
    th = np.tanh(_softplus(x))
    return th + x * (1.0 - th**2) * _sigmoid(x)


def softplus(x: Array, beta: float = 1.0) -> Array:
    return _softplus(x, beta)


def d_softplus(x: Array, beta: float = 1.0) -> Array:
    # d/dx log(1 + e^{beta x}) / beta = sigma(beta x)
    return _sigmoid(beta * x)


# ---- the same functions in torch, for deep networks with autograd ----


def _t_step(x: torch.Tensor) -> torch.Tensor:
    # comparison has no gradient: exactly what the threshold unit gives backprop
    return (x >= 0).to(x.dtype)


def _t_silu(x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    return x * torch.sigmoid(beta * x)


F = torch.nn.functional

ACTIVATIONS: dict[str, Activation] = {
    "step": Activation("step", step, d_step, _t_step, 1957, kinks=(0.0,), relu_like=True),
    "sigmoid": Activation("sigmoid", sigmoid, d_sigmoid, torch.sigmoid, 1986),
    "tanh": Activation("tanh", tanh, d_tanh, torch.tanh, 1998),
    "relu": Activation("relu", relu, d_relu, F.relu, 2010, kinks=(0.0,), relu_like=True),
    "leaky_relu": Activation(
        "leaky_relu",
        leaky_relu,
        d_leaky_relu,
        lambda x, slope=0.01: F.leaky_relu(x, negative_slope=slope),
        2013,
        params={"slope": Param(0.01, 0.0, 0.5, 0.01)},
        kinks=(0.0,),
    ),
    "elu": Activation(
        "elu",
        elu,
        d_elu,
        lambda x, alpha=1.0: F.elu(x, alpha=alpha),
        2015,
        params={"alpha": Param(1.0, 0.0, 3.0, 0.1)},
        kinks=(0.0,),
    ),
    "gelu": Activation("gelu", gelu, d_gelu, lambda x: F.gelu(x, approximate="none"), 2016),
    "gelu_tanh": Activation(
        "gelu_tanh", gelu_tanh, d_gelu_tanh, lambda x: F.gelu(x, approximate="tanh"), 2016
    ),
    "silu": Activation("silu", silu, d_silu, _t_silu, 2017, params={"beta": Param(1.0, 0.1, 10.0, 0.1)}),
    "mish": Activation("mish", mish, d_mish, F.mish, 2019),
    "softplus": Activation(
        "softplus",
        softplus,
        d_softplus,
        lambda x, beta=1.0: F.softplus(x, beta=beta),
        2001,
        params={"beta": Param(1.0, 0.1, 10.0, 0.1)},
    ),
}


# ---- SwiGLU and the LLaMA hidden-size rule ----


def swiglu(x: Array, W: Array, V: Array, beta: float = 1.0) -> Array:
    """SwiGLU(x, W, V) = Swish_beta(x W) * (x V)   (Shazeer 2020, eq. 5-6).

    x: (..., d), W and V: (d, h)  ->  (..., h). The output projection W2
    (h -> d) of the full feed-forward layer is left to the caller.
    """
    gate = silu(x @ W, beta)  # (..., h) the Swish gate
    linear = x @ V  # (..., h) the linear path it scales
    return gate * linear


def llama_hidden_size(dim: int, multiple_of: int = 256) -> int:
    """Hidden size of LLaMA's SwiGLU feed-forward layer for model width `dim`.

    Start from the classic 4d, take 2/3 of it (three matrices instead of two
    keep the parameter count), and round up to a multiple of `multiple_of`.
    """
    hidden = int(2 * (4 * dim) / 3)
    # round up to the next multiple: m * ceil(hidden / m)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


def ffn_param_counts(dim: int, multiple_of: int = 256) -> dict[str, int]:
    """Weights of a classic 4d feed-forward layer vs. LLaMA's SwiGLU one (no biases).

    classic: W1 (d x 4d) + W2 (4d x d)       = 8 d^2
    SwiGLU:  W, V (d x h) + W2 (h x d)        = 3 d h,  h ~ 8d/3  ->  ~ 8 d^2
    """
    h = llama_hidden_size(dim, multiple_of)
    return {
        "classic_hidden": 4 * dim,
        "classic": 2 * dim * 4 * dim,
        "swiglu_hidden": h,
        "swiglu": 3 * dim * h,
        "swiglu_unscaled": 3 * dim * 4 * dim,  # SwiGLU without the 2/3: 12 d^2
    }


# ---- gradients through depth ----

INITS: tuple[str, ...] = ("he", "xavier", "small")


@dataclass(frozen=True)
class DepthResult:
    """Per-layer statistics of one deep MLP at initialisation, layer 1 = nearest the input.

    grad_norm:   ||dL/dW_l||_F, the gradient the optimiser would apply to layer l.   (depth,)
    act_std:     standard deviation of the layer's output h_l over batch and units.   (depth,)
    dead_frac:   fraction of units with f'(a) = 0 on every input of the batch
                 (only non-zero for ReLU-like activations).                           (depth,)
    """

    grad_norm: Array
    act_std: Array
    dead_frac: Array

    @property
    def grad_rel(self) -> Array:
        """||dL/dW_l|| / ||dL/dW_depth||: how much of the top layer's gradient reaches layer l."""
        top = self.grad_norm[-1]
        return self.grad_norm / top if top > 0 else np.zeros_like(self.grad_norm)


def _init_std(init: str, fan_in: int, fan_out: int) -> float:
    if init == "he":
        # He et al. eq. 10: Var[w] = 2 / fan_in
        return math.sqrt(2.0 / fan_in)
    if init == "xavier":
        # Glorot & Bengio eq. 16 (normal form): Var[w] = 2 / (fan_in + fan_out)
        return math.sqrt(2.0 / (fan_in + fan_out))
    if init == "small":
        # the naive N(0, 0.01^2) that makes every activation vanish
        return 0.01
    raise ValueError(f"unknown init {init!r}; expected one of {INITS}")


def gradient_through_depth(
    name: str,
    depth: int,
    width: int,
    init: str,
    seed: int,
    *,
    batch: int = 128,
    params: dict[str, float] | None = None,
) -> DepthResult:
    """Gradient norm reaching each layer of a `depth`-layer MLP of activation `name`.

    Network: h_0 = x ~ N(0, I), a_l = h_{l-1} W_l (no bias), h_l = f(a_l), l = 1..depth,
    all layers `width` wide. The loss L = mean_n <h_depth[n], g> with a fixed random
    direction g ~ N(0, I) sends a unit-scale signal down from the top, so the
    chart shows what the stack of f' and W does to it, not the output scale.
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}")
    if depth < 1 or width < 1:
        raise ValueError("depth and width must be positive")
    act = ACTIVATIONS[name]
    kw = {**act.defaults(), **(params or {})}
    # tiny tensors: one torch thread for all of it (core.threads); a block, not a decorator: mutmut 3
    # skips decorated functions
    with one_thread():
        gen = torch.Generator().manual_seed(seed)
        std = _init_std(init, width, width)
        # 1. weights W_l ~ N(0, std^2), all layers drawn at once: (depth, width, width)
        Ws = (torch.randn(depth, width, width, generator=gen, dtype=torch.float64) * std).requires_grad_()
        x = torch.randn(batch, width, generator=gen, dtype=torch.float64)  # (B, width)
        g = torch.randn(width, generator=gen, dtype=torch.float64)  # (width,)
        # 2. forward, keeping every pre-activation a_l and output h_l
        # unbind, not Ws[layer]: the backward of an index scatters each layer's gradient into a full
        # (depth, width, width) zero tensor (quadratic in depth); unbind's stacks them once
        W = Ws.unbind(0)
        h = x
        pre, outs = [], []
        for layer in range(depth):
            a = h @ W[layer]  # (B, width)
            h = act.torch_f(a, **kw)
            pre.append(a)
            outs.append(h)
        # 3. L = mean_n <h_L[n], g>; backward fills dL/dW_l for every layer
        loss = (h @ g).mean()
        if loss.requires_grad:
            loss.backward()
            grad = Ws.grad
        else:  # the step function: no path back at all
            grad = torch.zeros_like(Ws)
        grad_norm = grad.flatten(1).norm(dim=1).numpy()  # (depth,)
        act_std = torch.stack([o.detach().std() for o in outs]).numpy()
        # a unit is dead when f'(a) = 0 for every input in the batch
        A = torch.stack([a.detach() for a in pre]).numpy()  # (depth, B, width)
        dfa = act.df(A, **kw)
        dead = np.all(dfa == 0.0, axis=1).mean(axis=1)  # (depth,)
        return DepthResult(grad_norm=grad_norm, act_std=act_std, dead_frac=dead)
