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

    With gradient accumulation (``accumulative_counts`` in the members'
    wrappers, equal for all) the loss is scaled as mmengine scales it and
    the members step together on every ``accumulative_counts``-th call
    (and on the last iteration of training).

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
    check_same_accumulation(wrappers, member_names)
    # All wrappers count alike, so the first one's count scales the loss.
    lead = wrappers[0]
    loss = lead.scale_loss(loss)
    amp = [isinstance(w, AmpOptimWrapper) for w in wrappers]
    # One backward pass means one loss scale: the first member's scaler
    # scales, unscales and steps every member's optimizer.
    scaler = lead.loss_scaler if any(amp) else None
    (loss if scaler is None else scaler.scale(loss)).backward()
    for w in wrappers:
        w._inner_count += 1
    if not lead.should_update():
        return
    if scaler is not None:
        for w in wrappers:
            scaler.unscale_(w.optimizer)
            if w.clip_grad_kwargs:
                _clip(w)
            scaler.step(w.optimizer)
        scaler.update()
    else:
        for w in wrappers:
            w.step()
    for w in wrappers:
        w.zero_grad()


def check_same_accumulation(wrappers: list, member_names: list) -> None:
    """Refuse members that accumulate gradients over different counts: one
    backward pass serves them all."""
    counts = {
        name: w._accumulative_counts for name, w in zip(member_names, wrappers)
    }
    if len(set(counts.values())) > 1:
        raise ValueError(
            'optim_wrapper: every member must use the same '
            'accumulative_counts (one backward pass serves all members); '
            'got ' + ', '.join(f'{n}={c}' for n, c in counts.items())
        )


def name_grad_norms(optim_wrapper: OptimWrapperDict) -> None:
    """Log each member's clipped gradient norm as ``<member>.grad_norm``
    (``train/r50.grad_norm``) instead of one shared ``grad_norm``."""
    for name, wrapper in optim_wrapper.items():
        base = getattr(wrapper, 'grad_name', None)
        if base is not None and not base.startswith(f'{name}.'):
            wrapper.grad_name = f'{name}.{base}'


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
        norm = torch.nn.utils.clip_grad_norm_(params, **kwargs)
        wrapper.message_hub.update_scalar(
            f'train/{wrapper.grad_name}', float(norm)
        )


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
