"""Decoders of the video saliency models: features to one map per clip."""

from .tmfi_decoder import TMFIDecoder
from .vinet_decoder import ViNetDecoder

__all__ = ['TMFIDecoder', 'ViNetDecoder']
