import copy

import torch.nn as nn
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

from .member_step import check_same_accumulation, name_grad_norms


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class BiKDOptimWrapperConstructor:
    """Build one optimizer wrapper per member of a Bi-KD model.

    Each member gets the optimizer wrapper its own config describes,
    including its ``constructor`` and ``paramwise_cfg`` (for example Swin's
    AdamW without weight decay on norms and position tables), built over
    that member's parameters only. The result is an ``OptimWrapperDict``
    keyed by member name, so each member can also keep its own parameter
    schedulers (``param_scheduler=dict(<name>=[...], ...)``). A member
    that clips its gradients logs their norm as ``<member>.grad_norm``.
    Gradient accumulation (``accumulative_counts``) must be the same for
    every member: one backward pass serves them all.

    Args:
        optim_wrapper_cfg (dict): ``{member_name: optim_wrapper config}``.
        paramwise_cfg (dict, optional): Must be None: give it per member.
    """

    def __init__(
        self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None
    ):
        if paramwise_cfg is not None:
            raise ValueError(
                'BiKDOptimWrapperConstructor: give '
                "paramwise_cfg inside each member's "
                'optim_wrapper, not at the top level'
            )
        self.member_cfgs = copy.deepcopy(dict(optim_wrapper_cfg))

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        module = model.module if is_model_wrapper(model) else model
        names = list(module.members.keys())
        missing = [n for n in names if n not in self.member_cfgs]
        unknown = [n for n in self.member_cfgs if n not in names]
        if missing or unknown:
            raise KeyError(
                f'optim_wrapper: no settings for members {missing}'
                if missing
                else f'optim_wrapper: unknown members {unknown}; members are '
                f'{names}'
            )
        wrappers = {}
        for name in names:
            cfg = copy.deepcopy(dict(self.member_cfgs[name]))
            constructor = cfg.pop(
                'constructor', 'DefaultOptimWrapperConstructor'
            )
            paramwise = cfg.pop('paramwise_cfg', None)
            builder = OPTIM_WRAPPER_CONSTRUCTORS.build(
                dict(
                    type=constructor,
                    optim_wrapper_cfg=cfg,
                    paramwise_cfg=paramwise,
                )
            )
            wrappers[name] = builder(module.members[name])
        wrappers = OptimWrapperDict(**wrappers)
        check_same_accumulation(list(wrappers.values()), names)
        name_grad_norms(wrappers)
        return wrappers
