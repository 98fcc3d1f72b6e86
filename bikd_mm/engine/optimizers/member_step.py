"""Parameter update of all members after one shared backward pass."""

from contextlib import ExitStack

import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict
from torch import Tensor


class NonFiniteLossError(FloatingPointError):
    """A member's loss became NaN or infinite."""


def check_finite_losses(log_vars: dict, member_names: list) -> None:
    """Stop training on a non-finite loss, naming the member and iteration.

    Args:
        log_vars (dict): Parsed loss values (``<member>.<key>``, ``kd.*``).
        member_names (list[str]): Member names, to attribute each key.

    Raises:
        NonFiniteLossError: If any loss value is NaN or infinite.
    """
    keys = [k for k in log_vars if 'loss' in k]
    if not keys:
        return
    # One device-to-host copy for the common case where all are finite.
    values = torch.stack(
        [torch.as_tensor(log_vars[k]).detach().float() for k in keys]
    )
    if bool(torch.isfinite(values).all()):
        return
    finite = torch.isfinite(values).tolist()
    bad = [k for k, ok in zip(keys, finite) if not ok]
    owners = sorted(
        {k.split('.', 1)[0] for k in bad if k.split('.', 1)[0] in member_names}
    )
    it = MessageHub.get_current_instance().get_info('iter', None)
    where = f' at iteration {it + 1}' if it is not None else ''
    raise NonFiniteLossError(
        f'non-finite loss{where} in member(s) {owners or ["kd"]}: '
        + ', '.join(f'{k}={float(values[keys.index(k)])}' for k in bad)
        + '. Training stopped; the last saved checkpoint is untouched.'
    )


def update_members(loss: Tensor, optim_wrapper, member_names: list) -> None:
    """Backward once and step every member's optimizer.

    Args:
        loss (Tensor): The summed loss of the pair.
        optim_wrapper (OptimWrapper | OptimWrapperDict): A single wrapper
            over the whole pair, or one wrapper per member name.
        member_names (list[str]): Member names in order.
    """
    # OptimWrapperDict subclasses OptimWrapper: test for it first.
    if not isinstance(optim_wrapper, OptimWrapperDict):
        optim_wrapper.update_params(loss)
        return
    wrappers = [optim_wrapper[name] for name in member_names]
    amp = [isinstance(w, AmpOptimWrapper) for w in wrappers]
    if any(amp):
        # One backward pass means one loss scale: the first member's
        # scaler scales, unscales and steps every member's optimizer.
        scaler = wrappers[0].loss_scaler
        scaler.scale(loss).backward()
        for w in wrappers:
            scaler.unscale_(w.optimizer)
            if w.clip_grad_kwargs:
                _clip(w)
            scaler.step(w.optimizer)
        scaler.update()
    else:
        loss.backward()
        for w in wrappers:
            w.step()
    for w in wrappers:
        w.zero_grad()


def _clip(wrapper: OptimWrapper) -> None:
    params = [
        p
        for group in wrapper.optimizer.param_groups
        for p in group['params']
        if p.grad is not None
    ]
    kwargs = dict(wrapper.clip_grad_kwargs)
    clip_type = kwargs.pop('type', 'norm')
    if not params:
        return
    if clip_type == 'value':
        torch.nn.utils.clip_grad_value_(params, **kwargs)
    else:
        torch.nn.utils.clip_grad_norm_(params, **kwargs)


def run_train_step(
    pair: BaseModel, runner_model: nn.Module, data, optim_wrapper
) -> dict:
    """One Bi-KD training step, shared by the model and its DDP wrapper.

    Args:
        pair (BaseModel): The Bi-KD model.
        runner_model (nn.Module): What to call for the forward pass: the
            model itself, or its distributed wrapper.
        data (dict): A batch from the dataloader.
        optim_wrapper (OptimWrapper | OptimWrapperDict): The optimizers.

    Returns:
        dict: Log variables.
    """
    with _optim_context(pair, optim_wrapper):
        data = pair.data_preprocessor(data, True)
        losses = runner_model._run_forward(data, mode='loss')
    parsed, log_vars = pair.parse_losses(losses)
    check_finite_losses(log_vars, pair.member_names)
    update_members(parsed, optim_wrapper, pair.member_names)
    return log_vars


def _optim_context(pair: BaseModel, optim_wrapper):
    if not isinstance(optim_wrapper, OptimWrapperDict):
        return optim_wrapper.optim_context(pair)
    stack = ExitStack()
    for name in pair.member_names:
        stack.enter_context(
            optim_wrapper[name].optim_context(pair.members[name])
        )
    return stack
