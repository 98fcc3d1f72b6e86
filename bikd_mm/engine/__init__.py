from .hooks import BiKDCheckpointHook, TeacherMapVisualizationHook
from .model_wrappers import BiKDDistributedDataParallel
from .optimizers import BiKDOptimWrapperConstructor
from .runner import BiKDRunner, expand_pair_config

__all__ = [
    'BiKDCheckpointHook',
    'BiKDDistributedDataParallel',
    'BiKDOptimWrapperConstructor',
    'BiKDRunner',
    'TeacherMapVisualizationHook',
    'expand_pair_config',
]
