"""Tiny video saliency members and batches for the tests."""

import copy

import torch


def swin_member_model(**overrides) -> dict:
    """A tiny Video Swin + TMFI decoder model dict."""
    model = dict(
        type='VideoSaliencyModel',
        backbone=dict(
            type='VideoSwinTransformer',
            arch=dict(embed_dims=8, depths=(1, 1, 1, 1), num_heads=(1,) * 4),
            window_size=(2, 3, 3),
            drop_path_rate=0.0,
        ),
        decoder=dict(
            type='TMFIDecoder',
            in_channels=(8, 16, 32, 64),
            channels=8,
            head_channels=(8, 4, 4),
        ),
        data_preprocessor=dict(type='VideoSaliencyDataPreprocessor'),
    )
    model.update(copy.deepcopy(overrides))
    return model


def s3d_member_model(**overrides) -> dict:
    """A tiny S3D + ViNet decoder model dict, with its own normalisation
    and input size."""
    model = dict(
        type='VideoSaliencyModel',
        backbone=dict(type='S3D', width_ratio=0.125),
        decoder=dict(
            type='ViNetDecoder',
            in_channels=(24, 60, 104, 128),
            head_channels=(8, 4, 4),
        ),
        data_preprocessor=dict(
            type='VideoSaliencyDataPreprocessor',
            mean=(0.0, 0.0, 0.0),
            std=(255.0, 255.0, 255.0),
            size=(32, 32),
        ),
    )
    model.update(copy.deepcopy(overrides))
    return model


def fake_batch(
    batch: int = 2,
    frames: int = 4,
    size: tuple = (32, 48),
    gt_size: tuple | None = (24, 40),
    seed: int = 0,
) -> dict:
    """A batch as the saliency dataloader gives it (``uint8`` clips and
    plain-dict samples with a blob-shaped saliency map)."""
    gen = torch.Generator().manual_seed(seed)
    inputs = [
        torch.randint(0, 256, (frames, 3, *size), generator=gen).to(
            torch.uint8
        )
        for _ in range(batch)
    ]
    samples = []
    for i in range(batch):
        sample = dict(video=f'v{i % 2}', frame=i, ori_shape=size)
        if gt_size is not None:
            h, w = gt_size
            yy, xx = torch.meshgrid(
                torch.arange(h), torch.arange(w), indexing='ij'
            )
            cy, cx = torch.rand(2, generator=gen) * torch.tensor([h, w])
            sal = torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 20.0)
            fix = torch.zeros(h, w)
            fix[int(cy) % h, int(cx) % w] = 1
            fix[torch.randint(0, h, (3,), generator=gen), 3] = 1
            sample.update(gt_saliency=sal.float(), gt_fixation=fix)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
