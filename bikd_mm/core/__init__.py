"""Framework-free core of Bi-KD (plain PyTorch).

Bi-KD trains several pretrained members together: each is trained on its
task loss, and on every element (sample, pixel or image) the member that
does the task best there distils its prediction into the others.

Building blocks:

- :func:`select_teachers`: teaching member per element from scores;
  :class:`LowestScoreRule`: the lowest score (or one member) teaches, as a
  declared per-element rule.
- :func:`gt_confidence`: classification score, the probability of the
  ground truth.
- :func:`pixel_cross_entropy`, :func:`per_image_mean`,
  :func:`bce_dice_loss`: dense task losses (lower is better).
- :func:`masked_kl`, :func:`masked_kl_terms`: the distillation loss and its
  per-direction terms; :func:`binary_to_two_class` adapts sigmoid outputs.
- :func:`mask_classification_log_probs`: the per-pixel class distribution
  of a mask-classification model (Mask2Former).
- :func:`ce_and_masked_kl_terms`: per-element CE, teacher selection and
  masked KL of dense members in one pass over their logits, keeping only
  the logits for the backward pass, any selection and mutual learning;
  ``kernel=`` picks chunked PyTorch or fused Triton kernels (a pair with a
  per-element rule: :mod:`.ce_masked_kl_triton`; 2 to 4 members, any
  selection: :mod:`.ce_masked_kl_triton_n`).
- :func:`mutual_kl_terms`: every member distilling into every other on
  every element (Deep Mutual Learning), the unmasked baseline.

Reference loss for classification with the log-softmax computed once per
member::

    lps = [z.log_softmax(1) for z in logits]
    ce = [pixel_cross_entropy(lp, y, None, from_log_probs=True).mean()
          for lp in lps]
    conf = torch.stack([gt_confidence(lp, y, from_log_probs=True)
                        for lp in lps])
    teacher = select_teachers(conf, higher_is_better=True)
    loss = sum(ce) + masked_kl(lps, teacher, from_log_probs=True)

Segmentation selects by the lower loss instead, per pixel (``ce`` maps with
``valid = y != ignore_index``) or per image (:func:`per_image_mean`).
"""

from .ce_masked_kl import ce_and_masked_kl_terms
from .confidence import gt_confidence
from .distribution_kl import (
    MATLAB_EPS,
    distribution_kl,
    distribution_kl_terms,
)
from .mask_classification import mask_classification_log_probs
from .masked_kl import binary_to_two_class, masked_kl, masked_kl_terms
from .mutual_kl import mutual_kl_terms
from .selection import LowestScoreRule, select_teachers
from .task_losses import bce_dice_loss, per_image_mean, pixel_cross_entropy

__all__ = [
    'ce_and_masked_kl_terms',
    'LowestScoreRule',
    'MATLAB_EPS',
    'distribution_kl',
    'distribution_kl_terms',
    'bce_dice_loss',
    'binary_to_two_class',
    'gt_confidence',
    'mask_classification_log_probs',
    'masked_kl',
    'masked_kl_terms',
    'mutual_kl_terms',
    'per_image_mean',
    'pixel_cross_entropy',
    'select_teachers',
]
