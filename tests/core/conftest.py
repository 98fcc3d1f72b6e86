"""Shared settings for the core tests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    """Runs each test on one intra-op thread, restored afterwards.

    The tensors here are tiny, so a thread pool only adds contention on a
    busy machine.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
