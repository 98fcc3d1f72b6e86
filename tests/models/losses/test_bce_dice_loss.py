"""BCEDiceLoss against a direct formula, and as a member's decode loss."""

import pytest
import torch
from mmseg.registry import MODELS

import bikd_mm  # noqa: F401
from tests.models.segmentors.seg_fixtures import fake_batch, member_model
from tests.models.segmentors.test_bikd_segmentor import (
    at_labels,
    pair_losses,
)


def direct(logits, labels, ignore=255, smooth=1.0):
    """Per image: mean over channels of mean-BCE + 1 - Dice, by hand."""
    batch, channels = logits.shape[:2]
    out = torch.zeros(batch)
    for b in range(batch):
        valid = labels[b] != ignore
        per_channel = []
        for c in range(channels):
            if channels == 1:
                y = (labels[b] == 1).float()
            else:
                y = (labels[b] == c).float()
            x = logits[b, c]
            p = torch.sigmoid(x)
            bce = -(y * torch.log(p) + (1 - y) * torch.log(1 - p))
            bce = bce[valid].mean()
            inter = (p * y)[valid].sum()
            dice = (2 * inter + smooth) / (
                p[valid].sum() + y[valid].sum() + smooth
            )
            per_channel.append(bce + 1 - dice)
        out[b] = torch.stack(per_channel).mean()
    return out


@pytest.mark.parametrize('channels', [1, 4])
def test_matches_direct_formula(channels):
    torch.manual_seed(0)
    logits = torch.randn(3, channels, 6, 7, dtype=torch.float64)
    labels = torch.randint(0, max(channels, 2), (3, 6, 7))
    labels[0, 0] = 255
    image = MODELS.build(dict(type='BCEDiceLoss', reduction='image'))
    torch.testing.assert_close(
        image(logits, labels), direct(logits, labels).double()
    )
    mean = MODELS.build(dict(type='BCEDiceLoss', loss_weight=2.0))
    torch.testing.assert_close(
        mean(logits, labels), 2 * direct(logits, labels).double().mean()
    )
    pixel = MODELS.build(dict(type='BCEDiceLoss', reduction='none'))
    per_pixel = pixel(logits, labels)
    assert per_pixel.shape == (3, 6, 7)
    assert torch.all(per_pixel[0, 0] == 0)


def test_bad_labels_and_names_are_refused():
    loss = MODELS.build(dict(type='BCEDiceLoss'))
    with pytest.raises(ValueError, match='0/1 labels'):
        loss(torch.randn(1, 1, 4, 4), torch.full((1, 4, 4), 3))
    with pytest.raises(ValueError, match='outside'):
        loss(torch.randn(1, 3, 4, 4), torch.full((1, 4, 4), 3))
    with pytest.raises(ValueError, match='loss_'):
        MODELS.build(dict(type='BCEDiceLoss', loss_name='bce'))


def test_as_member_decode_loss_in_a_pair():
    loss = dict(type='BCEDiceLoss')
    members = [
        dict(
            name=name,
            model=member_model(
                kind,
                decode_head=dict(loss_decode=loss),
                auxiliary_head=dict(loss_decode=loss),
            ),
        )
        for name, kind in (('cnn', 'cnn'), ('swin', 'swin'))
    ]
    pair = MODELS.build(dict(type='BiKDSegmentor', members=members))
    data = pair.data_preprocessor(fake_batch(), True)
    losses = pair(**data, mode='loss')
    assert torch.isfinite(losses['cnn.decode.loss_bce_dice'])
    assert torch.isfinite(losses['swin.aux.loss_bce_dice'])


def binary_member(name: str, kind: str) -> dict:
    loss = dict(type='BCEDiceLoss')
    head = dict(num_classes=2, out_channels=1, loss_decode=loss)
    return dict(
        name=name,
        model=member_model(kind, decode_head=head, auxiliary_head=dict(head)),
    )


def test_binary_members_select_by_bce_and_distil_bernoulli():
    torch.manual_seed(0)
    pair = MODELS.build(
        dict(
            type='BiKDSegmentor',
            kd_resolution='labels',
            members=[binary_member('a', 'cnn'), binary_member('b', 'swin')],
        )
    )
    assert pair.num_classes == 2
    losses, logits, labels = pair_losses(
        pair, fake_batch(num_classes=2, seed=0)
    )
    assert logits['a'].shape == (2, 1, 16, 16)
    valid = labels != 255
    assert not valid.all()
    y = labels.clamp(max=1).float()
    xa, xb = (at_labels(logits[n], labels)[:, 0] for n in 'ab')

    def bce(x):
        return -(
            y * torch.nn.functional.logsigmoid(x)
            + (1 - y) * torch.nn.functional.logsigmoid(-x)
        )

    a_teaches = (bce(xa) < bce(xb)) & valid  # ties: the last member
    b_teaches = ~(bce(xa) < bce(xb)) & valid
    assert a_teaches.any() and b_teaches.any()

    def bernoulli_kl(xt, xs):
        pt = torch.sigmoid(xt)
        return pt * (
            torch.nn.functional.logsigmoid(xt)
            - torch.nn.functional.logsigmoid(xs)
        ) + (1 - pt) * (
            torch.nn.functional.logsigmoid(-xt)
            - torch.nn.functional.logsigmoid(-xs)
        )

    n = valid.sum()
    torch.testing.assert_close(
        losses['kd.loss_a_to_b'], (bernoulli_kl(xa, xb) * a_teaches).sum() / n
    )
    torch.testing.assert_close(
        losses['kd.loss_b_to_a'], (bernoulli_kl(xb, xa) * b_teaches).sum() / n
    )
    assert torch.isfinite(losses['a.decode.loss_bce_dice'])


def test_bce_dice_selection_per_image():
    torch.manual_seed(3)
    pair = MODELS.build(
        dict(
            type='BiKDSegmentor',
            granularity='image',
            selection_loss='bce_dice',
            kd_resolution='labels',
            members=[binary_member('a', 'cnn'), binary_member('b', 'swin')],
        )
    )
    pair.record_kd_maps = True

    def worse_then_tied(out, recorded):
        # Images 0 and 1: b predicts the foreground everywhere with
        # certainty, far worse than a; images 2 and 3: b's logits are a's,
        # a tie that the last member (b) wins.
        certain = out[:2] * 0 + 20.0
        return torch.cat([certain, recorded['a'][2:].detach()])

    _, logits, labels = pair_losses(
        pair,
        fake_batch(batch=4, num_classes=2, seed=3, ignore_fraction=0.0),
        replace=dict(b=worse_then_tied),
    )
    teacher = pair.last_kd_maps['teacher']
    # One teacher per image.
    assert torch.equal(teacher, teacher[:, :1, :1].expand_as(teacher))
    score_a = direct(at_labels(logits['a'].double(), labels), labels)
    score_b = direct(at_labels(logits['b'].double(), labels), labels)
    want = torch.where(score_a < score_b, 0, 1)
    assert want.tolist() == [0, 0, 1, 1]
    assert torch.equal(teacher[:, 0, 0], want)
    with pytest.raises(ValueError, match='selection_loss'):
        MODELS.build(
            dict(
                type='BiKDSegmentor',
                selection_loss='dice',
                members=[
                    binary_member('a', 'cnn'),
                    binary_member('b', 'swin'),
                ],
            )
        )
