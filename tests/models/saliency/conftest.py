"""Shared settings of the saliency model tests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    """Run each test on one intra-op thread, restored afterwards.

    The clips here are tiny, so a thread pool only adds contention on a
    busy machine.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
