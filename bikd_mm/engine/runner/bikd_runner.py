from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from bikd_mm.engine.runner.pair_config import expand_pair_config
from bikd_mm.utils.compat import apply_compat


@RUNNERS.register_module()
class BiKDRunner(Runner):
    """The MMEngine runner, for configs whose model is a Bi-KD pair.

    Before building, the config is completed from the members' own configs
    by :func:`expand_pair_config` (per-member optimizers and schedulers,
    per-member evaluation, the distributed wrapper). Select it with
    ``runner_type = 'BiKDRunner'`` so that stock ``tools/train.py`` scripts
    run pair configs too.
    """

    @classmethod
    def from_cfg(cls, cfg: Config) -> 'BiKDRunner':
        apply_compat()
        return super().from_cfg(expand_pair_config(cfg.copy()))
