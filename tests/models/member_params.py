"""Which of a pair's member parameters a training step changed."""

import torch


def snapshot(pair) -> dict:
    """A copy of every member's parameters, by member name."""
    return {
        n: [p.detach().clone() for p in m.parameters()]
        for n, m in pair.members.items()
    }


def assert_most_changed(pair, before: dict, share: float = 0.9) -> None:
    """Assert that each member changed more than ``share`` of its
    parameter tensors since ``before`` (:func:`snapshot`)."""
    for name, module in pair.members.items():
        changed = sum(
            not torch.equal(a, b)
            for a, b in zip(before[name], module.parameters())
        )
        assert changed > share * len(before[name]), name
