"""Finite Markov decision processes as dense arrays, and the dynamic-programming
algorithms that solve them.

A finite MDP with S states and A actions is stored as

    P[s, a, s']  transition probability p(s' | s, a)        (S, A, S), rows sum to 1
    R[s, a]      expected immediate reward sum_r p(r|s,a) r  (S, A)

and a (stochastic) policy as an (S, A) row-stochastic array pi[s, a] = pi(a | s).
Everything here is exact (model-based); the model-free estimators live in
`core.monte_carlo`.

References:
    S. Zhao, "Mathematical Foundations of Reinforcement Learning", Springer /
    Tsinghua University Press, 2025 (free PDF: github.com/MathFoundationRL).
    - Sec. 2.6-2.7: Bellman equation in matrix-vector form v = r_pi + gamma P_pi v,
      closed-form solution v = (I - gamma P_pi)^-1 r_pi and the
      iterative solution v^(j+1) = r_pi + gamma P_pi v^(j).
    - Sec. 2.8: action values q(s, a) = sum_r p(r|s,a) r + gamma sum_s' p(s'|s,a) v(s').
    - Sec. 3.3-3.4: Bellman optimality equation v = max_pi (r_pi + gamma P_pi v),
      contraction mapping, Theorem 3.3 (value iteration), Theorem 3.5 (greedy policy).
    - Sec. 4.1 Algorithm 4.1 (value iteration), Sec. 4.2 Algorithm 4.2 (policy
      iteration), Sec. 4.3 Algorithm 4.3 (truncated policy iteration).
    - Sec. 5.4.1: epsilon-greedy policies, greedy action 1 - eps (|A|-1)/|A|,
      every other action eps/|A|.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

# Two actions whose q-values differ by less than this are treated as tied; the
# first one (lowest action index) wins, so floating-point noise never flips
# an arrow on the page.
TIE_TOL = 1e-9


class NotConvergedError(ValueError):
    """Raised when a value cannot be computed: (I - gamma P_pi) is singular
    (gamma = 1 and a reward loop), or an iteration ran out of steps."""


@dataclass
class PlanningResult:
    """What every planning algorithm returns.

    Unpacks as `V, policy, history = value_iteration(...)`; the extra fields
    are there for the page's iteration scrubber.
    """

    V: np.ndarray  # (S,) final value estimate
    policy: np.ndarray  # (S, A) greedy policy w.r.t. the final value
    history: np.ndarray  # (K+1, S) value at every iteration k = 0..K
    policies: np.ndarray = field(repr=False)  # (K+1, S, A) policy greedy w.r.t. history[k]
    converged: bool = True

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.V, self.policy, self.history))


def check_mdp(P: np.ndarray, R: np.ndarray, atol: float = 1e-9) -> None:
    """Raise ValueError unless P is (S, A, S) row-stochastic and R is (S, A)."""
    if P.ndim != 3 or P.shape[0] != P.shape[2]:
        raise ValueError(f"P must have shape (S, A, S), got {P.shape}")
    if R.shape != P.shape[:2]:
        raise ValueError(f"R must have shape {P.shape[:2]}, got {R.shape}")
    # rtol=0: np.allclose's default rtol 1e-5 would let any row summing to 1 +- 1e-5 pass
    if np.any(P < -atol) or not np.allclose(P.sum(-1), 1.0, rtol=0.0, atol=atol):
        raise ValueError("every P[s, a, :] must be a probability distribution")


def policy_matrices(P: np.ndarray, R: np.ndarray, policy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The policy's reward vector and transition matrix (book Sec. 2.6).

    r_pi(s)     = sum_a pi(a|s) r(s, a)            (S,)
    P_pi(s, s') = sum_a pi(a|s) p(s'|s, a)         (S, S)
    """
    r_pi = np.einsum("sa,sa->s", policy, R)
    P_pi = np.einsum("sa,sat->st", policy, P)
    return r_pi, P_pi


def policy_evaluation(P: np.ndarray, R: np.ndarray, policy: np.ndarray, gamma: float) -> np.ndarray:
    """Exact state values of `policy`: solve the Bellman equation as a linear system.

    v_pi = r_pi + gamma P_pi v_pi   <=>   (I - gamma P_pi) v_pi = r_pi   (book Sec. 2.7.1)

    Raises NotConvergedError when the system is singular (gamma = 1 with a
    closed loop of the chain), i.e. the returns do not converge.
    """
    r_pi, P_pi = policy_matrices(P, R, policy)
    S = r_pi.shape[0]
    M = np.eye(S) - gamma * P_pi  # (S, S)
    # gamma < 1 makes M strictly diagonally dominant, hence invertible; at gamma = 1
    # it is singular as soon as the chain has a closed class (it always does).
    if np.linalg.cond(M) > 1e12:
        raise NotConvergedError("I - gamma P_pi is singular: the discounted return does not converge")
    return np.linalg.solve(M, r_pi)


def iterative_policy_evaluation(
    P: np.ndarray,
    R: np.ndarray,
    policy: np.ndarray,
    gamma: float,
    sweeps: int,
    V0: np.ndarray | None = None,
) -> np.ndarray:
    """Every iterate of v^(j+1) = r_pi + gamma P_pi v^(j), j = 0..sweeps (book Sec. 2.7.2).

    Returns the (sweeps+1, S) history; row 0 is V0 (zeros by default).
    """
    r_pi, P_pi = policy_matrices(P, R, policy)
    V = np.zeros(r_pi.shape[0]) if V0 is None else np.asarray(V0, dtype=float).copy()
    history = [V]
    for _ in range(sweeps):
        # v^(j+1) = r_pi + gamma P_pi v^(j)
        V = r_pi + gamma * P_pi @ V
        history.append(V)
    return np.stack(history)


def q_values(P: np.ndarray, R: np.ndarray, V: np.ndarray, gamma: float) -> np.ndarray:
    """Action values from state values (book Sec. 2.8).

    q(s, a) = r(s, a) + gamma sum_s' p(s'|s, a) v(s')          (S, A)
    """
    return R + gamma * P @ V


def greedy_policy(Q: np.ndarray) -> np.ndarray:
    """Deterministic greedy policy pi(a|s) = 1 for a = argmax_a q(s, a) (book Theorem 3.5).

    Ties (within TIE_TOL) go to the lowest action index.
    """
    best = Q >= Q.max(axis=-1, keepdims=True) - TIE_TOL  # (S, A) candidates
    a_star = best.argmax(axis=-1)  # first candidate
    return np.eye(Q.shape[-1])[a_star]


def epsilon_greedy_policy(Q: np.ndarray, epsilon: float) -> np.ndarray:
    """epsilon-greedy policy w.r.t. Q (book Sec. 5.4.1).

    pi(a|s) = 1 - eps (|A| - 1) / |A|   for the greedy action,
              eps / |A|                 for each of the other |A| - 1 actions.
    """
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    A = Q.shape[-1]
    # greedy: 1 - eps + eps/|A| = 1 - eps (|A|-1)/|A|; others: eps/|A|
    return (1.0 - epsilon) * greedy_policy(Q) + epsilon / A


def _converged(history: list[np.ndarray], tol: float) -> bool:
    return len(history) >= 2 and float(np.max(np.abs(history[-1] - history[-2]))) < tol


def value_iteration(
    P: np.ndarray,
    R: np.ndarray,
    gamma: float,
    tol: float = 1e-10,
    max_iter: int = 10_000,
    V0: np.ndarray | None = None,
) -> PlanningResult:
    """Value iteration v_{k+1} = max_pi (r_pi + gamma P_pi v_k) (book Algorithm 4.1).

    Stops when max_s |v_{k+1}(s) - v_k(s)| < tol. `policies[k]` is the greedy policy
    w.r.t. v_k (pi_{k+1} in the book's indexing). `converged` is False when
    max_iter was reached first (e.g. gamma = 1 with a positive reward loop).
    """
    V = np.zeros(P.shape[0]) if V0 is None else np.asarray(V0, dtype=float).copy()
    history, Qs = [V], []
    for _ in range(max_iter):
        Q = q_values(P, R, V, gamma)  # (S, A)   q_k(s, a)
        Qs.append(Q)
        # v_{k+1}(s) = max_a q_k(s, a)
        V = Q.max(axis=-1)
        history.append(V)
        if _converged(history, tol):
            break
    Qs.append(q_values(P, R, V, gamma))
    policies = greedy_policy(np.stack(Qs))  # (K + 1, S, A): every greedy policy in one pass
    return PlanningResult(V, policies[-1], np.stack(history), policies, _converged(history, tol))


def truncated_policy_iteration(
    P: np.ndarray,
    R: np.ndarray,
    gamma: float,
    eval_sweeps: int,
    tol: float = 1e-10,
    max_iter: int = 10_000,
    V0: np.ndarray | None = None,
) -> PlanningResult:
    """Truncated policy iteration (book Algorithm 4.3).

    Iteration k: policy improvement pi_k = greedy(q(v_{k-1})), then `eval_sweeps`
    sweeps of v^(j+1) = r_{pi_k} + gamma P_{pi_k} v^(j) started from v^(0) = v_{k-1}.
    eval_sweeps = 1 is value iteration; eval_sweeps -> infinity is policy iteration.
    """
    if eval_sweeps < 1:
        raise ValueError("eval_sweeps must be >= 1")
    V = np.zeros(P.shape[0]) if V0 is None else np.asarray(V0, dtype=float).copy()
    history, policies = [V], []
    for _ in range(max_iter):
        pi = greedy_policy(q_values(P, R, V, gamma))  # (S, A) policy improvement
        policies.append(pi)
        r_pi, P_pi = policy_matrices(P, R, pi)
        for _ in range(eval_sweeps):
            # v^(j+1) = r_pi + gamma P_pi v^(j)
            V = r_pi + gamma * P_pi @ V
        history.append(V)
        if _converged(history, tol):
            break
    policies.append(greedy_policy(q_values(P, R, V, gamma)))
    return PlanningResult(V, policies[-1], np.stack(history), np.stack(policies), _converged(history, tol))


def policy_iteration(
    P: np.ndarray,
    R: np.ndarray,
    gamma: float,
    max_iter: int = 1_000,
    initial_policy: np.ndarray | None = None,
) -> PlanningResult:
    """Policy iteration (book Algorithm 4.2).

    pi_0 = greedy w.r.t. v = 0 (the immediate rewards) unless given; then
    repeat  v_k = (I - gamma P_{pi_k})^-1 r_{pi_k}  (exact evaluation)
            pi_{k+1} = greedy(q(v_k))               (improvement)
    until the policy no longer changes. history[0] = 0 (the common start of the
    three algorithms), history[k+1] = v_{pi_k}. Raises NotConvergedError when a
    policy has no finite value (gamma = 1).
    """
    pi = greedy_policy(R) if initial_policy is None else np.asarray(initial_policy, dtype=float)
    history, policies = [np.zeros(P.shape[0])], [pi]
    converged = False
    for _ in range(max_iter):
        V = policy_evaluation(P, R, pi, gamma)  # v_{pi_k}, exact
        history.append(V)
        Q = q_values(P, R, V, gamma)  # (S, A)  q_{pi_k}
        pi_new = greedy_policy(Q)  # pi_{k+1}
        policies.append(pi_new)
        # stop when improvement cannot raise any value: v_{pi_k}(s) = max_a q_{pi_k}(s, a),
        # i.e. v_{pi_k} solves the Bellman optimality equation
        if np.array_equal(pi_new, pi) or np.allclose(Q.max(-1), V, atol=1e-10, rtol=0.0):
            converged = True
            break
        pi = pi_new
    return PlanningResult(history[-1], policies[-1], np.stack(history), np.stack(policies), converged)


def epsilon_greedy_policy_iteration(
    P: np.ndarray,
    R: np.ndarray,
    gamma: float,
    epsilon: float,
    max_iter: int = 1_000,
) -> PlanningResult:
    """The optimal policy among epsilon-greedy policies (book Sec. 5.4.2, eq. 5.5), exactly.

    Policy iteration whose improvement step is restricted to epsilon-greedy
    policies: pi_{k+1} = epsilon_greedy(q_{pi_k}). This is what MC epsilon-greedy
    converges to with enough data (book Figure 5.7).
    """
    pi = epsilon_greedy_policy(R, epsilon)
    history, policies = [np.zeros(P.shape[0])], [pi]
    converged = False
    for _ in range(max_iter):
        V = policy_evaluation(P, R, pi, gamma)
        history.append(V)
        Q = q_values(P, R, V, gamma)
        pi_new = epsilon_greedy_policy(Q, epsilon)
        policies.append(pi_new)
        # optimal in the epsilon-greedy class when no epsilon-greedy policy does better
        # in any state: sum_a pi(a|s) q(s,a) >= sum_a pi_new(a|s) q(s,a)
        if np.array_equal(pi_new, pi) or np.all((Q * pi).sum(-1) >= (Q * pi_new).sum(-1) - 1e-10):
            converged = True
            break
        pi = pi_new
    return PlanningResult(history[-1], policies[-1], np.stack(history), np.stack(policies), converged)
