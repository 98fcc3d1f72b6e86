import os
import os.path as osp
import weakref

import torch.distributed as dist
import torch.nn as nn
from mmengine.config import Config
from mmengine.dist import master_only
from mmengine.hooks import CheckpointHook
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from bikd_mm.engine.runner.build_checks import (
    check_dataset_classes,
    check_pair_config,
)
from bikd_mm.engine.runner.checkpoint_files import (
    check_load_from,
    check_resumable,
    find_resumable_checkpoint,
    partial_name,
    remove_partial_checkpoints,
)
from bikd_mm.engine.runner.config_checks import check_runner_options
from bikd_mm.engine.runner.cpu_distributed import (
    revert_sync_bn_without_cuda,
    use_gloo_without_cuda,
)
from bikd_mm.engine.runner.named_pipeline import name_pipeline_errors
from bikd_mm.engine.runner.pair_config import (
    expand_pair_config,
    is_pair_config,
    member_lr_curves,
)
from bikd_mm.engine.runner.work_dir_lock import WorkDirLock
from bikd_mm.models.member import DEFAULT_MIN_LOADED
from bikd_mm.patches import (
    checkpoint_globals,
    cpu_dist_init,
    history_buffer_state,
)
from bikd_mm.utils.checkpoint import UNSAFE_ENV, load_checkpoint_file
from bikd_mm.utils.io import commit_file

_LOST_RANK_SIGNS = (
    'Connection closed by peer',
    'Connection reset by peer',
    # gloo's message when a collective exceeds the process-group timeout.
    'Timed out waiting',
    'NCCL',
    'ProcessGroup',
)


def _start_rank(launcher: str) -> int:
    """This process' rank before the process group exists (from the
    launcher's environment)."""
    if launcher == 'none':
        return 0
    for var in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK', 'PMI_RANK'):
        if os.environ.get(var, '').isdigit():
            return int(os.environ[var])
    return 0


def _is_local(path: str) -> bool:
    return '://' not in str(path)


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else ''


def _is_lost_rank_error(err: Exception) -> bool:
    """Whether ``err`` is a collective operation failing on a lost peer."""
    return isinstance(err, dist.DistError) or any(
        sign in str(err) for sign in _LOST_RANK_SIGNS
    )


@RUNNERS.register_module()
class BiKDRunner(Runner):
    """The MMEngine runner, for configs whose model is a Bi-KD pair.

    Before building, the config is completed from the members' own configs
    by :func:`expand_pair_config` (per-member optimizers and schedulers,
    per-member evaluation, the distributed wrapper), and each member's
    learning-rate curve is checked and logged once (base rate, peak, final
    rate, schedule length; see :mod:`.lr_schedule_check`). Select it with
    ``runner_type = 'BiKDRunner'`` so that stock ``tools/train.py`` scripts
    run pair configs too.

    Checkpoints are handled safely (see ``docs/reliability.md``):

    - saving writes ``.<name>.part``, flushes it to disk and renames it, so
      a killed run never leaves a partial ``iter_<n>.pth``; the stock
      ``CheckpointHook`` is replaced by :class:`BiKDCheckpointHook`, which
      deletes outdated checkpoints only after the new one is complete;
    - loading (``load_from``, resume) unpickles with ``weights_only=True``
      and refuses files that need more unless the config sets
      ``allow_unsafe_checkpoint = True``;
    - auto-resume takes the newest checkpoint that loads, skipping
      unreadable ones with a warning, and deletes partial files;
    - a resume from a checkpoint that is not a training checkpoint of the
      same members (renamed, added, removed or reordered; a member or
      single-model checkpoint; an exported file) is refused, saying what
      the file holds and what to do; ``load_from`` is refused when it
      gives a member less than ``load_from_min_loaded`` (default 0.5) of
      its tensors.

    From its start until it has trained (or tested), the run holds
    ``<work_dir>/.bikd_run.lock``: a run of another process in the same
    work dir is refused at its start, before it writes anything, with the
    holder's pid (see :mod:`.work_dir_lock`). Numeric and flag options of
    the runner and of each member's optimizer wrapper are checked when it
    is built (see :mod:`.config_checks`). A data pipeline error (a corrupt
    image or annotation) names the sample's files (see
    :mod:`.named_pipeline`).

    Without CUDA, a distributed run uses gloo and runs SyncBN layers as
    BatchNorm (see :mod:`.cpu_distributed`).

    In distributed training, a rank that loses another rank (it crashed,
    was killed or hangs past ``env_cfg.dist_cfg.timeout``) stops with an
    error that says so, instead of the backend's bare message.

    Library patches, each only while the runner acts (see the table in
    :mod:`bikd_mm.patches`): mmengine's ``_init_dist_pytorch`` starts
    without CUDA during ``__init__`` (:func:`~bikd_mm.patches.cpu_dist_init`);
    ``HistoryBuffer`` pickles without its statistics registry while a
    checkpoint is saved (:func:`~bikd_mm.patches.history_buffer_state`);
    torch's weights-only loader accepts mmengine's checkpoint objects
    while one is loaded (:func:`~bikd_mm.patches.checkpoint_globals`).
    """

    _preloaded: tuple[str, dict] | None = None
    _resuming = False

    @classmethod
    def from_cfg(cls, cfg: Config) -> 'BiKDRunner':
        check_runner_options(cfg)
        if cfg.get('allow_unsafe_checkpoint', False):
            # Read by every checkpoint load of the process, members' too.
            os.environ[UNSAFE_ENV] = '1'
        cfg = expand_pair_config(cfg.copy())
        if is_pair_config(cfg):
            check_pair_config(cfg)
        use_gloo_without_cuda(cfg)
        checkpoint = cfg.get('default_hooks', {}).get('checkpoint')
        if isinstance(checkpoint, dict) and checkpoint.get('type') in (
            'CheckpointHook',
            'mmengine.CheckpointHook',
            CheckpointHook,
        ):
            checkpoint['type'] = 'BiKDCheckpointHook'
        runner = super().from_cfg(cfg)
        if is_pair_config(cfg):
            model = runner.model
            check_dataset_classes(
                cfg, model.module if is_model_wrapper(model) else model
            )
        if is_pair_config(cfg) and cfg.get('train_cfg'):
            for name, curve in member_lr_curves(cfg).items():
                runner.logger.info(f'{name}: {curve.summary()}')
                for note in curve.notes:
                    runner.logger.info(f'{name}: {note}')
        return runner

    @staticmethod
    def build_dataloader(dataloader, *args, **kwargs):
        """Build a dataloader (see :meth:`Runner.build_dataloader`) whose
        dataset's pipeline errors name the sample's files (see
        :mod:`.named_pipeline`)."""
        loader = Runner.build_dataloader(dataloader, *args, **kwargs)
        name_pipeline_errors(getattr(loader, 'dataset', None))
        return loader

    def wrap_model(self, model_wrapper_cfg: dict | None, model: nn.Module):
        """Wrap as mmengine does; on the CPU, SyncBN runs as BatchNorm
        (see :mod:`.cpu_distributed`)."""
        model = revert_sync_bn_without_cuda(model, self.distributed)
        return super().wrap_model(model_wrapper_cfg, model)

    @master_only
    def save_checkpoint(
        self,
        out_dir: str,
        filename: str,
        file_client_args: dict | None = None,
        save_optimizer: bool = True,
        save_param_scheduler: bool = True,
        meta: dict | None = None,
        by_epoch: bool = True,
        backend_args: dict | None = None,
    ) -> None:
        """Save a checkpoint atomically (see :meth:`Runner.save_checkpoint`).

        Local files are written under a hidden partial name and renamed
        once complete; other storage backends are written as mmengine
        writes them.
        """
        local = (
            _is_local(out_dir)
            and file_client_args is None
            and backend_args is None
        )
        name = partial_name(filename) if local else filename
        with history_buffer_state():
            super().save_checkpoint(
                out_dir,
                name,
                file_client_args=file_client_args,
                save_optimizer=save_optimizer,
                save_param_scheduler=save_param_scheduler,
                meta=meta,
                by_epoch=by_epoch,
                backend_args=backend_args,
            )
        if local:
            commit_file(osp.join(out_dir, name), osp.join(out_dir, filename))

    def __init__(self, *args, **kwargs):
        work_dir = kwargs['work_dir'] if 'work_dir' in kwargs else args[1]
        self._work_dir_lock = None
        if _start_rank(kwargs.get('launcher', 'none')) == 0:
            # Before anything is written (logs, the config dump).
            lock = WorkDirLock(osp.abspath(work_dir)).acquire()
            self._work_dir_lock = lock
            weakref.finalize(self, lock.release)
        with cpu_dist_init():
            super().__init__(*args, **kwargs)

    def _release_work_dir(self) -> None:
        if self._work_dir_lock is not None:
            self._work_dir_lock.release()

    def train(self) -> nn.Module:
        """Train; name a lost rank when a collective operation fails.
        The work dir is released when training ends."""
        try:
            return super().train()
        except RuntimeError as err:
            if self.world_size > 1 and _is_lost_rank_error(err):
                timeout = (
                    self.cfg.get('env_cfg', {})
                    .get('dist_cfg', {})
                    .get('timeout', 'the default')
                )
                raise RuntimeError(
                    f'rank {self.rank} of {self.world_size} stopped at '
                    f'iteration {self.iter + 1}: another rank crashed, was '
                    'killed or did not answer within the process-group '
                    f'timeout ({timeout} s, env_cfg.dist_cfg.timeout). '
                    'Check the logs of the other ranks; resume with '
                    f'--resume. Backend error: {_first_line(err)}'
                ) from err
            raise
        finally:
            self._release_work_dir()

    def test(self) -> dict:
        """Test; the work dir is released when testing ends."""
        try:
            return super().test()
        finally:
            self._release_work_dir()

    def val(self) -> dict:
        """Validate; the work dir is released when validation ends."""
        try:
            return super().val()
        finally:
            self._release_work_dir()

    def resume(self, filename: str, *args, **kwargs) -> None:
        """Resume; the checkpoint must be a training checkpoint of the
        same members (see :func:`check_resumable`)."""
        self._resuming = True
        try:
            return super().resume(filename, *args, **kwargs)
        finally:
            self._resuming = False

    def load_or_resume(self) -> None:
        """Load or resume; auto-resume skips unreadable checkpoints."""
        if self._has_loaded:
            return None
        if self._resume and self._load_from is None:
            if self.rank == 0:
                remove_partial_checkpoints(self.work_dir)
            found = find_resumable_checkpoint(self.work_dir)
            if found is None:
                self.logger.info(
                    f'no checkpoint to resume in {self.work_dir}; '
                    'training starts from the beginning'
                )
                self._resume = False
            else:
                self._load_from = found[0]
                self._preloaded = found
                self.logger.info(f'auto-resume from {found[0]}')
        return super().load_or_resume()

    def load_checkpoint(
        self,
        filename: str,
        map_location='cpu',
        strict: bool = False,
        revise_keys: list = [(r'^module.', '')],  # noqa: B006 (as mmengine)
    ) -> dict:
        """Load a checkpoint with safe unpickling into the model.

        Local files and ``http(s)://`` addresses go through
        :func:`bikd_mm.utils.checkpoint.load_checkpoint_file` (clear errors
        for missing, corrupt or unsafe files), onto the CPU, from where the
        model and the optimizers copy the values to their devices; other
        schemes go through mmengine, which loads weights-only with
        :func:`bikd_mm.patches.checkpoint_globals`.
        """
        if self._preloaded is not None and self._preloaded[0] == filename:
            checkpoint = self._preloaded[1]
            self._preloaded = None
        elif _is_local(filename) or filename.startswith(
            ('http://', 'https://')
        ):
            checkpoint = load_checkpoint_file(filename, owner='runner')
        else:
            with checkpoint_globals():
                return super().load_checkpoint(
                    filename, map_location, strict, revise_keys
                )
        model = (
            self.model.module if is_model_wrapper(self.model) else self.model
        )
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        self._check_fits(filename, checkpoint, model)
        checkpoint = _load_checkpoint_to_model(
            model, checkpoint, strict, revise_keys=revise_keys
        )
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def _check_fits(self, filename: str, checkpoint, model) -> None:
        """Refuse a checkpoint that does not fit the pair: for a resume,
        one of another run (:func:`check_resumable`); for ``load_from``,
        one that gives a member less than ``load_from_min_loaded`` of its
        tensors (:func:`check_load_from`)."""
        members = getattr(model, 'members', None)
        if not isinstance(members, nn.ModuleDict):
            return
        names = list(members.keys())
        if self._resuming:
            check_resumable(filename, checkpoint, names, model.state_dict())
            return
        min_loaded = self.cfg.get('load_from_min_loaded')
        report = check_load_from(
            filename,
            checkpoint,
            names,
            model.state_dict(),
            DEFAULT_MIN_LOADED if min_loaded is None else min_loaded,
        )
        self.logger.info(f'load_from {filename}: {report}')
