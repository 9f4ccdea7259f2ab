"""GridWorld against a literal reading of the book's rules (Zhao 2025, Sec. 1.1-1.5)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.gridworld import ACTIONS, BOOK_LAYOUT, GridWorld, GridWorldError


def literal_model(rows, cols, targets, forbidden, rb, rf, rt, ro):
    """P and R written cell by cell from the rule text, with plain loops."""
    moves = {"up": (-1, 0), "right": (0, 1), "down": (1, 0), "left": (0, -1), "stay": (0, 0)}
    S = rows * cols
    P = np.zeros((S, 5, S))
    R = np.zeros((S, 5))
    for r in range(rows):
        for c in range(cols):
            s = r * cols + c
            for a, name in enumerate(ACTIONS):
                dr, dc = moves[name]
                nr, nc = r + dr, c + dc
                if not (0 <= nr < rows and 0 <= nc < cols):
                    nr, nc, reward = r, c, rb  # bounce back, boundary reward
                elif (nr, nc) in targets:
                    reward = rt
                elif (nr, nc) in forbidden:
                    reward = rf
                else:
                    reward = ro
                P[s, a, nr * cols + nc] = 1.0
                R[s, a] = reward
    return P, R


def test_book_layout_is_the_5x5_example():
    # Zhao, Figure 3.4: forbidden (2,2) (2,3) (3,3) (4,2) (4,4) (5,2), target (4,3), 1-based
    assert BOOK_LAYOUT.split("\n") == [".....", ".##..", "..#..", ".#T#.", ".#..."]


def test_default_grid_matches_the_literal_rules():
    gw = GridWorld()
    P, R = literal_model(5, 5, set(gw.targets), set(gw.forbidden), -1, -1, 1, 0)
    np.testing.assert_array_equal(gw.P, P)
    np.testing.assert_array_equal(gw.R, R)


def test_a_few_hand_checked_transitions():
    gw = GridWorld(r_forbidden=-10)
    up, right, down, left, stay = range(5)
    s = gw.state(0, 0)
    assert gw.R[s, up] == -1 and gw.P[s, up, s] == 1  # bounce off the top
    assert gw.R[s, left] == -1 and gw.P[s, left, s] == 1
    assert gw.R[s, stay] == 0
    assert gw.R[gw.state(1, 0), right] == -10  # entering a forbidden cell is allowed, costs r_forbidden
    assert gw.P[gw.state(1, 0), right, gw.state(1, 1)] == 1
    assert gw.R[gw.state(1, 1), stay] == -10  # staying in a forbidden cell costs too
    t = gw.state(3, 2)
    assert (
        gw.R[t, stay] == 1 and gw.P[t, stay, t] == 1
    )  # staying on the target keeps paying: no terminal state
    assert gw.R[gw.state(4, 2), up] == 1


def test_bounce_variant_only_changes_bounces_from_special_cells():
    a, b = GridWorld(r_forbidden=-10), GridWorld(r_forbidden=-10, bounce_keeps_cell_reward=True)
    diff = np.argwhere(a.R != b.R)
    # (5,2) is the only forbidden cell on the boundary: its "down" bounce costs -1 - 10
    assert [tuple(x) for x in diff] == [(a.state(4, 1), 2)]
    assert b.R[a.state(4, 1), 2] == -11


@pytest.mark.parametrize(
    ("layout", "code"),
    [
        (".....\n.....", "no_target"),
        ("###\n###", "all_forbidden"),
        ("..T\n..", "bad_layout"),
        ("..X\n.T.", "bad_layout"),
        ("", "bad_layout"),
        ("." * 11 + "T", "bad_size"),
    ],
)
def test_bad_layouts_raise_a_coded_error(layout, code):
    with pytest.raises(GridWorldError) as err:
        GridWorld.from_layout(layout)
    assert err.value.code == code


def test_layout_round_trip():
    gw = GridWorld.from_layout(BOOK_LAYOUT.replace("\n", "/"))
    assert gw.layout() == BOOK_LAYOUT
    np.testing.assert_array_equal(gw.P, GridWorld().P)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 6),
    cols=st.integers(1, 6),
    data=st.data(),
    rewards=st.tuples(*[st.floats(-10, 10, allow_nan=False)] * 4),
)
def test_random_grids_match_the_literal_rules(rows, cols, data, rewards):
    cells = [(r, c) for r in range(rows) for c in range(cols)]
    target = data.draw(st.sampled_from(cells))
    others = [x for x in cells if x != target]
    forbidden = data.draw(st.lists(st.sampled_from(others), unique=True) if others else st.just([]))
    rb, rf, rt, ro = rewards
    gw = GridWorld(
        rows, cols, target=target, forbidden=forbidden, r_boundary=rb, r_forbidden=rf, r_target=rt, r_other=ro
    )
    P, R = literal_model(rows, cols, {target}, set(forbidden), rb, rf, rt, ro)
    np.testing.assert_array_equal(gw.P, P)
    np.testing.assert_allclose(gw.R, R)
    np.testing.assert_allclose(gw.P.sum(-1), 1.0)  # every row a distribution
