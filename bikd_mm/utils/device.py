"""Which device a run used, for the records it leaves."""

import torch


def device_name() -> str:
    """The name of the CUDA device runs train on, or ``'cpu'``.

    Returns:
        str: ``torch.cuda.get_device_name()`` of the current device when
        CUDA is available (e.g. ``'NVIDIA H200'``), else ``'cpu'``.
    """
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return 'cpu'
