"""Refuse, when a segmentation pair is built, members that pad the batch
differently.

Every member pads the shared batch with its own ``SegDataPreProcessor``.
The KD term compares the members' predictions pixel by pixel, so their
padded labels must have one shape; a mismatch would only show at the
first training step. Padded label pixels take ``seg_pad_val``, which must
be the member's ``ignore_index``, or they would count as a class (and be
refused as labels outside the classes, also only at the first step).
"""

import torch.nn as nn


def _padding(model: nn.Module) -> tuple:
    pre = model.data_preprocessor
    size = getattr(pre, 'size', None)
    return (
        tuple(size) if size is not None else None,
        getattr(pre, 'size_divisor', None),
        getattr(pre, 'seg_pad_val', None),
    )


def check_same_padding(members: dict, ignore_index: dict) -> None:
    """Refuse members whose preprocessors pad to different sizes.

    Args:
        members (dict[str, nn.Module]): The member models by name.
        ignore_index (dict[str, int]): Each member's ``ignore_index``.

    Raises:
        ValueError: Naming the members and their ``size`` /
            ``size_divisor`` / ``seg_pad_val``.
    """
    pads = {name: _padding(model) for name, model in members.items()}
    for name, (_, _, seg_pad_val) in pads.items():
        if seg_pad_val is not None and seg_pad_val != ignore_index[name]:
            raise ValueError(
                f'member {name!r}: data_preprocessor.seg_pad_val='
                f'{seg_pad_val} differs from its ignore_index='
                f'{ignore_index[name]}; padded label pixels would count as '
                'a class. Set seg_pad_val to the ignore_index'
            )
    sizes = {n: p[0] for n, p in pads.items() if p[0] is not None}
    if len(set(sizes.values())) > 1:
        raise ValueError(
            'members pad the batch to different sizes: '
            + ', '.join(f'{n} size={s}' for n, s in sizes.items())
            + '; give every member the same data_preprocessor size'
        )
    if not sizes:
        return
    size = next(iter(sizes.values()))
    for name, (own, divisor, _) in pads.items():
        if own is None and divisor and any(s % divisor for s in size):
            raise ValueError(
                f'members pad the batch to different sizes: '
                f'{next(iter(sizes))!r} to size={size}, {name!r} to '
                f'multiples of size_divisor={divisor}; give every member '
                'the same data_preprocessor size'
            )
