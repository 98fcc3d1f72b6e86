"""Segmentation scenes composed of Fashion-MNIST items."""

from .generate import (
    DEFAULTS,
    IGNORE_INDEX,
    ITEM_FIELDS,
    SCENE_CLASSES,
    VERSION,
    Placement,
    array_path,
    compose_scene,
    fashion_scenes_root,
    generate_split,
    ignore_ring,
    is_complete_fashion_scenes,
    prepare_fashion_scenes,
    scene_options,
)

__all__ = [
    'DEFAULTS',
    'IGNORE_INDEX',
    'ITEM_FIELDS',
    'SCENE_CLASSES',
    'VERSION',
    'Placement',
    'array_path',
    'compose_scene',
    'fashion_scenes_root',
    'generate_split',
    'ignore_ring',
    'is_complete_fashion_scenes',
    'prepare_fashion_scenes',
    'scene_options',
]
