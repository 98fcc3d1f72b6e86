"""Video backbones of the saliency models."""

from .frame_wise_backbone import FrameWiseBackbone
from .s3d import S3D
from .slow_fast import SlowFast
from .video_swin_transformer import VideoSwinTransformer
from .vinet_s3d import ViNetS3D

__all__ = [
    'FrameWiseBackbone',
    'S3D',
    'SlowFast',
    'VideoSwinTransformer',
    'ViNetS3D',
]
