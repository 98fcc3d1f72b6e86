from .checkpoint import (
    UnsafeCheckpointError,
    load_checkpoint_file,
    load_state_dict_safely,
    save_atomic,
)

__all__ = [
    'UnsafeCheckpointError',
    'load_checkpoint_file',
    'load_state_dict_safely',
    'save_atomic',
]
