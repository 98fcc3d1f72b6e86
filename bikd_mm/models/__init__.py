from .losses import BCEDiceLoss
from .member import MemberSpec, build_member, parse_members
from .segmentors import BiKDSegmentor

__all__ = [
    'BCEDiceLoss',
    'BiKDSegmentor',
    'MemberSpec',
    'build_member',
    'parse_members',
]
