"""Video saliency models: backbones, necks, decoders, losses, models,
Bi-KD pair.

The published models (:class:`TMFINet`, :class:`ViNetA`, :class:`ViNetS`)
load their authors' released checkpoints as they are. The other
combinations (Video Swin + :class:`TMFIDecoder`, S3D +
:class:`ViNetDecoder`, :class:`FrameWiseBackbone`) are bikd_mm's own
lighter designs. Everything registers in ``bikd_mm.registry.MODELS``
(scope ``bikd_mm``).
"""

from .backbones import (
    S3D,
    FrameWiseBackbone,
    SlowFast,
    VideoSwinTransformer,
    ViNetS3D,
)
from .bikd_saliency import BiKDSaliency
from .decoders import (
    TMFIDecoder,
    TMFINetDecoder,
    ViNetADecoder,
    ViNetDecoder,
    ViNetSDecoder,
)
from .losses import (
    SaliencyCCLoss,
    SaliencyKLDCCLoss,
    SaliencyKLDLoss,
    saliency_cc,
    saliency_kld,
)
from .necks import ViNetANeck
from .released import export_released
from .tmfi_net import TMFINet
from .video_saliency_data_preprocessor import VideoSaliencyDataPreprocessor
from .video_saliency_model import VideoSaliencyModel
from .vinet_a import ViNetA
from .vinet_s import ViNetS

__all__ = [
    'BiKDSaliency',
    'FrameWiseBackbone',
    'S3D',
    'SlowFast',
    'SaliencyCCLoss',
    'SaliencyKLDCCLoss',
    'SaliencyKLDLoss',
    'TMFIDecoder',
    'TMFINet',
    'TMFINetDecoder',
    'VideoSaliencyDataPreprocessor',
    'VideoSaliencyModel',
    'VideoSwinTransformer',
    'ViNetA',
    'ViNetADecoder',
    'ViNetANeck',
    'ViNetDecoder',
    'ViNetS',
    'ViNetS3D',
    'ViNetSDecoder',
    'export_released',
    'saliency_cc',
    'saliency_kld',
]
