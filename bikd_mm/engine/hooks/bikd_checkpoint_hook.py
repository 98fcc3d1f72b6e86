import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from bikd_mm.utils.io import write_text_atomic


@HOOKS.register_module()
class BiKDCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook``, with an order that survives a kill.

    The stock hook deletes the oldest checkpoint (``max_keep_ckpts``)
    before it writes the new one and rewrites ``last_checkpoint`` in place,
    so a run killed while saving can be left without any complete
    checkpoint. This hook writes the new checkpoint first (atomically, see
    :class:`~bikd_mm.engine.runner.BiKDRunner`), then ``last_checkpoint``
    (atomically), and only then deletes the outdated checkpoint. Every
    option is the stock hook's; ``BiKDRunner`` uses it in place of
    ``CheckpointHook``.
    """

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        outdated = None
        if self.max_keep_ckpts > 0 and not (
            self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step
        ):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info(
                'keep_ckpt_ids', list(self.keep_ckpt_ids)
            )

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(
            self.out_dir, ckpt_filename
        )
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args,
        )
        if not is_main_process():
            return
        write_text_atomic(
            self.last_ckpt, osp.join(runner.work_dir, 'last_checkpoint')
        )
        if outdated is not None:
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(outdated)
            )
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)
