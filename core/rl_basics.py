"""The first RL lecture in arrays: policies, slip transitions, trajectories, returns.

Everything runs on a finite MDP stored as in `core.mdp`: P[s, a, s'] = p(s'|s, a),
R[s, a] = r(s, a) (or R[s, a, s'] = r(s, a, s') when the reward depends on where
the agent lands), and a policy as an (S, A) array pi[s, a] = pi(a|s).

- `rollout` samples one trajectory s_0, a_0, r_1, s_1, a_1, r_2, ... by the loop
  a_t ~ pi(.|s_t), s_{t+1} ~ p(.|s_t, a_t), r_{t+1} = r(s_t, a_t[, s_{t+1}]);
  with `terminal` states the episode ends on entering one (an episodic task),
  otherwise it runs `steps` steps (the book's continuing convention).
- `discounted_return` is the plain sum sum_t gamma^t r_{t+1}.
- `slip_model` turns the book's deterministic grid moves into stochastic ones:
  a move goes where intended with probability 1 - p and, with probability p,
  one of the three other moves (p/3 each). Standing still never slips. With
  this rule the reward of a step is a function of (s, a, s'): two different
  moves never land in the same cell unless both bounce off the wall (and then
  both earn r_boundary), so R[s, a, s'] is exact, not an average.
- `absorbing` makes terminal states absorbing with reward 0 (book Sec. 1.6's
  first way of treating an episodic task as a continuing one), so that the
  exact policy evaluation of `core.mdp` gives the value of the episodic task.
- `sample_returns` draws many episodes at once (vectorised over episodes) and
  returns each one's discounted return: their mean estimates v_pi(s_0).

References:
    S. Zhao, "Mathematical Foundations of Reinforcement Learning", 2025:
    - Sec. 1.1-1.5: grid world, states, actions, state transition p(s'|s, a)
      (a random gust may blow the agent off course: p(s_5|s_1, a_2) > 0), policies
      pi(a|s) as arrows and tables (Table 1.2), rewards.
    - Sec. 1.6: trajectories, return 0 + 0 + 0 + 1 = 1 (eq. 1.1), discounted return
      0 + gamma 0 + gamma^2 0 + gamma^3 1 + gamma^4 1 + ... = gamma^3 / (1 - gamma)
      (eq. 1.3), episodes, episodic vs continuing tasks, absorbing states.
    - Sec. 1.7: the Markov property p(s_{t+1}|s_t, a_t, ..., s_0, a_0) = p(s_{t+1}|s_t, a_t).
    - Sec. 2.3: the state value v_pi(s) = E[G_t | S_t = s].
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

STAY = 4  # index of "stay" in core.gridworld.ACTIONS


def _terminal_mask(S: int, terminal: Iterable[int] | np.ndarray | None) -> np.ndarray:
    mask = np.zeros(S, dtype=bool)
    if terminal is not None:
        mask[np.asarray(list(terminal) if not isinstance(terminal, np.ndarray) else terminal, dtype=int)] = (
            True
        )
    return mask


def check_policy(policy: np.ndarray, atol: float = 1e-9) -> None:
    """Raise ValueError unless every row of the (S, A) policy is a probability distribution."""
    if policy.ndim != 2 or np.any(policy < -atol) or not np.allclose(policy.sum(1), 1.0, atol=atol):
        raise ValueError("every row pi(.|s) must be a probability distribution")


def rollout(
    P: np.ndarray,
    R: np.ndarray,
    policy: np.ndarray,
    start: int,
    steps: int,
    rng: np.random.Generator,
    terminal: Iterable[int] | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One trajectory of at most `steps` steps from s_0 = start.

    For t = 0, 1, ...:  a_t ~ pi(.|s_t),  s_{t+1} ~ p(.|s_t, a_t),
    r_{t+1} = R[s_t, a_t] (R of shape (S, A)) or R[s_t, a_t, s_{t+1}] (shape (S, A, S)).
    The episode stops after entering a `terminal` state (that step and its reward
    are recorded), or after `steps` steps. A start in a terminal state is an
    episode of length 0.

    Randomness: two uniforms per step, u = rng.random((steps, 2)), drawn up front;
    a_t is the first action whose cumulative probability reaches u[t, 0], s_{t+1}
    the first next state whose cumulative probability reaches u[t, 1].

    Returns (states, actions, rewards) with lengths n + 1, n, n: states[t] = s_t
    (the last one is where the trajectory ends), actions[t] = a_t, rewards[t] = r_{t+1}.
    """
    S, A = policy.shape
    done = _terminal_mask(S, terminal)
    u = rng.random((steps, 2))
    pi_cdf = np.cumsum(policy, axis=1).tolist()
    P_cdf = np.cumsum(P, axis=2)
    states, actions, rewards = [int(start)], [], []
    s = int(start)
    for t in range(steps):
        if done[s]:
            break
        # a_t ~ pi(.|s_t) by inverse CDF (the last action catches round-off)
        a = min(int(np.searchsorted(pi_cdf[s], u[t, 0], side="left")), A - 1)
        # s_{t+1} ~ p(.|s_t, a_t)
        s2 = min(int(np.searchsorted(P_cdf[s, a], u[t, 1], side="left")), S - 1)
        r = R[s, a, s2] if R.ndim == 3 else R[s, a]
        actions.append(a)
        rewards.append(float(r))
        states.append(s2)
        s = s2
    return np.array(states, dtype=int), np.array(actions, dtype=int), np.array(rewards, dtype=float)


def discounted_return(rewards: np.ndarray, gamma: float) -> float:
    """G_0 = sum_{t=0}^{n-1} gamma^t r_{t+1} (book eq. 1.3); gamma = 1 gives the plain return."""
    r = np.asarray(rewards, dtype=float)
    return float(np.sum(gamma ** np.arange(len(r)) * r))


def return_terms(rewards: np.ndarray, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """The terms gamma^t r_{t+1} and their running sums (the return after each step)."""
    terms = gamma ** np.arange(len(rewards)) * np.asarray(rewards, dtype=float)
    return terms, np.cumsum(terms)


def slip_matrix(num_actions: int, slip: float, stay: int = STAY) -> np.ndarray:
    """T[a, m]: probability that intended action a is executed as move m.

    A move (a != stay) goes as intended with 1 - slip, else one of the other moves
    (never "stay"), each slip / (num_moves - 1). "stay" is always executed as is.
    """
    if not 0.0 <= slip <= 1.0:
        raise ValueError(f"slip must be in [0, 1], got {slip}")
    A = num_actions
    moves = [m for m in range(A) if m != stay]
    T = np.zeros((A, A))
    for a in moves:
        T[a, moves] = slip / (len(moves) - 1)
        T[a, a] = 1.0 - slip
    T[stay, stay] = 1.0
    return T


@dataclass
class SlipModel:
    P: np.ndarray  # (S, A, S) p(s'|s, a) with slips
    R: np.ndarray  # (S, A) expected reward r(s, a) = sum_s' p(s'|s,a) r(s, a, s')
    R_sas: np.ndarray  # (S, A, S) reward of landing in s' (0 where p(s'|s,a) = 0)
    T: np.ndarray  # (A, A) intended action -> executed move


def slip_model(P: np.ndarray, R: np.ndarray, slip: float, stay: int = STAY) -> SlipModel:
    """The deterministic grid (P[s, m] one-hot, R[s, m]) with slipping moves.

    p(s'|s, a)    = sum_m T[a, m] p0(s'|s, m)
    r(s, a)       = sum_m T[a, m] r0(s, m)
    r(s, a, s')   = r0(s, m) for the move(s) m that land in s' (all such m earn the same)
    """
    if not np.allclose(P.max(-1), 1.0):
        raise ValueError("slip_model expects the deterministic moves of the grid")
    T = slip_matrix(P.shape[1], slip, stay)
    P_slip = np.einsum("am,smt->sat", T, P)  # (S, A, S)
    R_slip = np.einsum("am,sm->sa", T, R)  # (S, A)
    # probability-weighted reward of each landing cell, then divided by its probability
    weighted = np.einsum("am,smt,sm->sat", T, P, R)
    with np.errstate(invalid="ignore", divide="ignore"):
        R_sas = np.where(P_slip > 0, weighted / P_slip, 0.0)
    return SlipModel(P_slip, R_slip, R_sas, T)


def absorbing(
    P: np.ndarray, R: np.ndarray, terminal: Iterable[int] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Terminal states made absorbing with reward 0: the episodic task as an MDP.

    p(s|s, a) = 1 and r(s, a) = 0 for every terminal s and every a. R may be (S, A) or (S, A, S).
    """
    P2, R2 = P.copy(), R.copy()
    for s in np.flatnonzero(_terminal_mask(P.shape[0], terminal)):
        P2[s] = 0.0
        P2[s, :, s] = 1.0
        R2[s] = 0.0
    return P2, R2


def sample_returns(
    P: np.ndarray,
    R: np.ndarray,
    policy: np.ndarray,
    start: int,
    steps: int,
    num: int,
    gamma: float,
    rng: np.random.Generator,
    terminal: Iterable[int] | np.ndarray | None = None,
) -> np.ndarray:
    """Discounted returns of `num` independent episodes of at most `steps` steps from `start`.

    The same sampling rule as `rollout`, one numpy step advancing every episode:
    G = sum_t gamma^t r_{t+1}, accumulated forwards with the factor gamma^t.
    """
    S, A = policy.shape
    done_mask = _terminal_mask(S, terminal)
    pi_cdf = np.cumsum(policy, axis=1)
    pi_cdf[:, -1] = np.inf
    P_cdf = np.cumsum(P, axis=2)
    P_cdf[:, :, -1] = np.inf
    s = np.full(num, int(start))
    alive = ~done_mask[s]
    G = np.zeros(num)
    disc = 1.0
    # deterministic moves: s_{t+1} is a table look-up (same draws, same result, ~3x faster)
    nxt = P.argmax(-1) if np.array_equal(P.max(-1), np.ones(P.shape[:2])) else None
    for _ in range(steps):
        if not alive.any():
            break
        u = rng.random((num, 2))
        a = (u[:, :1] > pi_cdf[s]).sum(1)  # a_t ~ pi(.|s_t)
        # s_{t+1} ~ p(.|s_t, a_t)
        s2 = nxt[s, a] if nxt is not None else (u[:, 1:] > P_cdf[s, a]).sum(1)
        r = R[s, a, s2] if R.ndim == 3 else R[s, a]
        # G += gamma^t r_{t+1}, only for episodes still running
        G += np.where(alive, disc * r, 0.0)
        s = np.where(alive, s2, s)
        alive &= ~done_mask[s]
        disc *= gamma
    return G


def running_mean_band(samples: np.ndarray, z: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Running mean of the first n samples and its band mean +- z * SE, SE = sd_n / sqrt(n)."""
    x = np.asarray(samples, dtype=float)
    n = np.arange(1, len(x) + 1)
    mean = np.cumsum(x) / n
    # running variance with the n - 1 denominator (0 for n = 1)
    sq = np.cumsum(x * x) / n
    var = np.maximum(sq - mean**2, 0.0) * n / np.maximum(n - 1, 1)
    se = np.sqrt(var / n)
    return mean, mean - z * se, mean + z * se


def horizon(gamma: float, tol: float = 1e-4, cap: int = 2_000) -> int:
    """Steps after which gamma^t < tol: truncating a continuing return there changes it by
    at most tol * max|r| / (1 - gamma)."""
    if gamma <= 0.0:
        return 1
    if gamma >= 1.0:
        return cap
    return int(min(cap, max(1, np.ceil(np.log(tol) / np.log(gamma)))))


def next_state_distribution(P: np.ndarray, history: list[tuple[int, int]]) -> np.ndarray:
    """p(s_{t+1} | s_0, a_0, ..., s_t, a_t) for a history ending in (s_t, a_t): in an MDP
    it is P[s_t, a_t] whatever came before (the Markov property, book eq. 1.4)."""
    s, a = history[-1]
    return P[s, a].copy()


def markov_check(
    P: np.ndarray,
    R: np.ndarray,
    policy: np.ndarray,
    state: int,
    action: int,
    steps: int,
    num: int,
    rng: np.random.Generator,
    start: int,
) -> dict[int, np.ndarray]:
    """Empirical p(s_{t+1} | s_t = state, a_t = action) split by the previous state s_{t-1}.

    Samples `num` trajectories of `steps` steps from `start`; for every visit of
    (state, action) at t >= 1 it records (s_{t-1}, s_{t+1}). Returns, per previous
    state, the normalised histogram of s_{t+1} (S,). The Markov property says all of
    them estimate the same row P[state, action].
    """
    S, A = policy.shape
    pi_cdf = np.cumsum(policy, axis=1)
    pi_cdf[:, -1] = np.inf
    P_cdf = np.cumsum(P, axis=2)
    P_cdf[:, :, -1] = np.inf
    s = np.full(num, int(start))
    prev = np.full(num, -1)
    counts = np.zeros((S, S))  # counts[s_{t-1}, s_{t+1}]
    for _ in range(steps):
        u = rng.random((num, 2))
        a = (u[:, :1] > pi_cdf[s]).sum(1)
        s2 = (u[:, 1:] > P_cdf[s, a]).sum(1)
        hit = (s == state) & (a == action) & (prev >= 0)
        np.add.at(counts, (prev[hit], s2[hit]), 1.0)
        prev, s = s, s2
    seen = np.flatnonzero(counts.sum(1))
    return {int(p): counts[p] / counts[p].sum() for p in seen}


# ---------- policies ----------------------------------------------------------------------

ARROW_LETTERS = "urdls"  # up, right, down, left, stay: the order of core.gridworld.ACTIONS


def parse_arrows(text: str, rows: int, cols: int) -> np.ndarray:
    """Rows of u/r/d/l/s (or ↑→↓←○) separated by "/" or newlines -> action index per state (S,)."""
    table = {**{ch: i for i, ch in enumerate(ARROW_LETTERS)}, **{ch: i for i, ch in enumerate("↑→↓←○")}}
    lines = [ln.strip() for ln in text.replace("/", "\n").splitlines() if ln.strip()]
    if len(lines) != rows or any(len(ln) != cols for ln in lines):
        raise ValueError(f"the arrows need {rows} rows of {cols} characters")
    try:
        return np.array([table[ch] for ln in lines for ch in ln.lower()], dtype=int)
    except KeyError as exc:
        raise ValueError(f"unknown arrow {exc.args[0]!r}; use u r d l s") from None


def arrows_text(actions: np.ndarray, cols: int) -> str:
    letters = "".join(ARROW_LETTERS[a] for a in actions)
    return "/".join(letters[i : i + cols] for i in range(0, len(letters), cols))


def deterministic_policy(actions: np.ndarray, num_actions: int = 5) -> np.ndarray:
    """pi(a|s) = 1 for the arrow's action a = actions[s] (book Sec. 1.4)."""
    return np.eye(num_actions)[np.asarray(actions, dtype=int)]


def uniform_policy(num_states: int, num_actions: int = 5) -> np.ndarray:
    return np.full((num_states, num_actions), 1.0 / num_actions)


def epsilon_arrows_policy(actions: np.ndarray, epsilon: float, num_actions: int = 5) -> np.ndarray:
    """Mostly the arrows: with 1 - eps follow the arrow, with eps pick uniformly among all
    actions, so pi(arrow|s) = 1 - eps + eps/|A| and eps/|A| for each other action."""
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    return (1.0 - epsilon) * deterministic_policy(actions, num_actions) + epsilon / num_actions


def random_cell_policy(num_states: int, num_actions: int, rng: np.random.Generator) -> np.ndarray:
    """Each cell its own distribution, drawn from the flat Dirichlet(1, ..., 1)."""
    return rng.dirichlet(np.ones(num_actions), size=num_states)
