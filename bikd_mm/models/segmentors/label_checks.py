"""Checks of the label maps of a segmentation training batch.

A stock pipeline may resize an image and its label map together; when it
does not, a label map of another size than its image would be silently
resized by the loss, or fail in ``torch.stack`` naming no file. A
three-channel (RGB) label PNG fails in the cross-entropy naming nothing;
labels outside the classes fail with an index error. Each is refused here
with the annotation file. A batch whose every label is ``ignore_index``
adds no task loss and no KD term; it is reported as a warning, since a
split whose labels are all ignored trains nothing.
"""

import logging

import torch
from mmengine.logging import print_log
from torch import Tensor


def annotation_of(sample) -> str:
    """The annotation file of ``sample`` (its image when unknown)."""
    meta = sample.metainfo
    return str(meta.get('seg_map_path', meta.get('img_path', '?')))


def check_label_shapes(inputs, data_samples: list) -> None:
    """Refuse label maps that are not one channel of the image's size.

    Args:
        inputs (list[Tensor] | Tensor): The batch images ``[C, H, W]``.
        data_samples (list[SegDataSample]): Their samples.

    Raises:
        ValueError: Naming the annotation file and both shapes.
    """
    for image, sample in zip(inputs, data_samples):
        label = sample.gt_sem_seg.data
        where = annotation_of(sample)
        if label.ndim != 3 or label.shape[0] != 1:
            raise ValueError(
                f'annotation {where}: a label map holds one class index per '
                f'pixel, got an array of shape {tuple(label.shape)}: '
                'is it an RGB or RGBA (colour) PNG? Save the class indices '
                'as a one-channel (grayscale or palette) PNG'
            )
        if tuple(label.shape[-2:]) != tuple(image.shape[-2:]):
            height, width = label.shape[-2:]
            raise ValueError(
                f'annotation {where}: label map of {height}x{width} for the '
                f'image {sample.metainfo.get("img_path", "?")} of '
                f'{image.shape[-2]}x{image.shape[-1]} (height x width); '
                'the labels would not line up with the pixels. Resize '
                'both in the pipeline (transforms after LoadAnnotations '
                'resize the labels too) or fix the annotation'
            )


class UnlabelledBatches:
    """Counts training batches without a labelled pixel and warns.

    The warning names the files of the batch; it is given for the 1st,
    10th, 100th, ... such batch, with the count, so a split whose labels
    are all ``ignore_index`` is reported without flooding the log.

    Args:
        owner (str): Who checks, for the message.
    """

    def __init__(self, owner: str):
        self.owner = owner
        self.count = 0

    def add(self, data_samples: list, ignore_index: int) -> None:
        """Count one batch without a labelled pixel."""
        self.count += 1
        if str(self.count).rstrip('0') != '1':  # 1, 10, 100, ...
            return
        files = [annotation_of(s) for s in data_samples]
        print_log(
            f'{self.owner}: {self.count} training batch(es) so far without '
            f'a labelled pixel; in this one every label of {files[:8]}'
            f'{" ..." if len(files) > 8 else ""} is ignore_index '
            f'{ignore_index}, so it adds no task loss and no KD term. If '
            'every batch is like this the training split trains nothing: '
            'check its annotations (label values, reduce_zero_label, '
            'a palette PNG saved as colours)',
            logger='current',
            level=logging.WARNING,
        )


def check_label_values(
    data_samples: list,
    num_classes: int,
    ignore_index: int,
    unlabelled: UnlabelledBatches | None = None,
) -> None:
    """Refuse labels that are neither a class nor ``ignore_index``; count a
    batch without a labelled pixel.

    One device-to-host copy per step in the common, valid case.

    Args:
        data_samples (list[SegDataSample]): The batch samples.
        num_classes (int): Classes ``0 .. num_classes - 1``.
        ignore_index (int): The ignored label.
        unlabelled (UnlabelledBatches, optional): Where to count a batch
            whose every label is ``ignore_index``.

    Raises:
        ValueError: Naming the annotation file, the values and the range.
    """

    def outside(label: Tensor) -> Tensor:
        return (label != ignore_index) & ((label < 0) | (label >= num_classes))

    if not data_samples:
        return
    labels = [s.gt_sem_seg.data for s in data_samples]
    bad = torch.stack([outside(label).any() for label in labels]).any()
    labelled = torch.stack([(label != ignore_index).any() for label in labels])
    any_bad, any_labelled = torch.stack([bad, labelled.any()]).tolist()
    if not any_labelled and unlabelled is not None:
        unlabelled.add(data_samples, ignore_index)
    if not any_bad:
        return
    for sample, label in zip(data_samples, labels):
        wrong = outside(label)
        if wrong.any():
            values = label[wrong].unique().tolist()
            raise ValueError(
                f'annotation {annotation_of(sample)}: labels {values[:10]} '
                f'are outside the {num_classes} classes 0..'
                f'{num_classes - 1} and are not ignore_index '
                f'{ignore_index}; check the dataset classes and '
                'reduce_zero_label'
            )
