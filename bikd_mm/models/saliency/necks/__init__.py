"""Necks of the video saliency models: backbone features to decoder
inputs."""

from .vinet_a_neck import ViNetANeck

__all__ = ['ViNetANeck']
