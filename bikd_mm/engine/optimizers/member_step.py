"""The members' optimizer wrappers around one shared backward pass.

The training step itself (one backward, every member's optimizer, the
non-finite-loss stop) is :meth:`BaseBiKDModel.train_step
<bikd_mm.models.base_bikd_model.BaseBiKDModel.train_step>`, in
``bikd_mm/models/base_bikd_model.py``, so that a pair's step reads in the
model's files; its functions are named here too, for the distributed
wrapper and the optimizer-wrapper constructor.
"""

from mmengine.optim import OptimWrapperDict

from bikd_mm.models.base_bikd_model import (
    NonFiniteLossError,
    check_finite_losses,
    check_same_accumulation,
    run_train_step,
    update_members,
)

__all__ = [
    'NonFiniteLossError',
    'check_finite_losses',
    'check_same_accumulation',
    'name_grad_norms',
    'run_train_step',
    'update_members',
]


def name_grad_norms(optim_wrapper: OptimWrapperDict) -> None:
    """Log each member's clipped gradient norm as ``<member>.grad_norm``
    (``train/r50.grad_norm``) instead of one shared ``grad_norm``."""
    for name, wrapper in optim_wrapper.items():
        base = getattr(wrapper, 'grad_name', None)
        if base is not None and not base.startswith(f'{name}.'):
            wrapper.grad_name = f'{name}.{base}'
