"""bikd_mm.utils.device: the device a record names."""

import torch

from bikd_mm.utils.device import device_name


def test_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert device_name() == 'cpu'


def test_the_cuda_device_name_with_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'get_device_name', lambda: 'NVIDIA H200')
    assert device_name() == 'NVIDIA H200'
