"""Shared construction of the published saliency models."""

import copy

from .video_saliency_model import VideoSaliencyModel

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def with_defaults(given: dict | None, default: dict) -> dict:
    """``default`` updated by the keys of ``given`` (None: ``default``)."""
    cfg = copy.deepcopy(default)
    if given is not None:
        if not isinstance(given, dict):
            return given
        if given.get('type', cfg['type']) != cfg['type']:
            return copy.deepcopy(given)
        cfg.update(copy.deepcopy(given))
    return cfg


class PublishedSaliencyModel(VideoSaliencyModel):
    """A :class:`VideoSaliencyModel` built from a published model's layout.

    Subclasses state the released arguments as ``BACKBONE``, ``NECK``
    (None: no neck), ``DECODER`` and ``DATA_PREPROCESSOR``; each argument
    given here updates its default (a different ``type`` replaces it).

    Args:
        backbone (dict, optional): Overrides of ``BACKBONE``.
        neck (dict, optional): Overrides of ``NECK``.
        decoder (dict, optional): Overrides of ``DECODER``.
        data_preprocessor (dict, optional): Overrides of
            ``DATA_PREPROCESSOR``.
        **kwargs: ``loss``, ``init_cfg`` of :class:`VideoSaliencyModel`.
    """

    BACKBONE: dict
    NECK: dict | None = None
    DECODER: dict
    DATA_PREPROCESSOR: dict

    def __init__(
        self,
        backbone: dict | None = None,
        neck: dict | None = None,
        decoder: dict | None = None,
        data_preprocessor: dict | None = None,
        **kwargs,
    ) -> None:
        if self.NECK is not None:
            neck = with_defaults(neck, self.NECK)
        super().__init__(
            backbone=with_defaults(backbone, self.BACKBONE),
            neck=neck,
            decoder=with_defaults(decoder, self.DECODER),
            data_preprocessor=with_defaults(
                data_preprocessor, self.DATA_PREPROCESSOR
            ),
            **kwargs,
        )
