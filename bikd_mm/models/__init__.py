from .base_bikd_model import BaseBiKDModel
from .classifiers import BiKDClassifier
from .losses import BCEDiceLoss
from .member import MemberSpec, build_member, parse_members
from .saliency import (
    S3D,
    BiKDSaliency,
    FrameWiseBackbone,
    SaliencyCCLoss,
    SaliencyKLDCCLoss,
    SaliencyKLDLoss,
    TMFIDecoder,
    VideoSaliencyDataPreprocessor,
    VideoSaliencyModel,
    VideoSwinTransformer,
    ViNetDecoder,
)
from .segmentors import BiKDSegmentor

__all__ = [
    'BaseBiKDModel',
    'BCEDiceLoss',
    'BiKDClassifier',
    'BiKDSaliency',
    'BiKDSegmentor',
    'FrameWiseBackbone',
    'MemberSpec',
    'S3D',
    'SaliencyCCLoss',
    'SaliencyKLDCCLoss',
    'SaliencyKLDLoss',
    'TMFIDecoder',
    'ViNetDecoder',
    'VideoSaliencyDataPreprocessor',
    'VideoSaliencyModel',
    'VideoSwinTransformer',
    'build_member',
    'parse_members',
]
