"""What members' heads return inside a pair's public ``loss()``.

Tests of the KD terms read each member's logits off its head with a
forward hook and check the pair's loss values and gradients against a
direct computation from those logits.
"""

import contextlib
from collections.abc import Callable

from torch import nn


@contextlib.contextmanager
def recorded_outputs(
    modules: dict[str, nn.Module],
    replace: dict[str, Callable] | None = None,
):
    """Record the output of each module while the block runs.

    Args:
        modules (dict[str, nn.Module]): The modules by member name, e.g.
            each member's decode head.
        replace (dict[str, Callable], optional): For some members, a
            function ``(output, recorded) -> output`` whose result the
            module returns instead (and is recorded), to set up a case
            such as a tie; ``recorded`` holds the outputs of the modules
            that ran before. Defaults to None.

    Yields:
        dict: ``{name: output}``, filled in as the modules run (the last
        call of each).
    """
    replace = replace or {}
    seen = {}

    def hook(name):
        def record(module, args, output):
            if name in replace:
                output = replace[name](output, seen)
            seen[name] = output
            return output

        return record

    handles = [
        module.register_forward_hook(hook(name))
        for name, module in modules.items()
    ]
    try:
        yield seen
    finally:
        for handle in handles:
            handle.remove()
