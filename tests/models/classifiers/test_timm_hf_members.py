"""timm and Hugging Face classifiers as BiKDClassifier members, wrapped as
mmpretrain's TimmClassifier and HuggingFaceClassifier: their own losses,
preprocessing and checkpoints; and the reference's CoaT-Lite Mini + PiT-XS
pair config. Models are built without weights (nothing is downloaded)."""

import copy
import os.path as osp

import timm
import torch
import transformers
from mmengine.config import Config
from mmpretrain.registry import MODELS

import bikd_mm  # noqa: F401
from bikd_mm.engine.runner import expand_pair_config
from bikd_mm.utils.export import export_member

from .cls_fixtures import REPO, fake_batch
from .test_bikd_classifier import reference_kd

PAIR = osp.join(REPO, 'configs/bikd/cls_pair_coat-lite-mini_pit-xs.py')
PRE = dict(num_classes=10, mean=[127.5] * 3, std=[64.0] * 3, to_rgb=True)


def timm_member(tmp_path=None) -> dict:
    """A tiny timm ViT (timm's own test architecture) with label
    smoothing as its own loss."""
    return dict(
        name='timm_vit',
        model=dict(
            type='TimmClassifier',
            model_name='test_vit',
            pretrained=False,
            num_classes=10,
            img_size=32,
            loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1),
            data_preprocessor=dict(PRE, mean=[100.0] * 3),
        ),
    )


def hf_member(tmp_path) -> dict:
    """A tiny Hugging Face ViT, from a config folder (no hub access)."""
    folder = tmp_path / 'hf_vit'
    transformers.ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=10,
    ).save_pretrained(str(folder))
    return dict(
        name='hf_vit',
        model=dict(
            type='HuggingFaceClassifier',
            model_name=str(folder),
            pretrained=False,
            data_preprocessor=PRE,
        ),
    )


def build_pair(members):
    torch.manual_seed(0)
    return MODELS.build(dict(type='BiKDClassifier', members=members))


def test_own_losses_preprocessing_and_kd(tmp_path):
    pair = build_pair([timm_member(), hf_member(tmp_path)])
    batch = fake_batch(batch=6)
    data = pair.data_preprocessor(batch, True)
    losses = pair.loss(data['inputs'], data['data_samples'])
    logits = {}
    for name in pair.member_names:
        member = pair.members[name]
        # The member's own preprocessing and loss, as it trains alone.
        own = member.data_preprocessor(copy.deepcopy(batch), True)
        logits[name] = member(own['inputs'], mode='tensor')
        want = member.loss(own['inputs'], own['data_samples'])
        torch.testing.assert_close(losses[f'{name}.loss'], want['loss'])
    mean = pair.members['timm_vit'].data_preprocessor.mean.flatten()
    assert mean.tolist() == [100.0] * 3
    target = torch.cat([s.gt_label for s in batch['data_samples']])
    ref, _ = reference_kd(list(logits.values()), target)
    names = pair.member_names
    for (t, s), value in ref.items():
        torch.testing.assert_close(
            losses[f'kd.loss_{names[t]}_to_{names[s]}'], value
        )


def test_timm_and_hf_checkpoints_load_and_export(tmp_path):
    torch.manual_seed(1)
    net = timm.create_model(
        'test_vit', pretrained=False, num_classes=10, img_size=32
    )
    from safetensors.torch import save_file

    # timm's own weights file, as its hub ships it.
    save_file(net.state_dict(), str(tmp_path / 'timm_vit.safetensors'))
    hf = hf_member(tmp_path)
    hf_net = transformers.AutoModelForImageClassification.from_config(
        transformers.AutoConfig.from_pretrained(hf['model']['model_name'])
    )
    torch.save(hf_net.state_dict(), tmp_path / 'hf_vit.pth')
    members = [
        dict(timm_member(), checkpoint=str(tmp_path / 'timm_vit.safetensors')),
        dict(hf, checkpoint=str(tmp_path / 'hf_vit.pth')),
    ]
    pair = build_pair(members)
    pair.init_weights()  # members with checkpoints keep them
    for key, value in net.state_dict().items():
        torch.testing.assert_close(
            pair.members['timm_vit'].model.state_dict()[key], value
        )
    for key, value in hf_net.state_dict().items():
        torch.testing.assert_close(
            pair.members['hf_vit'].model.state_dict()[key], value
        )
    # A pair checkpoint loads back into the pair (resume, load_from) ...
    state = pair.state_dict()
    assert 'members.timm_vit.model.cls_token' in state
    again = build_pair([timm_member(), hf])
    assert not again.load_state_dict(state, strict=True).missing_keys
    for key, value in state.items():
        torch.testing.assert_close(again.state_dict()[key], value)
    # ... and exports timm-native and Hugging Face keys.
    ckpt = tmp_path / 'pair.pth'
    torch.save(dict(state_dict=state, meta={}), ckpt)
    out = export_member(str(ckpt), 'timm_vit', str(tmp_path / 'out.pth'))
    fresh = timm.create_model(
        'test_vit', pretrained=False, num_classes=10, img_size=32
    )
    fresh.load_state_dict(out['state_dict'])
    out = export_member(str(ckpt), 'hf_vit', str(tmp_path / 'hf_out.pth'))
    hf_net.load_state_dict(out['state_dict'])


def test_reference_pair_config_trains_what_the_reference_trains():
    cfg = expand_pair_config(Config.fromfile(PAIR))
    names = ['coat_lite_mini', 'pit_xs']
    members = cfg.model.members
    assert [m['name'] for m in members] == names
    assert [m['model']['model_name'] for m in members] == [
        'coat_lite_mini.in1k',
        'pit_xs_224.in1k',
    ]
    for name in names:
        optim = cfg.optim_wrapper[name].optimizer
        assert (optim.type, optim.lr, optim.weight_decay) == (
            'Adam',
            1e-6,
            1e-5,
        )
        (sched,) = cfg.param_scheduler[name]
        assert sched.type == 'ConstantLR' and sched.factor == 1.0
    assert cfg.train_cfg.max_epochs == 20
    assert cfg.train_dataloader.batch_size == 128
    train = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert train == [
        'LoadImageFromFile',
        'RandomResizedCrop',
        'RandomFlip',
        'ColorJitter',
        'PackInputs',
    ]
    test = cfg.test_dataloader.dataset.pipeline
    assert test[1].scale == 256 and test[2].crop_size == 224
    from mmpretrain.registry import TRANSFORMS

    jitter = TRANSFORMS.build(cfg.train_dataloader.dataset.pipeline[3])
    assert (jitter.brightness, jitter.contrast, jitter.saturation) == (
        (0.6, 1.4),
        (0.6, 1.4),
        (0.6, 1.4),
    )
    assert cfg.model.get('temperature', 1.0) == 1.0
    # Built without weights: the real architectures at 224 px.
    for member in members:
        member['model']['pretrained'] = False
    pair = build_pair(members)
    batch = fake_batch(batch=2, size=224, num_classes=1000)
    data = pair.data_preprocessor(batch, True)
    losses = pair.loss(data['inputs'], data['data_samples'])
    assert set(losses) >= {
        'coat_lite_mini.loss',
        'pit_xs.loss',
        'kd.loss_coat_lite_mini_to_pit_xs',
        'kd.loss_pit_xs_to_coat_lite_mini',
    }
