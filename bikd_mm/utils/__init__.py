from .checkpoint import (
    UnsafeCheckpointError,
    load_checkpoint_file,
    load_state_dict_safely,
    save_atomic,
)
from .compat import apply_compat

__all__ = [
    'UnsafeCheckpointError',
    'apply_compat',
    'load_checkpoint_file',
    'load_state_dict_safely',
    'save_atomic',
]
