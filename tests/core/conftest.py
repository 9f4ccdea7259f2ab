"""Fixtures shared by the core tests."""

import os

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """Tiny tensors: one torch thread is fastest, and on a busy 2-core machine extra threads spin.
    Test files of tiny-tensor maths use it for every test (`pytestmark`)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_collection_modifyitems(items):
    """Under mutation testing, run the tests marked `slow` after the others.

    mutmut runs each mutant's tests with `-x` in the order it lists them, which is
    arbitrary; with the slow ones last, a mutant that a quick test kills stops there
    instead of first training the slow tests' fixtures (seconds each). mutmut names
    the mutant under test in MUTANT_UNDER_TEST (`...__mutmut_N`); outside it the order
    is pytest's.
    """
    if "__mutmut_" in os.environ.get("MUTANT_UNDER_TEST", ""):
        items.sort(key=lambda item: item.get_closest_marker("slow") is not None)  # stable
