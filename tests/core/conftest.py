"""Fixtures shared by the core tests."""

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
