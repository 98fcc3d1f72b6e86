"""Fixtures of the classification tests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Run the tiny models on one thread: synchronising several costs more
    than it saves, and much more on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
