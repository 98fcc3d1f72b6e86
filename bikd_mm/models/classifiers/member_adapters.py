"""Run one member classifier through its public API for a Bi-KD step.

Members are mmpretrain ``ImageClassifier`` models, or timm and Hugging
Face classifiers as mmpretrain wraps them (``TimmClassifier``,
``HuggingFaceClassifier``).

An adapter returns, from a single forward pass, a
:class:`~bikd_mm.models.base_bikd_model.MemberOutput`: the member's own
losses (exactly what the stock ``model.loss`` returns) and the class
logits that selection and the KD term compare across members.
"""

import torch.nn as nn
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.models.heads import ClsHead, EfficientFormerClsHead
from torch import Tensor

from bikd_mm.models.base_bikd_model import MemberOutput


def _loss_is_score_then_get_loss(head: nn.Module) -> bool:
    """Whether ``head.loss(feats, s)`` is ``head._get_loss(head(feats), s)``.

    That is ``ClsHead.loss``; a head that overrides it may compute its
    scores differently in training (e.g. ArcFace adds a margin that needs
    the labels), so its training logits cannot be read off ``head(feats)``.
    """
    if not isinstance(head, ClsHead):
        return False
    if type(head).loss is ClsHead.loss:
        return True
    # Its override only refuses the distilled variant, then calls
    # ClsHead.loss.
    return isinstance(head, EfficientFormerClsHead) and not head.dist


class ImageClassifierAdapter:
    """Adapter for ``ImageClassifier`` members with a single-label head.

    Supported heads are the ``ClsHead`` family whose loss is the stock
    ``ClsHead.loss`` (``LinearClsHead``, ``VisionTransformerClsHead``,
    ``StackedLinearClsHead``, ``ConformerHead``, ...).

    Args:
        model (ImageClassifier): The member.
    """

    def __init__(self, model: ImageClassifier):
        self.model = model
        self.num_classes = getattr(model.head, 'num_classes', None) or getattr(
            model.data_preprocessor, 'num_classes', None
        )

    def forward_train(
        self, inputs: Tensor, data_samples: list
    ) -> MemberOutput:
        """Own losses and class logits of one batch.

        Returns:
            MemberOutput: The losses that ``model.loss`` would return
            (``loss``, and ``accuracy_top-k`` with ``cal_acc``) and the
            logits ``[B, C]``.
        """
        model = self.model
        feats = model.extract_feat(inputs)
        cls_score = model.head(feats)
        losses = model.head._get_loss(cls_score, data_samples)
        return MemberOutput(losses, self.logits(cls_score))

    @staticmethod
    def logits(cls_score) -> Tensor:
        """The logits the head predicts with.

        ``ConformerHead`` scores a batch twice (CNN and transformer branch)
        and predicts with their sum; other heads give one tensor.
        """
        if isinstance(cls_score, (tuple, list)):
            return sum(cls_score)
        return cls_score


class WrappedClassifierAdapter:
    """Adapter for mmpretrain's ``TimmClassifier`` and
    ``HuggingFaceClassifier`` members.

    Both wrap a whole classifier of another library (``model.model``) and
    compute the member's own loss (its ``loss_module``, e.g. label
    smoothing) from that network's logits with their ``_get_loss``; the
    member's data preprocessor and checkpoints (timm / Hugging Face keys)
    are the wrapper's own.

    The wrappers translate keys between their own checkpoints and timm's /
    Hugging Face's (without the ``model.`` of ``model.model``) with state
    dict hooks; PyTorch runs the saving hook only on the module whose
    ``state_dict`` is called, so inside a pair the saved keys would keep
    ``model.`` and the loading hook would add a second one. Once the
    member has loaded its checkpoint, the adapter removes both hooks:
    pair checkpoints hold the plain module keys
    (``members.<name>.model.<timm key>``), and the export writes timm /
    Hugging Face keys again (see :mod:`bikd_mm.utils.export`).

    Args:
        model (TimmClassifier | HuggingFaceClassifier): The member.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        _drop_key_hooks(model)
        net = model.model
        config = getattr(net, 'config', None)
        self.num_classes = (
            getattr(net, 'num_classes', None)
            or getattr(config, 'num_labels', None)
            or getattr(model.data_preprocessor, 'num_classes', None)
        )

    def forward_train(
        self, inputs: Tensor, data_samples: list
    ) -> MemberOutput:
        """Own losses (what ``model.loss`` returns) and logits ``[B, C]``."""
        logits = self.model(inputs, mode='tensor')
        return MemberOutput(self.model._get_loss(logits, data_samples), logits)


def _drop_key_hooks(model: nn.Module) -> None:
    """Remove a wrapper's ``model.`` prefix hooks (see above)."""
    cls = type(model)
    add = getattr(cls, '_add_state_dict_prefix', None)
    remove = getattr(cls, '_remove_state_dict_prefix', None)
    for key, hook in list(model._load_state_dict_pre_hooks.items()):
        if getattr(hook, 'hook', hook) is add:
            del model._load_state_dict_pre_hooks[key]
    for key, hook in list(model._state_dict_hooks.items()):
        if hook is remove:
            del model._state_dict_hooks[key]


def _wrapped_classes() -> tuple:
    """mmpretrain's wrappers of timm and Hugging Face classifiers."""
    from mmpretrain.models.classifiers import (
        HuggingFaceClassifier,
        TimmClassifier,
    )

    return TimmClassifier, HuggingFaceClassifier


def build_adapter(
    model: nn.Module, name: str
) -> ImageClassifierAdapter | WrappedClassifierAdapter:
    """Pick the adapter for a member model.

    Raises:
        TypeError: If no adapter supports the member's class or head.
    """
    if isinstance(model, _wrapped_classes()):
        return WrappedClassifierAdapter(model)
    if not isinstance(model, ImageClassifier):
        raise TypeError(
            f'member {name!r}: {type(model).__name__} is not supported as a '
            'Bi-KD classification member (supported: ImageClassifier, '
            'TimmClassifier, HuggingFaceClassifier)'
        )
    if not _loss_is_score_then_get_loss(model.head):
        raise TypeError(
            f'member {name!r}: head {type(model.head).__name__} is not '
            'supported (supported: single-label ClsHead subclasses that '
            'keep ClsHead.loss, e.g. LinearClsHead, '
            'VisionTransformerClsHead)'
        )
    return ImageClassifierAdapter(model)
