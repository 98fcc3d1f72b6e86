"""High-level entry points shared by the tools: pre-training members alone
(with a machine-wide cache) and comparing knowledge-transfer regimes."""

from .pretrain import (
    demo_cache,
    pretrain_member,
    pretrain_members,
    pretrained_path,
    quiet,
    quiet_runner,
)

__all__ = [
    'demo_cache',
    'pretrain_member',
    'pretrain_members',
    'pretrained_path',
    'quiet',
    'quiet_runner',
]
