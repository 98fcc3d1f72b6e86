from .bikd_distributed_data_parallel import BiKDDistributedDataParallel

__all__ = ['BiKDDistributedDataParallel']
