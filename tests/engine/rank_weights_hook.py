"""A test hook that saves each rank's final weights and batch sizes
(imported through a test config's ``custom_imports``)."""

import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RankWeightsHook(Hook):
    """Save ``rank<k>.pth`` after training: ``params`` (the model
    parameters) and ``batch_sizes`` (the images of each training step).

    Buffers (batch-norm statistics) are per rank, as in stock mmengine
    training without SyncBN, so only parameters are saved.
    """

    def __init__(self):
        self.batch_sizes = []

    def after_train_iter(
        self, runner, batch_idx, data_batch=None, outputs=None
    ) -> None:
        self.batch_sizes.append(len(data_batch['inputs']))

    def after_run(self, runner) -> None:
        model = runner.model
        model = model.module if is_model_wrapper(model) else model
        params = {k: v.detach() for k, v in model.named_parameters()}
        torch.save(
            dict(params=params, batch_sizes=self.batch_sizes),
            osp.join(runner.work_dir, f'rank{get_rank()}.pth'),
        )
