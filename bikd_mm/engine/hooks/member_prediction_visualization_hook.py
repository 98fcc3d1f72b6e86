import os
import os.path as osp

import cv2
import numpy as np
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from bikd_mm.engine.hooks.teacher_map_visualization_hook import colourise


@HOOKS.register_module()
class MemberPredictionVisualizationHook(Hook):
    """Paint every test image of a segmentation pair: image | ground truth
    | each member's prediction (``tools/test.py --show-dir``).

    Pictures go to ``<out_dir>/<image name>.png``, at the original image
    size; ``legend.txt`` beside them names the panels. Classification pairs
    are not painted (their predictions are labels, kept by ``--out``).

    Args:
        out_dir (str): The folder.
        ignore_index (int): Label drawn black. Defaults to 255.
    """

    priority = 'LOW'

    def __init__(self, out_dir: str, ignore_index: int = 255):
        self.out_dir = out_dir
        self.ignore_index = ignore_index

    def after_test_iter(
        self, runner, batch_idx: int, data_batch=None, outputs=None
    ) -> None:
        samples = [s for s in outputs or [] if 'members' in s]
        if not samples or 'pred_sem_seg' not in samples[0]:
            return
        os.makedirs(self.out_dir, exist_ok=True)
        meta = runner.test_dataloader.dataset.metainfo
        palette = np.array(
            meta.get('palette')
            or np.random.default_rng(0).integers(0, 255, (256, 3)),
            np.uint8,
        )
        model = runner.model
        model = model.module if is_model_wrapper(model) else model
        names = list(getattr(model, 'member_names', samples[0].members.keys()))
        with open(osp.join(self.out_dir, 'legend.txt'), 'w') as f:
            f.write('panels: image | ground truth | ' + ' | '.join(names))
            f.write('\n')
        for sample in samples:
            image = cv2.imread(sample.img_path)
            height, width = image.shape[:2]
            panels = [image]
            label = sample.get('gt_sem_seg')
            if label is not None:
                label = label.data[0].cpu().numpy()
            else:
                label = np.full((height, width), self.ignore_index)
            panels.append(colourise(label, palette, self.ignore_index))
            for name in names:
                pred = sample.members.get(name).pred_sem_seg.data[0]
                panels.append(
                    colourise(pred.cpu().numpy(), palette, self.ignore_index)
                )
            panels = [
                cv2.resize(p, (width, height), interpolation=cv2.INTER_NEAREST)
                for p in panels
            ]
            stem = osp.splitext(osp.basename(sample.img_path))[0]
            cv2.imwrite(
                osp.join(self.out_dir, f'{stem}.png'),
                np.concatenate(panels, axis=1),
            )
