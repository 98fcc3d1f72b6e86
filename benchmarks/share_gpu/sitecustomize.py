"""Let ``tools/dist_train.sh`` start more processes than visible GPUs.

Put this folder on ``PYTHONPATH`` and set ``BIKD_RANKS_SHARE_GPU=1``:
each process started by ``torch.distributed.run`` then gets
``LOCAL_RANK`` modulo the number of visible CUDA devices, so mmengine's
``torch.cuda.set_device(LOCAL_RANK)`` and DDP's device put every rank on
an existing device (``benchmarks/ddp_check.py``: 2 ranks on one GPU).
The launcher's own process and any process without the variable are
left alone.
"""

import os

if (
    os.environ.get('BIKD_RANKS_SHARE_GPU') == '1'
    and 'LOCAL_RANK' in os.environ
):
    import torch

    count = torch.cuda.device_count()
    if count:
        os.environ['LOCAL_RANK'] = str(int(os.environ['LOCAL_RANK']) % count)
