"""Data pipeline errors that name the sample's files.

A corrupt or truncated image or annotation fails inside the decoder with a
message that names no file (PIL: ``cannot identify image file
<_io.BytesIO object at 0x...>``; OpenCV: ``!buf.empty() in function
'imdecode_'``). ``BiKDRunner`` wraps the pipeline of every dataset it
builds a dataloader for, so such an error is raised again, of the same
type where possible, with the sample's ``*_path`` entries (``img_path``,
``seg_map_path``, ...) in front of the original message.
"""

from mmengine.dataset import BaseDataset


class NamedPipeline:
    """A dataset pipeline whose errors name the sample's files.

    Args:
        pipeline (callable): The dataset's pipeline (a ``Compose``).
    """

    def __init__(self, pipeline):
        self.pipeline = pipeline

    @property
    def transforms(self) -> list:
        """The wrapped pipeline's transforms (hooks that switch them)."""
        return self.pipeline.transforms

    def __call__(self, results):
        files = (
            {
                k: v
                for k, v in results.items()
                if k.endswith('_path') and isinstance(v, str)
            }
            if isinstance(results, dict)
            else {}
        )
        try:
            return self.pipeline(results)
        except Exception as err:
            if not files:
                raise
            message = (
                f'cannot load the sample {files}: {type(err).__name__}: {err}'
            )
            try:
                named = type(err)(message)
            except Exception:
                named = RuntimeError(message)
            raise named from err

    def __repr__(self) -> str:
        return repr(self.pipeline)


def name_pipeline_errors(dataset) -> None:
    """Wrap the pipeline of ``dataset`` and of the datasets it wraps
    (``ConcatDataset``, ``RepeatDataset``, ...) in :class:`NamedPipeline`.

    Args:
        dataset: A built dataset.
    """
    seen, todo = set(), [dataset]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, BaseDataset) and not isinstance(
            current.pipeline, NamedPipeline
        ):
            current.pipeline = NamedPipeline(current.pipeline)
        inner = getattr(current, 'dataset', None)
        if inner is not None:
            todo.append(inner)
        todo.extend(getattr(current, 'datasets', None) or [])
