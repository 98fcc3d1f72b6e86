import torch
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS

from bikd_mm.engine.optimizers.member_step import run_train_step


@MODEL_WRAPPERS.register_module()
class BiKDDistributedDataParallel(MMDistributedDataParallel):
    """Distributed data parallel for Bi-KD models.

    The forward pass goes through DDP, so every member's gradients are
    all-reduced in the one backward pass; the update then steps each
    member's own optimizer, as in :meth:`BiKDSegmentor.train_step`. On a
    machine without CUDA (gloo), the module stays on the CPU and no device
    ids are given.

    Args:
        module (nn.Module): The Bi-KD model.
        device_ids (list[int], optional): CUDA device of this process.
        **kwargs: Passed to ``MMDistributedDataParallel``.
    """

    def __init__(self, module, device_ids=None, **kwargs):
        if not torch.cuda.is_available():
            device_ids = None
        kwargs.setdefault('broadcast_buffers', False)
        super().__init__(module=module, device_ids=device_ids, **kwargs)

    def train_step(self, data, optim_wrapper) -> dict:
        return run_train_step(self.module, self, data, optim_wrapper)
