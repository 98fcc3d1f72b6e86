"""TMFI-Net (Zhou et al., 2023) as a bikd_mm video saliency model."""

from bikd_mm.registry import MODELS

from .published import IMAGENET_MEAN, IMAGENET_STD, PublishedSaliencyModel


@MODELS.register_module()
class TMFINet(PublishedSaliencyModel):
    """TMFI-Net: Video Swin-S backbone + :class:`TMFINetDecoder`.

    Built with the arguments of the released model, its ``state_dict()``
    has the keys and shapes of the released checkpoints
    (``best_VSTNet_{DHF1K,Hollywood2,UCF}.pth``, bare state dicts: 386
    tensors, 54.1M parameters), so they load with ``strict=True`` as they
    are, and a saved ``state_dict()`` is a file the release's code loads.

    Input: 32 consecutive frames ending at the target frame, 224x384 RGB,
    normalised by the ImageNet mean and std of ``[0, 1]`` frames (the
    data preprocessor takes ``uint8`` frames: the same statistics times
    255). Output (tensor mode): maps ``[B, 1, 224, 384]``.

    Args:
        backbone (dict, optional): Overrides of the backbone config
            (``VideoSwinTransformer`` arch ``'small'``, no patch norm,
            stochastic depth 0.2, window ``(8, 7, 7)``).
        decoder (dict, optional): Overrides of the decoder config.
        data_preprocessor (dict, optional): Overrides of the
            preprocessor.
        **kwargs: ``loss``, ``init_cfg`` of :class:`VideoSaliencyModel`.
    """

    BACKBONE = dict(
        type='VideoSwinTransformer',
        arch='small',
        patch_size=(2, 4, 4),
        window_size=(8, 7, 7),
        drop_path_rate=0.2,
        patch_norm=False,
    )
    DECODER = dict(type='TMFINetDecoder')
    DATA_PREPROCESSOR = dict(
        type='VideoSaliencyDataPreprocessor',
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        size=(224, 384),
    )
