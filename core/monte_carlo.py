"""Monte Carlo control on any finite MDP (P[s, a, s'], R[s, a]): MC Basic, MC
Exploring Starts and MC epsilon-greedy.

Model-free: the algorithms below only *sample* from P and R (as an agent
interacting with the environment would); they never solve with them. Episodes
are simulated vectorised: one numpy step advances every episode of a batch at
once, so the Python loop runs over time steps, never over states or episodes.

Every algorithm is policy iteration with the model-based evaluation step replaced
by an average of sampled returns (book Sec. 5.2.1):

    q_{pi_k}(s, a) = E[G_t | S_t = s, A_t = a]  ~=  mean of sampled returns g(s, a)
    pi_{k+1}       = greedy (or epsilon-greedy) w.r.t. the estimate

Iteration k generates a batch of episodes with pi_k, estimates q, and improves
the policy. Two ways to average the sampled returns (`averaging`):

- "batch": q(s, a) is the mean return of (s, a) in *this iteration's* episodes
  only; pairs the batch never visits keep their previous estimate. Each policy
  is evaluated afresh from its own data (as MC Basic, Algorithm 5.1, does).
- "running": the book's Algorithms 5.2 and 5.3. Totals Returns(s, a) and
  Num(s, a) are kept over *every episode since the start* and
  q(s, a) = Returns(s, a) / Num(s, a), so returns sampled under earlier
  policies stay in the average. With one episode per iteration this is the
  book's episode-by-episode update.

epsilon may change per iteration (`epsilon_schedule`): with eps_k -> 0 slowly
enough that every pair is still tried infinitely often (eps_k = eps_0 / k),
the policies become greedy in the limit (GLIE; Singh et al. 2000).

References:
    S. Zhao, "Mathematical Foundations of Reinforcement Learning", 2025, Chapter 5:
    - Sec. 5.2, Algorithm 5.1 (MC Basic: initial visit, episodes from every (s, a));
      Figure 5.4 (episode length and sparse rewards).
    - Sec. 5.3, Algorithm 5.2 (MC Exploring Starts: first-/every-visit, returns
      computed backwards g <- gamma g + r_{t+1}).
    - Sec. 5.4, Algorithm 5.3 (MC epsilon-greedy, eq. 5.5), Sec. 5.5 (exploration
      vs. exploitation, Figures 5.6-5.8).
    R. S. Sutton, A. G. Barto, "Reinforcement Learning: An Introduction", 2nd ed.,
    2018, Sec. 5.1 (first-visit vs. every-visit MC), Sec. 5.4 (GLIE).
    S. Singh, T. Jaakkola, M. L. Littman, C. Szepesvari, "Convergence Results for
    Single-Step On-Policy Reinforcement-Learning Algorithms", Machine Learning 38,
    2000 (greedy in the limit with infinite exploration, eps_k = c / k).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.mdp import epsilon_greedy_policy, greedy_policy


@dataclass
class Episodes:
    """A batch of N episodes of length T: s_t, a_t and r_{t+1} for t = 0..T-1."""

    states: np.ndarray  # (N, T) int
    actions: np.ndarray  # (N, T) int
    rewards: np.ndarray  # (N, T) float, rewards[:, t] = r_{t+1}


@dataclass
class MCHistory:
    """Everything, per iteration k = 0..K (row 0 is the initial state of the algorithm)."""

    Q: np.ndarray  # (K+1, S, A) action-value estimate after iteration k
    policy: np.ndarray  # (K+1, S, A) policy after iteration k (used to sample iteration k+1)
    V: np.ndarray  # (K+1, S) state-value estimate sum_a pi_k(a|s) Q_k(s, a)
    visits: np.ndarray  # (K+1, S, A) cumulative visit counts


@dataclass
class MCResult:
    Q: np.ndarray  # (S, A) final action-value estimate
    policy: np.ndarray  # (S, A) final (improved) policy
    V: np.ndarray  # (S,) estimated state values of the final policy
    visits: np.ndarray  # (S, A) how often each pair was visited, over all episodes
    history: MCHistory


ProgressFn = Callable[[float], None]


def _sample_categorical(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling: index of the first cdf entry >= u, row by row. cdf: (N, K), u: (N,)."""
    return np.minimum((u[:, None] > cdf).sum(axis=-1), cdf.shape[-1] - 1)


def simulate_episodes(
    P: np.ndarray,
    R: np.ndarray,
    policy: np.ndarray,
    start_states: np.ndarray,
    start_actions: np.ndarray | None,
    length: int,
    rng: np.random.Generator,
) -> Episodes:
    """Run N = len(start_states) episodes of `length` steps in parallel.

    s_0 = start_states; a_0 = start_actions (exploring starts) or a_0 ~ pi(.|s_0);
    then a_t ~ pi(.|s_t), r_{t+1} = r(s_t, a_t), s_{t+1} ~ p(.|s_t, a_t).
    Sampling is by inverse CDF on uniforms drawn up front, so the result depends
    only on the rng state, not on which code path ran.
    """
    N = len(start_states)
    S, A = R.shape
    deterministic = np.array_equal(P.max(-1), np.ones((S, A)))
    pi_cdf = np.cumsum(policy, axis=-1)  # (S, A)
    pi_cdf[:, -1] = np.inf  # guard against round-off: the last action always catches u < 1
    u_action = rng.random((N, length))  # all the randomness up front
    u_next = None if deterministic else rng.random((N, length))
    s0 = np.asarray(start_states, dtype=np.int64)
    a0 = None if start_actions is None else np.asarray(start_actions, dtype=np.int64)
    if deterministic and N <= _SCALAR_MAX_EPISODES:
        states, actions = _simulate_few(P.argmax(-1), pi_cdf, s0, a0, u_action)
    else:
        states, actions = _simulate_batch(P, pi_cdf, s0, a0, u_action, u_next, deterministic)
    rewards = R[states, actions]  # (N, T)  r_{t+1} = r(s_t, a_t)
    return Episodes(states, actions, rewards)


# Below this many episodes a plain loop over time steps beats numpy's per-call
# overhead by ~30x (one book-style episode of 10^5 steps: ~0.1 s instead of 3 s).
_SCALAR_MAX_EPISODES = 4


def _simulate_batch(
    P: np.ndarray,
    pi_cdf: np.ndarray,
    s0: np.ndarray,
    a0: np.ndarray | None,
    u_action: np.ndarray,
    u_next: np.ndarray | None,
    deterministic: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """One numpy step advances all N episodes."""
    N, T = u_action.shape
    A = pi_cdf.shape[1]
    next_flat = P.argmax(-1).ravel()  # (S*A,) next state of a deterministic move
    P_cdf = None if deterministic else np.cumsum(P, axis=-1)  # (S, A, S)
    uT = np.ascontiguousarray(u_action.T)  # (T, N): one contiguous row per step
    states = np.empty((T, N), dtype=np.int64)
    actions = np.empty((T, N), dtype=np.int64)
    s = s0
    for t in range(T):
        if t == 0 and a0 is not None:
            a = a0
        else:
            # a_t ~ pi(.|s_t): number of cdf entries below u (last cdf entry is +inf)
            a = (uT[t][:, None] > pi_cdf.take(s, axis=0)).sum(-1)
        states[t], actions[t] = s, a
        if deterministic:
            s = next_flat.take(s * A + a)
        else:
            s = _sample_categorical(P_cdf[s, a], u_next[:, t])  # s_{t+1} ~ p(.|s_t, a_t)
    return states.T, actions.T


def _simulate_few(
    next_table: np.ndarray, pi_cdf: np.ndarray, s0: np.ndarray, a0: np.ndarray | None, u_action: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Same sampling rule as _simulate_batch for a handful of deterministic-model episodes."""
    from bisect import bisect_left

    N, T = u_action.shape
    nxt = next_table.tolist()
    cdf = pi_cdf.tolist()
    states = np.empty((N, T), dtype=np.int64)
    actions = np.empty((N, T), dtype=np.int64)
    for n in range(N):
        u = u_action[n].tolist()
        s_list, a_list = [0] * T, [0] * T
        s = int(s0[n])
        for t in range(T):
            # first action whose cdf >= u (ties to the lower index, as in _sample_categorical)
            a = int(a0[n]) if (t == 0 and a0 is not None) else bisect_left(cdf[s], u[t])
            s_list[t], a_list[t] = s, a
            s = nxt[s][a]
        states[n], actions[n] = s_list, a_list
    return states, actions


def discounted_returns(rewards: np.ndarray, gamma: float, block: int | None = None) -> np.ndarray:
    """G_t = r_{t+1} + gamma G_{t+1}, G_T = 0, for every t of every episode. (N, T) -> (N, T).

    Book Algorithm 5.2 computes this backwards (g <- gamma g + r_{t+1}). Here the
    backward pass runs over blocks of `block` steps; inside a block
    G_j = (sum_{k>=j} gamma^k r_k) / gamma^j + gamma^(B-j) g_after_block,
    a reversed cumulative sum, so long episodes cost T/B numpy calls, not T.
    block=None picks the largest block (at most 512) whose gamma^B stays far from
    underflow; a block passed in is used as it is (ValueError if gamma^block
    would underflow the division by gamma^j).
    """
    N, T = rewards.shape
    G = np.empty((N, T), dtype=float)
    if gamma < 1e-6:  # gamma^j would underflow: G_t = r_{t+1} (+ negligible)
        G[:] = rewards
        if gamma > 0:
            for t in range(T - 2, -1, -1):
                G[:, t] += gamma * G[:, t + 1]
        return G
    if block is None:
        # largest block whose gamma^B stays far from underflow (gamma^B > 1e-200)
        block = int(min(512, max(32, 200 / -np.log10(gamma)))) if gamma < 1 else 512
    elif block < 1 or gamma ** (block - 1) < 1e-250:
        raise ValueError(f"block {block} is not usable with gamma {gamma}")
    g = np.zeros(N)  # return just after the current block
    for end in range(T, 0, -block):
        start = max(0, end - block)
        B = end - start
        w = gamma ** np.arange(B)  # (B,) gamma^j
        rw = rewards[:, start:end] * w  # (N, B) gamma^k r_k
        tail = np.cumsum(rw[:, ::-1], axis=1)[:, ::-1]  # (N, B) sum_{k>=j} gamma^k r_k
        # G_j = tail_j / gamma^j + gamma^(B-j) g
        G[:, start:end] = tail / w + (gamma ** (B - np.arange(B)))[None, :] * g[:, None]
        g = G[:, start]
    return G


def visit_mask(episodes: Episodes, num_actions: int, first_visit: bool) -> np.ndarray:
    """(N, T) bool: which visits are used. Every-visit uses all of them; first-visit
    only the first occurrence of each (s, a) within its episode."""
    N, T = episodes.states.shape
    if not first_visit:
        return np.ones((N, T), dtype=bool)
    S_A = int(episodes.states.max(initial=0) + 1) * num_actions
    pair = episodes.states * num_actions + episodes.actions  # (N, T)
    key = (np.arange(N)[:, None] * S_A + pair).ravel()  # unique per (episode, pair)
    _, first = np.unique(key, return_index=True)  # row-major: earliest t in each episode
    mask = np.zeros(N * T, dtype=bool)
    mask[first] = True
    return mask.reshape(N, T)


def returns_per_pair(
    episodes: Episodes, gamma: float, num_states: int, num_actions: int, first_visit: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of sampled returns and number of samples for every (s, a): both (S, A)."""
    G = discounted_returns(episodes.rewards, gamma)  # (N, T)
    mask = visit_mask(episodes, num_actions, first_visit)  # (N, T)
    pair = (episodes.states * num_actions + episodes.actions)[mask]
    size = num_states * num_actions
    sums = np.bincount(pair, weights=G[mask], minlength=size).reshape(num_states, num_actions)
    counts = np.bincount(pair, minlength=size).reshape(num_states, num_actions)
    return sums, counts


def mc_policy_evaluation(
    P: np.ndarray,
    R: np.ndarray,
    policy: np.ndarray,
    gamma: float,
    episode_length: int,
    num_episodes: int,
    rng: np.random.Generator,
    first_visit: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """MC estimate of q_pi from `num_episodes` episodes started at uniformly random
    states (a_0 ~ pi). Returns (Q estimate (S, A), sample counts (S, A)); pairs
    with no sample are NaN."""
    S, A = R.shape
    starts = rng.integers(0, S, size=num_episodes)
    ep = simulate_episodes(P, R, policy, starts, None, episode_length, rng)
    sums, counts = returns_per_pair(ep, gamma, S, A, first_visit)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts, counts


SCHEDULES: tuple[str, ...] = ("constant", "harmonic", "linear")


def epsilon_schedule(kind: str, epsilon: float, iterations: int) -> np.ndarray:
    """eps_k for the improvement of iterations k = 1..K.

    constant: eps_k = eps;  harmonic: eps_k = eps / k (GLIE: -> 0, yet sum_k eps_k = inf,
    so every pair keeps being tried);  linear: eps_k = eps (1 - k / K), greedy at k = K.
    """
    k = np.arange(1, iterations + 1, dtype=float)
    if kind == "constant":
        return np.full(iterations, float(epsilon))
    if kind == "harmonic":
        return float(epsilon) / k
    if kind == "linear":
        return float(epsilon) * (1.0 - k / iterations)
    raise ValueError(f"unknown schedule {kind!r}; expected one of {SCHEDULES}")


def _improve(Q: np.ndarray, epsilon: float) -> np.ndarray:
    return greedy_policy(Q) if epsilon == 0.0 else epsilon_greedy_policy(Q, epsilon)


def _run(
    P: np.ndarray,
    R: np.ndarray,
    gamma: float,
    *,
    epsilon: float | np.ndarray,
    episode_length: int,
    iterations: int,
    make_starts: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray | None]],
    first_visit: bool,
    initial_visit_only: bool,
    rng: np.random.Generator,
    initial_policy: np.ndarray | None,
    progress: ProgressFn | None,
    averaging: str = "batch",
) -> MCResult:
    """The loop shared by the three algorithms: sample a batch with pi_k, estimate q, improve.

    epsilon: one value, or eps_k per iteration (length `iterations`).
    averaging: "batch" (this iteration's returns) or "running" (Returns/Num over all episodes).
    """
    S, A = R.shape
    if episode_length < 1 or iterations < 0:
        raise ValueError("episode_length must be >= 1 and iterations >= 0")
    if averaging not in ("batch", "running"):
        raise ValueError(f"averaging must be 'batch' or 'running', got {averaging!r}")
    eps = np.broadcast_to(np.asarray(epsilon, dtype=float), (iterations,))
    Q = np.zeros((S, A))
    returns_total = np.zeros((S, A))  # Returns(s, a) over every episode so far
    num_total = np.zeros((S, A))  # Num(s, a)
    # pi_0: uniform (book Figure 5.5(a)) unless given
    policy = np.full((S, A), 1.0 / A) if initial_policy is None else np.asarray(initial_policy, dtype=float)
    visits = np.zeros((S, A), dtype=np.int64)
    hist_Q, hist_pi, hist_V, hist_n = [Q], [policy], [(policy * Q).sum(-1)], [visits]
    for k in range(iterations):
        starts, first_actions = make_starts(rng)
        ep = simulate_episodes(P, R, policy, starts, first_actions, episode_length, rng)
        # every visit counts for the heat map, whatever the estimator uses
        visits = visits + np.bincount((ep.states * A + ep.actions).ravel(), minlength=S * A).reshape(S, A)
        if initial_visit_only:
            # MC Basic: an episode only estimates the pair it starts from: g = G_0
            G0 = discounted_returns(ep.rewards, gamma)[:, 0]
            pair0 = ep.states[:, 0] * A + ep.actions[:, 0]
            sums = np.bincount(pair0, weights=G0, minlength=S * A).reshape(S, A)
            counts = np.bincount(pair0, minlength=S * A).reshape(S, A)
        else:
            sums, counts = returns_per_pair(ep, gamma, S, A, first_visit)
        if averaging == "running":
            # book Algorithms 5.2 / 5.3: Returns(s,a) += g, Num(s,a) += 1 for every used visit
            returns_total += sums
            num_total += counts
            sums, counts = returns_total, num_total
        # policy evaluation: q(s, a) = mean of the sampled returns of (s, a)
        seen = counts > 0
        Q = Q.copy()
        Q[seen] = sums[seen] / counts[seen]
        # policy improvement: greedy (eq. 5.4) or epsilon-greedy (eq. 5.5) with eps_k
        policy = _improve(Q, float(eps[k]))
        hist_Q.append(Q)
        hist_pi.append(policy)
        # v(s) = sum_a pi(a|s) q(s, a)
        hist_V.append((policy * Q).sum(-1))
        hist_n.append(visits)
        if progress is not None:
            progress((k + 1) / iterations)
    history = MCHistory(np.stack(hist_Q), np.stack(hist_pi), np.stack(hist_V), np.stack(hist_n))
    return MCResult(Q, policy, hist_V[-1], visits, history)


def mc_basic(
    P: np.ndarray,
    R: np.ndarray,
    gamma: float,
    episode_length: int,
    iterations: int,
    rng: np.random.Generator,
    episodes_per_pair: int = 1,
    initial_policy: np.ndarray | None = None,
    progress: ProgressFn | None = None,
    averaging: str = "batch",
) -> MCResult:
    """MC Basic (book Algorithm 5.1): every iteration runs `episodes_per_pair`
    episodes from every (s, a), estimates q(s, a) as the mean return of the
    episodes that *start* at (s, a) (initial visit), then acts greedily."""
    S, A = R.shape
    pairs = np.arange(S * A).repeat(episodes_per_pair)

    def make_starts(_rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return pairs // A, pairs % A

    return _run(
        P,
        R,
        gamma,
        epsilon=0.0,
        episode_length=episode_length,
        iterations=iterations,
        make_starts=make_starts,
        first_visit=True,
        initial_visit_only=True,
        rng=rng,
        initial_policy=initial_policy,
        progress=progress,
        averaging=averaging,
    )


def mc_exploring_starts(
    P: np.ndarray,
    R: np.ndarray,
    gamma: float,
    episode_length: int,
    episodes_per_iteration: int,
    iterations: int,
    rng: np.random.Generator,
    first_visit: bool = True,
    initial_policy: np.ndarray | None = None,
    progress: ProgressFn | None = None,
    averaging: str = "batch",
) -> MCResult:
    """MC Exploring Starts (book Algorithm 5.2): episodes start at (s_0, a_0) chosen so
    that every pair can be chosen (all pairs in turn, then uniformly at random),
    every visit (or first visit) of the episode updates q, then greedy improvement."""
    S, A = R.shape
    n = episodes_per_iteration

    def make_starts(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        # as many full sweeps over all S*A pairs as fit, the rest without replacement
        full, rest = divmod(n, S * A)
        pairs = np.concatenate([np.tile(np.arange(S * A), full), rng.permutation(S * A)[:rest]])
        return pairs // A, pairs % A

    return _run(
        P,
        R,
        gamma,
        epsilon=0.0,
        episode_length=episode_length,
        iterations=iterations,
        make_starts=make_starts,
        first_visit=first_visit,
        initial_visit_only=False,
        rng=rng,
        initial_policy=initial_policy,
        progress=progress,
        averaging=averaging,
    )


def mc_epsilon_greedy(
    P: np.ndarray,
    R: np.ndarray,
    gamma: float,
    epsilon: float | np.ndarray,
    episode_length: int,
    episodes_per_iteration: int,
    iterations: int,
    rng: np.random.Generator,
    first_visit: bool = False,
    initial_policy: np.ndarray | None = None,
    progress: ProgressFn | None = None,
    averaging: str = "batch",
) -> MCResult:
    """MC epsilon-greedy (book Algorithm 5.3): no exploring starts (s_0 uniformly at
    random, a_0 ~ pi), every-visit by default, epsilon-greedy improvement
    pi(a|s) = 1 - eps (|A|-1)/|A| for the greedy action and eps/|A| otherwise.
    epsilon = 0 gives a greedy policy that explores nothing beyond its own path.
    epsilon may be an array eps_k, one per iteration (see `epsilon_schedule`)."""
    S, _ = R.shape
    n = episodes_per_iteration

    def make_starts(rng: np.random.Generator) -> tuple[np.ndarray, None]:
        return rng.integers(0, S, size=n), None

    return _run(
        P,
        R,
        gamma,
        epsilon=epsilon,
        episode_length=episode_length,
        iterations=iterations,
        make_starts=make_starts,
        first_visit=first_visit,
        initial_visit_only=False,
        rng=rng,
        initial_policy=initial_policy,
        progress=progress,
        averaging=averaging,
    )


def running_sample_mean(
    values: np.ndarray, probs: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[float, np.ndarray]:
    """Mean estimation, the idea behind every MC method (book Sec. 5.1).

    With the model (the distribution p) the mean is E[X] = sum_x p(x) x; without it,
    draw x_1..x_n ~ p and average: xbar_k = (1/k) sum_{i<=k} x_i, k = 1..n.
    Returns (E[X], the running sample means (n,)).
    """
    x = np.asarray(values, dtype=float)
    p = np.asarray(probs, dtype=float)
    draws = x[rng.choice(len(x), size=n, p=p)]
    return float(p @ x), np.cumsum(draws) / np.arange(1, n + 1)
