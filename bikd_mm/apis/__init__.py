"""High-level entry points shared by the tools: pre-training members alone
(with a machine-wide cache) and comparing knowledge-transfer regimes."""

from .pretrain import (
    demo_cache,
    keep_pretrained,
    plateau,
    pretrain_member,
    pretrain_members,
    pretrain_seeds,
    pretrained_path,
    quiet,
    quiet_runner,
    reuse_pretrained,
)

__all__ = [
    'demo_cache',
    'keep_pretrained',
    'pretrain_member',
    'plateau',
    'pretrain_members',
    'pretrain_seeds',
    'pretrained_path',
    'reuse_pretrained',
    'quiet',
    'quiet_runner',
]
