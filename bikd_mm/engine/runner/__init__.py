from .bikd_runner import BiKDRunner
from .pair_config import expand_pair_config, is_pair_config

__all__ = ['BiKDRunner', 'expand_pair_config', 'is_pair_config']
