from .bikd_optim_wrapper_constructor import BiKDOptimWrapperConstructor
from .member_step import (
    NonFiniteLossError,
    check_finite_losses,
    run_train_step,
    update_members,
)

__all__ = [
    'BiKDOptimWrapperConstructor',
    'NonFiniteLossError',
    'check_finite_losses',
    'run_train_step',
    'update_members',
]
