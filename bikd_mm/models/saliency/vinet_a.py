"""ViNet-A (Jain et al., 2024) as a bikd_mm video saliency model."""

from bikd_mm.registry import MODELS

from .published import PublishedSaliencyModel


@MODELS.register_module()
class ViNetA(PublishedSaliencyModel):
    """ViNet-A: :class:`SlowFast` R50 + :class:`ViNetANeck` +
    :class:`ViNetADecoder` (32 groups, channel shuffle, skips).

    Built with the arguments of the released model, its ``state_dict()``
    has the keys and shapes of the released checkpoints
    (``ViNetA_{DHF1K,Hollywood2}_32g.pt``, bare state dicts: 655 tensors,
    38.7M parameters), so they load with ``strict=True`` as they are.

    Input: 32 frames at 256x456 RGB, normalised by mean 0.45 and std
    0.225 per channel of ``[0, 1]`` frames; on DHF1K the frames are taken
    at stride 2 around the target (16 before it, 15 after), on
    Hollywood-2 consecutively (16 before, 15 after). Output (tensor mode):
    maps ``[B, 1, 256, 456]``. The network needs 32 frames (8 slow
    frames).

    Args:
        backbone (dict, optional): Overrides of the ``SlowFast`` config.
        neck (dict, optional): Overrides of the neck config.
        decoder (dict, optional): Overrides of the decoder config.
        data_preprocessor (dict, optional): Overrides of the
            preprocessor.
        **kwargs: ``loss``, ``init_cfg`` of :class:`VideoSaliencyModel`.
    """

    BACKBONE = dict(type='SlowFast', layers=(3, 4, 6, 3), alpha=4, beta=0.125)
    NECK = dict(type='ViNetANeck')
    DECODER = dict(type='ViNetADecoder', groups=32, channel_shuffle=True)
    DATA_PREPROCESSOR = dict(
        type='VideoSaliencyDataPreprocessor',
        mean=(114.75, 114.75, 114.75),
        std=(57.375, 57.375, 57.375),
        size=(256, 456),
    )
