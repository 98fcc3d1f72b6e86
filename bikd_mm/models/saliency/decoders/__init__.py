"""Decoders of the video saliency models: features to one map per clip."""

from .tmfi_decoder import TMFIDecoder
from .tmfi_net_decoder import TMFINetDecoder
from .vinet_a_decoder import ViNetADecoder
from .vinet_decoder import ViNetDecoder
from .vinet_s_decoder import ViNetSDecoder

__all__ = [
    'TMFIDecoder',
    'TMFINetDecoder',
    'ViNetADecoder',
    'ViNetDecoder',
    'ViNetSDecoder',
]
