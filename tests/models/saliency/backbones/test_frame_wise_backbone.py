import pytest
import torch

pytest.importorskip('mmpretrain')

from bikd_mm.models.saliency import FrameWiseBackbone  # noqa: E402
from bikd_mm.registry import MODELS  # noqa: E402

RESNET = dict(
    type='ResNet', depth=18, base_channels=8, out_indices=(0, 1, 2, 3)
)


def test_frames_folded_and_unfolded():
    backbone = FrameWiseBackbone(RESNET, out_channels=(8, 16, 32, 64))
    assert backbone.out_channels == [8, 16, 32, 64]
    clip = torch.randn(2, 3, 4, 32, 48)
    feats = backbone(clip)
    assert [tuple(f.shape) for f in feats] == [
        (2, 8, 4, 8, 12),
        (2, 16, 4, 4, 6),
        (2, 32, 4, 2, 3),
        (2, 64, 4, 1, 2),
    ]
    backbone.eval()
    # Frame 2 of clip 1 equals the 2D backbone applied to that frame alone.
    alone = backbone.net(clip[1, :, 2][None])[1]
    assert torch.allclose(backbone(clip)[1][1, :, 2], alone[0], atol=1e-5)
    assert all(k.startswith('net.') for k in backbone.state_dict())


def test_loads_openmmlab_classifier_checkpoint(tmp_path):
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS

    source = PRETRAIN_MODELS.build(dict(RESNET, _scope_='mmpretrain'))
    path = str(tmp_path / 'cls.pth')
    state = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    state['head.fc.weight'] = torch.zeros(10, 64)
    torch.save(dict(state_dict=state), path)
    cfg = dict(
        RESNET,
        init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.'),
    )
    backbone = FrameWiseBackbone(cfg)
    backbone.init_weights()
    key = 'layer4.1.conv2.weight'
    assert torch.equal(
        backbone.net.state_dict()[key], source.state_dict()[key]
    )


def test_frame_wise_saliency_model():
    model = MODELS.build(
        dict(
            type='VideoSaliencyModel',
            backbone=dict(type='FrameWiseBackbone', backbone=RESNET),
            decoder=dict(
                type='TMFIDecoder',
                in_channels=(8, 16, 32, 64),
                channels=8,
                head_channels=(8, 4, 4),
                lateral_temporal_stride=4,
            ),
        )
    )
    maps = model(torch.randn(2, 3, 4, 32, 48))
    assert maps.shape == (2, 1, 32, 48)
