"""High-level entry points shared by the tools: pre-training members alone
(with a machine-wide cache) and comparing knowledge-transfer regimes."""

from .pretrain import (
    demo_cache,
    plateau,
    pretrain_member,
    pretrain_members,
    pretrain_seeds,
    pretrained_path,
    quiet,
    quiet_runner,
)

__all__ = [
    'demo_cache',
    'pretrain_member',
    'plateau',
    'pretrain_members',
    'pretrain_seeds',
    'pretrained_path',
    'quiet',
    'quiet_runner',
]
