"""The grid world of Zhao's book as a finite MDP (dense P[s, a, s'] and R[s, a]).

Conventions (book Sec. 1.1-1.5):
- cells are states, numbered row-major from the top-left: s = row * cols + col
  (0-based here; the book's s1 is our s = 0, its cell (row=1, col=1) is our (0, 0));
- five actions in this order: up, right, down, left, stay (the book's a1..a5);
- moves are deterministic; a move off the grid bounces back to the same cell
  and earns r_boundary;
- entering (or staying in) a forbidden cell is allowed and earns r_forbidden;
- entering (or staying on) the target earns r_target, and the task goes on:
  there is no terminal state, so a good policy stays on the target forever;
- every other move earns r_other.

`bounce_keeps_cell_reward=True` switches to the variant that reproduces the
book's Chapter-5 figures (5.6, 5.7) digit for digit: bouncing off the boundary
from a forbidden (target) cell earns r_boundary + r_forbidden (r_target), as if
the agent also re-entered its cell. Chapter-3 optimal values are the same under
both conventions (an optimal policy never bounces from a forbidden cell).

The default layout is the book's 5x5 example (Figures 3.4, 4.x, 5.4-5.7): forbidden
cells (row, col) = (2,2), (2,3), (3,3), (4,2), (4,4), (5,2) and the target (4,3),
1-based as in the book.

References:
    S. Zhao, "Mathematical Foundations of Reinforcement Learning", 2025,
    Sec. 1.1 (grid world), 1.3 (state transition), 1.5 (reward),
    Figure 3.4 (optimal state values of the 5x5 example).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

ACTIONS: tuple[str, ...] = ("up", "right", "down", "left", "stay")
# (d_row, d_col) of each action, same order as ACTIONS
MOVES: np.ndarray = np.array([(-1, 0), (0, 1), (1, 0), (0, -1), (0, 0)])
ARROWS: tuple[str, ...] = ("↑", "→", "↓", "←", "○")

Cell = tuple[int, int]

# The book's 5x5 example, converted to 0-based (row, col).
BOOK_FORBIDDEN: tuple[Cell, ...] = ((1, 1), (1, 2), (2, 2), (3, 1), (3, 3), (4, 1))
BOOK_TARGET: Cell = (3, 2)


class GridWorldError(ValueError):
    """A grid layout that cannot be used. `code` names the problem so a page can
    show a translated message: "no_target", "all_forbidden", "bad_cell",
    "target_forbidden", "bad_size", "bad_layout"."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _cells(cells: Cell | Iterable[Cell] | None) -> list[Cell]:
    if cells is None:
        return []
    cells = list(cells)
    if len(cells) == 2 and all(isinstance(c, (int, np.integer)) for c in cells):
        return [(int(cells[0]), int(cells[1]))]  # a single (row, col)
    return [(int(r), int(c)) for r, c in cells]


class GridWorld:
    """A rows x cols grid world with the book's dynamics and rewards. Exposes `.P`, `.R`."""

    def __init__(
        self,
        rows: int = 5,
        cols: int = 5,
        target: Cell | Sequence[Cell] | None = BOOK_TARGET,
        forbidden: Iterable[Cell] | None = BOOK_FORBIDDEN,
        r_boundary: float = -1.0,
        r_forbidden: float = -1.0,
        r_target: float = 1.0,
        r_other: float = 0.0,
        bounce_keeps_cell_reward: bool = False,
    ):
        if rows < 1 or cols < 1:
            raise GridWorldError("bad_size", f"the grid needs at least one row and column, got {rows}x{cols}")
        self.rows, self.cols = int(rows), int(cols)
        self.targets = _cells(target)
        self.forbidden = sorted(set(_cells(forbidden)))
        for r, c in self.targets + self.forbidden:
            if not (0 <= r < self.rows and 0 <= c < self.cols):
                raise GridWorldError(
                    "bad_cell", f"cell ({r}, {c}) is outside the {self.rows}x{self.cols} grid"
                )
        if set(self.targets) & set(self.forbidden):
            raise GridWorldError("target_forbidden", "a cell cannot be both target and forbidden")
        if len(self.forbidden) == self.rows * self.cols:
            raise GridWorldError("all_forbidden", "every cell is forbidden: there is nowhere to go")
        if not self.targets:
            raise GridWorldError("no_target", "the grid has no target cell")
        self.r_boundary, self.r_forbidden = float(r_boundary), float(r_forbidden)
        self.r_target, self.r_other = float(r_target), float(r_other)
        self.bounce_keeps_cell_reward = bool(bounce_keeps_cell_reward)
        self.P, self.R = self._build()

    @property
    def num_states(self) -> int:
        return self.rows * self.cols

    @property
    def num_actions(self) -> int:
        return len(ACTIONS)

    def state(self, row: int, col: int) -> int:
        """s = row * cols + col (row-major, 0-based)."""
        return row * self.cols + col

    def cell(self, s: int) -> Cell:
        return divmod(int(s), self.cols)

    def kinds(self) -> np.ndarray:
        """(rows, cols) array of "free" / "forbidden" / "target"."""
        k = np.full((self.rows, self.cols), "free", dtype=object)
        for r, c in self.forbidden:
            k[r, c] = "forbidden"
        for r, c in self.targets:
            k[r, c] = "target"
        return k

    def _build(self) -> tuple[np.ndarray, np.ndarray]:
        S, A = self.num_states, self.num_actions
        rc = np.stack(np.divmod(np.arange(S), self.cols), axis=-1)  # (S, 2) (row, col) of s
        dest = rc[:, None, :] + MOVES[None, :, :]  # (S, A, 2) cell the move aims at
        off = (
            (dest[..., 0] < 0)
            | (dest[..., 0] >= self.rows)
            | (dest[..., 1] < 0)
            | (dest[..., 1] >= self.cols)
        )  # (S, A) bounced off the boundary
        dest = np.where(off[..., None], rc[:, None, :], dest)  # bounce back: stay in place
        s_next = dest[..., 0] * self.cols + dest[..., 1]  # (S, A)

        kinds = self.kinds().ravel()  # (S,)
        reward_of_cell = np.where(
            kinds == "target", self.r_target, np.where(kinds == "forbidden", self.r_forbidden, self.r_other)
        ).astype(float)
        # r(s, a) = r_boundary if the move hits the boundary, else the reward of the cell entered
        R = np.where(off, self.r_boundary, reward_of_cell[s_next])  # (S, A)
        if self.bounce_keeps_cell_reward:
            # variant behind the book's Chapter-5 figures: a bounce also earns the
            # reward of the cell the agent stays in (r_boundary + r_forbidden there)
            R = np.where(off & (kinds != "free")[:, None], R + reward_of_cell[:, None], R)
        P = np.zeros((S, A, S))
        P[np.arange(S)[:, None], np.arange(A)[None, :], s_next] = 1.0  # deterministic moves
        self.next_state = s_next
        return P, R

    # ---------- text layout: one string per row, "." free, "#" forbidden, "T" target ----------

    @classmethod
    def from_layout(cls, layout: str, **rewards: float) -> GridWorld:
        """Build from rows of ".", "#", "T" separated by newlines or "/" (e.g. the URL form).

        "....." / ".##.." / "..#.." / ".#T#." / ".#..." is the book's 5x5 example.
        """
        rows = [r.strip() for r in layout.replace("/", "\n").splitlines() if r.strip()]
        if not rows:
            raise GridWorldError("bad_layout", "the layout is empty")
        if len({len(r) for r in rows}) != 1:
            raise GridWorldError("bad_layout", "all rows of the layout must have the same length")
        bad = sorted({ch for r in rows for ch in r} - set(".#T"))
        if bad:
            raise GridWorldError("bad_layout", f"unknown layout characters: {''.join(bad)}")
        if len(rows) > 10 or len(rows[0]) > 10:
            raise GridWorldError("bad_size", "the layout may have at most 10 rows and 10 columns")
        target = [(i, j) for i, r in enumerate(rows) for j, ch in enumerate(r) if ch == "T"]
        forbidden = [(i, j) for i, r in enumerate(rows) for j, ch in enumerate(r) if ch == "#"]
        return cls(len(rows), len(rows[0]), target=target, forbidden=forbidden, **rewards)

    def layout(self, sep: str = "\n") -> str:
        sym = {"free": ".", "forbidden": "#", "target": "T"}
        return sep.join("".join(sym[k] for k in row) for row in self.kinds())


BOOK_LAYOUT: str = GridWorld().layout()

# The 3x3 grid of the book's Chapter 1 (Figures 1.2-1.6): s1..s9 row-major, forbidden
# s6 and s7, target s9 (its reward tables 1.3 follow from the rules above).
BOOK_CH1_LAYOUT: str = ".../..#/#.T"
# Figure 1.4 / 1.6 (a): s1 right, then down, down, right to s9 and stay (Table 1.2 without the
# split at s1); Figure 1.6 (b): from s1 down through the forbidden s7, then right twice.
BOOK_CH1_ARROWS_A: str = "rdl/rdd/rrs"
BOOK_CH1_ARROWS_B: str = "ddl/ddd/rrs"
