"""A test hook that saves each rank's final weights (imported through a
test config's ``custom_imports``)."""

import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RankWeightsHook(Hook):
    """Save ``rank<k>.pth`` with the model parameters after training.

    Buffers (batch-norm statistics) are per rank, as in stock mmengine
    training without SyncBN, so only parameters are saved.
    """

    def after_run(self, runner) -> None:
        model = runner.model
        model = model.module if is_model_wrapper(model) else model
        params = {k: v.detach() for k, v in model.named_parameters()}
        torch.save(params, osp.join(runner.work_dir, f'rank{get_rank()}.pth'))
