"""Distributed runs on machines without CUDA.

Stock runtimes ask for the NCCL backend and many stock configs normalise
with SyncBN; neither runs on the CPU. Without CUDA, a distributed run
(``tools/dist_train.sh CONFIG 2`` on a laptop, a CPU cluster, CI) therefore

- uses the gloo backend instead of the configured one, and
- runs every ``SyncBatchNorm`` layer as a plain ``BatchNorm`` (each process
  normalises with the statistics of its own batch; the weights and running
  statistics are the same tensors, so checkpoints are unchanged), since
  PyTorch's SyncBN only synchronises CUDA tensors.

Both are logged as warnings. With CUDA nothing changes.
"""

import logging

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model.utils import revert_sync_batchnorm

CPU_BACKEND = 'gloo'


def use_gloo_without_cuda(cfg: Config) -> None:
    """Select gloo for a distributed run on a machine without CUDA.

    Args:
        cfg (Config): A config with ``launcher`` set; changed in place.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    env_cfg = cfg.get('env_cfg') or {}
    dist_cfg = dict(env_cfg.get('dist_cfg') or {})
    backend = dist_cfg.get('backend', 'nccl')
    if backend == CPU_BACKEND:
        return
    dist_cfg['backend'] = CPU_BACKEND
    cfg.env_cfg = dict(env_cfg, dist_cfg=dist_cfg)
    print_log(
        f'no CUDA device: distributed training runs on the CPU with the '
        f'{CPU_BACKEND} backend instead of {backend!r} '
        '(env_cfg.dist_cfg.backend)',
        logger='current',
        level=logging.WARNING,
    )


def _sync_bn_types() -> tuple:
    types = [nn.SyncBatchNorm]
    try:
        from mmcv.ops import SyncBatchNorm
    except ImportError:
        pass
    else:
        types.append(SyncBatchNorm)
    return tuple(types)


def revert_sync_bn_without_cuda(
    model: nn.Module, distributed: bool
) -> nn.Module:
    """Run SyncBN layers as BatchNorm in a distributed run on the CPU.

    Args:
        model (nn.Module): The model before it is wrapped.
        distributed (bool): Whether the run is distributed.

    Returns:
        nn.Module: ``model``, with its SyncBN layers reverted when the run
        is distributed and there is no CUDA.
    """
    if not distributed or torch.cuda.is_available():
        return model
    sync = [
        name
        for name, module in model.named_modules()
        if isinstance(module, _sync_bn_types())
    ]
    if not sync:
        return model
    owners = sorted(
        {
            name.split('.')[1] if name.startswith('members.') else name
            for name in sync
        }
    )
    print_log(
        f'SyncBN needs GPUs: the {len(sync)} SyncBatchNorm layers of '
        f'{owners} run as BatchNorm on the CPU, each process normalising '
        'with its own batch (same weights and checkpoints; on GPUs they '
        'stay SyncBN)',
        logger='current',
        level=logging.WARNING,
    )
    return revert_sync_batchnorm(model)
