"""What one member's forward pass hands to a Bi-KD wrapper."""

from dataclasses import dataclass

from torch import Tensor


@dataclass
class MemberOutput:
    """One member's training forward pass, as every adapter returns it.

    Args:
        losses (dict): The member's own losses, exactly what its stock
            ``loss`` returns (unprefixed keys, e.g. ``decode.loss_ce``).
        logits (Tensor): What the transfer rule compares across members:
            class logits (``[B, C]`` or ``[B, C, h, w]``; log-probabilities
            for Mask2Former members) or saliency maps ``[B, 1, H, W]``.
        image_task_loss (Tensor, optional): Each image's total task loss
            ``[B]``, for members that select teachers by it (Mask2Former
            with ``selection_loss='task_loss'``); None otherwise.
    """

    losses: dict
    logits: Tensor
    image_task_loss: Tensor | None = None
