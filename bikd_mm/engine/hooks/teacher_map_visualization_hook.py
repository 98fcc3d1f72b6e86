import os
import os.path as osp

import cv2
import numpy as np
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

# Teacher colours (BGR), one per member; no teacher is black.
MEMBER_COLOURS = [
    (60, 60, 230),
    (230, 150, 40),
    (60, 200, 60),
    (0, 200, 230),
    (200, 60, 200),
    (200, 200, 200),
]


def colourise(
    labels: np.ndarray, palette: np.ndarray, ignore_index: int = 255
) -> np.ndarray:
    """Map a label image ``[H, W]`` to BGR with ``palette`` (RGB rows)."""
    out = np.zeros((*labels.shape, 3), np.uint8)
    known = (labels >= 0) & (labels < len(palette)) & (labels != ignore_index)
    out[known] = palette[labels[known]][:, ::-1]
    return out


def teacher_panel(teacher: np.ndarray) -> np.ndarray:
    """Colour each pixel by its teaching member (black: none)."""
    out = np.zeros((*teacher.shape, 3), np.uint8)
    for idx in range(int(teacher.max(initial=-1)) + 1):
        out[teacher == idx] = MEMBER_COLOURS[idx % len(MEMBER_COLOURS)]
    return out


@HOOKS.register_module()
class TeacherMapVisualizationHook(Hook):
    """Draw, every ``interval`` training iterations, one picture per sample:
    image | ground truth | each member's prediction | teacher map.

    Pictures go to ``<work_dir>/vis_teacher/iter_<n>_<i>.png``. The teacher
    map colours each pixel by the member that taught it (legend in
    ``legend.txt`` beside them); black pixels had no teacher (ignored
    label, or a tie that nobody teaches).

    Args:
        interval (int): Draw every ``interval`` iterations. Defaults to 50.
        max_samples (int): Samples drawn per batch. Defaults to 4.
        out_dir (str, optional): Folder; defaults to
            ``<work_dir>/vis_teacher``.
    """

    priority = 'LOW'

    def __init__(
        self,
        interval: int = 50,
        max_samples: int = 4,
        out_dir: str | None = None,
    ):
        self.interval = interval
        self.max_samples = max_samples
        self.out_dir = out_dir

    @staticmethod
    def _pair(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def before_train_iter(
        self, runner, batch_idx: int, data_batch=None
    ) -> None:
        pair = self._pair(runner)
        if hasattr(pair, 'record_kd_maps'):
            pair.record_kd_maps = self.every_n_train_iters(
                runner, self.interval
            )

    def after_train_iter(
        self, runner, batch_idx: int, data_batch=None, outputs=None
    ) -> None:
        pair = self._pair(runner)
        maps = getattr(pair, 'last_kd_maps', None)
        if not getattr(pair, 'record_kd_maps', False) or maps is None:
            return
        pair.record_kd_maps = False
        pair.last_kd_maps = None
        out_dir = self.out_dir or osp.join(runner.work_dir, 'vis_teacher')
        os.makedirs(out_dir, exist_ok=True)
        meta = runner.train_dataloader.dataset.metainfo
        palette = np.array(
            meta.get('palette')
            or np.random.default_rng(0).integers(0, 255, (256, 3)),
            np.uint8,
        )
        names = list(maps['preds'])
        with open(osp.join(out_dir, 'legend.txt'), 'w') as f:
            f.write(
                'panels: image | ground truth | '
                + ' | '.join(names)
                + ' | teacher\n'
            )
            for idx, name in enumerate(names):
                f.write(f'{name}: BGR {MEMBER_COLOURS[idx]}\n')
        for i in range(min(self.max_samples, maps['labels'].shape[0])):
            image = data_batch['inputs'][i]
            image = image.permute(1, 2, 0).cpu().numpy().astype(np.uint8)
            size = (image.shape[1], image.shape[0])

            def up(panel: np.ndarray, size=size) -> np.ndarray:
                return cv2.resize(panel, size, interpolation=cv2.INTER_NEAREST)

            panels = [
                np.ascontiguousarray(image),
                up(colourise(maps['labels'][i].cpu().numpy(), palette)),
            ]
            panels += [
                up(colourise(maps['preds'][n][i].cpu().numpy(), palette))
                for n in names
            ]
            panels.append(up(teacher_panel(maps['teacher'][i].cpu().numpy())))
            cv2.imwrite(
                osp.join(out_dir, f'iter_{runner.iter + 1}_{i}.png'),
                np.concatenate(panels, axis=1),
            )
