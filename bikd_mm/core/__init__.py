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
- :func:`kd_terms`: the distillation term, ``KL(p_t || p_s)`` from each
  element's teacher ``t`` to every other member ``s``, as ``[N, N]``
  per-direction terms; the one entry point the Bi-KD models call. Its
  ``kernel=`` picks the implementation: ``'reference'`` (the formula in
  plain PyTorch), ``'chunked'``, ``'triton'`` or ``'auto'``. It takes
  logits, log-probabilities or distributions (saliency maps), a teacher
  index per element or, with labels, a selector of the members'
  cross-entropies (then also returning those, in one pass over the
  logits), and mutual learning (every member teaching everywhere).
- The kernels behind it, also usable alone: :func:`masked_kl`,
  :func:`masked_kl_terms` (chunked, with a recomputing backward),
  :func:`mutual_kl_terms` (Deep Mutual Learning, the unmasked baseline),
  :func:`ce_and_masked_kl_terms` (per-element CE, teacher selection and
  masked KL of dense members in one pass keeping only the logits; chunked
  PyTorch or the fused Triton kernels of :mod:`.ce_masked_kl_triton` and
  :mod:`.ce_masked_kl_triton_n`) and :func:`distribution_kl_terms`
  (distributions with the MIT benchmark's ``eps``-stabilised KL).
- :func:`distribution_kl`, :func:`generalized_kl`: the divergences of
  distributions and of positive maps; :func:`binary_to_two_class` adapts
  sigmoid outputs to the KL of logits.
- :func:`mask_classification_log_probs`: the per-pixel class distribution
  of a mask-classification model (Mask2Former).

Reference loss for classification with the log-softmax computed once per
member::

    lps = [z.log_softmax(1) for z in logits]
    ce = [pixel_cross_entropy(lp, y, None, from_log_probs=True).mean()
          for lp in lps]
    conf = torch.stack([gt_confidence(lp, y, from_log_probs=True)
                        for lp in lps])
    teacher = select_teachers(conf, higher_is_better=True)
    kd = kd_terms(lps, teacher, input_kind='log_probs').terms.sum()
    loss = sum(ce) + kd

Segmentation selects by the lower loss instead, per pixel (``ce`` maps with
``valid = y != ignore_index``) or per image (:func:`per_image_mean`).
"""

from .ce_masked_kl import ce_and_masked_kl_terms
from .confidence import gt_confidence
from .distribution_kl import (
    MATLAB_EPS,
    distribution_kl,
    distribution_kl_terms,
    generalized_kl,
)
from .kd_term import KDTerms, kd_terms
from .mask_classification import mask_classification_log_probs
from .masked_kl import binary_to_two_class, masked_kl, masked_kl_terms
from .mutual_kl import mutual_kl_terms
from .selection import LowestScoreRule, select_teachers
from .task_losses import bce_dice_loss, per_image_mean, pixel_cross_entropy

__all__ = [
    'KDTerms',
    'kd_terms',
    'ce_and_masked_kl_terms',
    'LowestScoreRule',
    'MATLAB_EPS',
    'distribution_kl',
    'distribution_kl_terms',
    'bce_dice_loss',
    'binary_to_two_class',
    'generalized_kl',
    'gt_confidence',
    'mask_classification_log_probs',
    'masked_kl',
    'masked_kl_terms',
    'mutual_kl_terms',
    'per_image_mean',
    'pixel_cross_entropy',
    'select_teachers',
]
