from .bce_dice_loss import BCEDiceLoss
from .class_weighted_cross_entropy_loss import ClassWeightedCrossEntropyLoss

__all__ = ['BCEDiceLoss', 'ClassWeightedCrossEntropyLoss']
