"""Video saliency models: backbones, decoders, losses, model, Bi-KD pair.

Everything registers in ``bikd_mm.registry.MODELS`` (scope ``bikd_mm``).
"""

from .backbones import S3D, FrameWiseBackbone, VideoSwinTransformer
from .bikd_saliency import BiKDSaliency
from .decoders import TMFIDecoder, ViNetDecoder
from .losses import (
    SaliencyCCLoss,
    SaliencyKLDCCLoss,
    SaliencyKLDLoss,
    saliency_cc,
    saliency_kld,
)
from .video_saliency_data_preprocessor import VideoSaliencyDataPreprocessor
from .video_saliency_model import VideoSaliencyModel

__all__ = [
    'BiKDSaliency',
    'FrameWiseBackbone',
    'S3D',
    'SaliencyCCLoss',
    'SaliencyKLDCCLoss',
    'SaliencyKLDLoss',
    'TMFIDecoder',
    'VideoSaliencyDataPreprocessor',
    'VideoSaliencyModel',
    'VideoSwinTransformer',
    'ViNetDecoder',
    'saliency_cc',
    'saliency_kld',
]
