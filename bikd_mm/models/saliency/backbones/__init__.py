"""Video backbones of the saliency models."""

from .frame_wise_backbone import FrameWiseBackbone
from .s3d import S3D
from .video_swin_transformer import VideoSwinTransformer

__all__ = ['FrameWiseBackbone', 'S3D', 'VideoSwinTransformer']
