"""ViNet-S (Jain et al., 2024) as a bikd_mm video saliency model."""

from bikd_mm.registry import MODELS

from .published import IMAGENET_MEAN, IMAGENET_STD, PublishedSaliencyModel


@MODELS.register_module()
class ViNetS(PublishedSaliencyModel):
    """ViNet-S: :class:`ViNetS3D` + :class:`ViNetSDecoder` (grouped,
    root grouping, bilinear upsampling).

    Built with the arguments of the released model, its ``state_dict()``
    has the keys and shapes of the released checkpoints
    (``vinet_rootgrouped_32_{DHF1K,Hollywood2}.pt``, bare state dicts:
    470 tensors, 9.5M parameters), so they load with ``strict=True`` as
    they are.

    Input, as the reference's three-member training reads it (the clip
    TMFI-Net gets): 32 consecutive frames ending at the target frame,
    224x384 RGB, ImageNet mean and std of ``[0, 1]`` frames. The release
    reshapes its stem for exactly 32 frames at 224x384; this model runs
    other sizes too. Output (tensor mode): maps ``[B, 1, 224, 384]``.

    Args:
        backbone (dict, optional): Overrides of the backbone config.
        decoder (dict, optional): Overrides of the decoder config.
        data_preprocessor (dict, optional): Overrides of the
            preprocessor.
        **kwargs: ``loss``, ``init_cfg`` of :class:`VideoSaliencyModel`.
    """

    BACKBONE = dict(type='ViNetS3D')
    DECODER = dict(type='ViNetSDecoder')
    DATA_PREPROCESSOR = dict(
        type='VideoSaliencyDataPreprocessor',
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        size=(224, 384),
    )
