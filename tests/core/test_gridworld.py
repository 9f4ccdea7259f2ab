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


# ---------------------------------------------------------------- mutation testing (issue 21): the rest of the API


def test_indexing_next_state_kinds_and_layout_on_a_non_square_grid():
    # 3 rows x 4 columns: s = row * 4 + col (row-major), written out for every cell
    gw = GridWorld.from_layout("..#./T.../...#")
    assert (gw.rows, gw.cols, gw.num_states, gw.num_actions) == (3, 4, 12, 5)
    for r in range(3):
        for c in range(4):
            assert gw.state(r, c) == 4 * r + c and gw.cell(4 * r + c) == (r, c)
    assert gw.cell(np.int64(7)) == (1, 3)
    assert gw.targets == [(1, 0)] and gw.forbidden == [(0, 2), (2, 3)]
    # next_state is the one cell each (s, a) moves to with probability 1
    np.testing.assert_array_equal(gw.next_state, gw.P.argmax(axis=-1))
    assert gw.next_state[gw.state(0, 3), 1] == gw.state(0, 3)  # right off the edge: bounce
    assert gw.next_state[gw.state(1, 1), 3] == gw.state(1, 0)  # left onto the target
    kinds = gw.kinds()
    assert kinds.shape == (3, 4) and kinds[1, 0] == "target" and kinds[0, 2] == kinds[2, 3] == "forbidden"
    assert (kinds == "free").sum() == 9
    assert gw.layout() == "..#.\nT...\n...#" and gw.layout("/") == "..#./T.../...#"


def test_cells_accept_one_pair_a_list_or_numpy_integers():
    one = GridWorld(2, 3, target=(np.int64(1), np.int64(2)), forbidden=[(0, 0), (0, 0), (1, 0)])
    assert one.targets == [(1, 2)] and one.forbidden == [(0, 0), (1, 0)]  # duplicates dropped, sorted
    two = GridWorld(2, 3, target=[(0, 1), (1, 2)], forbidden=None)
    assert two.targets == [(0, 1), (1, 2)] and two.forbidden == []
    assert two.R[two.state(0, 0), 1] == 1.0 and two.R[two.state(1, 1), 1] == 1.0
    # the smallest grids: one row, one column
    assert GridWorld(1, 2, target=(0, 1), forbidden=()).num_states == 2
    assert GridWorld(1, 1, target=(0, 0), forbidden=()).R.tolist() == [[-1.0, -1.0, -1.0, -1.0, 1.0]]


@pytest.mark.parametrize(
    ("kwargs", "code", "message"),
    [
        ({"rows": 0}, "bad_size", "the grid needs at least one row and column, got 0x5"),
        ({"cols": 0}, "bad_size", "the grid needs at least one row and column, got 5x0"),
        ({"target": (5, 0)}, "bad_cell", "cell (5, 0) is outside the 5x5 grid"),
        ({"target": (0, 5)}, "bad_cell", "cell (0, 5) is outside the 5x5 grid"),
        ({"target": (-1, 0)}, "bad_cell", "cell (-1, 0) is outside the 5x5 grid"),
        ({"target": (0, -1)}, "bad_cell", "cell (0, -1) is outside the 5x5 grid"),
        ({"forbidden": [(4, 5)]}, "bad_cell", "cell (4, 5) is outside the 5x5 grid"),
        ({"target": (1, 1)}, "target_forbidden", "a cell cannot be both target and forbidden"),
        ({"target": None}, "no_target", "the grid has no target cell"),
        ({"target": []}, "no_target", "the grid has no target cell"),
    ],
)
def test_bad_grids_raise_coded_errors_with_their_messages(kwargs, code, message):
    with pytest.raises(GridWorldError) as err:
        GridWorld(**kwargs)
    assert err.value.code == code and str(err.value) == message


def test_layout_errors_messages_and_the_10x10_limit():
    big = "\n".join(["T" + "." * 9] + ["." * 10] * 9)
    assert GridWorld.from_layout(big).num_states == 100  # 10 x 10 is allowed
    for layout in ("T" + "." * 10, "\n".join(["T"] + ["."] * 10)):
        with pytest.raises(GridWorldError) as err:
            GridWorld.from_layout(layout)
        assert err.value.code == "bad_size"
        assert str(err.value) == "the layout may have at most 10 rows and 10 columns"
    cases = [
        ("  \n ", "the layout is empty"),
        ("..T\n..", "all rows of the layout must have the same length"),
        ("x.T/Y.a", "unknown layout characters: Yax"),
        ("###\n###", "every cell is forbidden: there is nowhere to go"),
    ]
    for layout, message in cases:
        with pytest.raises(GridWorldError) as err:
            GridWorld.from_layout(layout)
        assert str(err.value) == message
    # rows are stripped; blank lines and "/" separate rows; rewards pass through
    gw = GridWorld.from_layout("  .T \n\n #. ", r_target=5.0, r_forbidden=-3.0)
    assert gw.layout() == ".T\n#." and gw.R[gw.state(0, 0), 1] == 5.0 and gw.R[gw.state(0, 0), 2] == -3.0


def test_bounce_variant_from_the_target_and_reward_types():
    # target in a corner: bouncing off the top from it earns r_boundary + r_target in the variant
    a = GridWorld(3, 3, target=(0, 0), forbidden=[(2, 2)], r_boundary=-1, r_target=2, r_forbidden=-5)
    b = GridWorld(3, 3, target=(0, 0), forbidden=[(2, 2)], r_boundary=-1, r_target=2, r_forbidden=-5,
                  bounce_keeps_cell_reward=True)  # fmt: skip
    up, right, down, left = range(4)
    assert a.R[0, up] == -1 and b.R[0, up] == 1 and b.R[0, left] == 1
    assert b.R[8, down] == -6 and b.R[8, right] == -6  # forbidden corner: -1 - 5
    assert b.R[2, up] == -1 and b.R[2, right] == -1  # a free cell's bounce: r_boundary only
    assert b.R[0, right] == a.R[0, right] == 0.0  # moves that do not bounce are unchanged
    assert b.bounce_keeps_cell_reward is True and a.bounce_keeps_cell_reward is False
    assert a.R.dtype == np.float64 and isinstance(a.r_boundary, float) and isinstance(a.r_other, float)


def test_bounce_variant_leaves_free_cells_bounce_at_r_boundary_when_r_other_is_not_zero():
    # r_other = -0.5: a bounce from a free cell still earns r_boundary alone, not r_boundary + r_other
    b = GridWorld(3, 3, target=(0, 0), forbidden=[(2, 2)], r_other=-0.5, bounce_keeps_cell_reward=True)
    up, right = 0, 1
    assert b.R[b.state(0, 2), up] == -1.0 and b.R[b.state(0, 2), right] == -1.0
    assert b.R[b.state(0, 1), up] == -1.0 and b.R[b.state(0, 1), right] == -0.5  # entering a free cell
    assert b.R[b.state(0, 0), up] == -1.0 + 1.0  # from the target: r_boundary + r_target
