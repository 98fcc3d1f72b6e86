"""Video saliency losses (registered in ``bikd_mm.registry.MODELS``)."""

from .functional import saliency_cc, saliency_kld
from .saliency_cc_loss import SaliencyCCLoss
from .saliency_kld_cc_loss import SaliencyKLDCCLoss
from .saliency_kld_loss import SaliencyKLDLoss

__all__ = [
    'SaliencyCCLoss',
    'SaliencyKLDCCLoss',
    'SaliencyKLDLoss',
    'saliency_cc',
    'saliency_kld',
]
