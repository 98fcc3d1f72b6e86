"""Safe, atomic checkpoint input and output.

Checkpoints are always unpickled with ``weights_only=True``. A file that
needs arbitrary unpickling is refused unless the caller opts in explicitly
(``allow_unsafe=True``, the ``allow_unsafe_checkpoint`` config key or the
``--allow-unsafe-checkpoint`` flag of the tools), since unpickling can run
arbitrary code. Weights-only loading accepts the objects that mmengine
checkpoints hold (:func:`bikd_mm.patches.checkpoint_globals`).
"""

import logging
import os
import os.path as osp
import pickle
import shutil
import urllib.error
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
import torch.nn as nn
from mmengine.logging import print_log

from bikd_mm.patches import checkpoint_globals
from bikd_mm.utils.io import atomic_path

UNSAFE_ENV = 'BIKD_ALLOW_UNSAFE_CHECKPOINT'
TIMEOUT_ENV = 'BIKD_DOWNLOAD_TIMEOUT'
DOWNLOAD_TIMEOUT = 60.0


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint needs arbitrary unpickling and was not trusted."""


def _cache_dir() -> str:
    return osp.join(torch.hub.get_dir(), 'checkpoints')


def download_checkpoint(
    url: str, timeout: float | None = None, owner: str = 'checkpoint'
) -> str:
    """Download ``url`` into torch's hub cache, atomically, with a timeout.

    Args:
        url (str): An ``http(s)://`` address.
        timeout (float, optional): Seconds to wait for the server to
            connect or send data. Defaults to ``BIKD_DOWNLOAD_TIMEOUT``
            from the environment, else 60.
        owner (str): Who asks for it, for error messages.

    Returns:
        str: The cached file (reused when already present).

    Raises:
        RuntimeError: If the address cannot be reached or read.
    """
    if timeout is None:
        timeout = float(os.environ.get(TIMEOUT_ENV, DOWNLOAD_TIMEOUT))
    os.makedirs(_cache_dir(), exist_ok=True)
    target = osp.join(_cache_dir(), osp.basename(url.split('?')[0]))
    if osp.isfile(target):
        return target
    try:
        with (
            atomic_path(target, suffix='.part') as tmp,
            open(tmp, 'wb') as out,
            urllib.request.urlopen(url, timeout=timeout) as response,
        ):
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise RuntimeError(
            f'{owner}: cannot download checkpoint {url} '
            f'(timeout {timeout:.0f} s): '
            f'{err}. Download it elsewhere and give its local path.'
        ) from err
    return target


def load_checkpoint_file(
    filename: str, allow_unsafe: bool | None = None, owner: str = 'checkpoint'
) -> dict:
    """Load a checkpoint file or URL with safe unpickling.

    Args:
        filename (str): Local path or ``http(s)://`` URL.
        allow_unsafe (bool, optional): Fall back to full unpickling for
            files that need it. Defaults to the environment variable
            ``BIKD_ALLOW_UNSAFE_CHECKPOINT=1``, else False.
        owner (str): Who asks for it, for error messages.

    Returns:
        dict: The loaded object; a ``.safetensors`` file (timm and Hugging
        Face weights, which hold no code) as ``dict(state_dict=...)``.
    """
    if allow_unsafe is None:
        allow_unsafe = os.environ.get(UNSAFE_ENV, '0') == '1'
    if filename.startswith(('http://', 'https://')):
        filename = download_checkpoint(filename, owner=owner)
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'{owner}: checkpoint file not found: {filename}'
        )
    if filename.endswith('.safetensors'):
        return _load_safetensors(filename, owner)
    try:
        with checkpoint_globals():
            return torch.load(filename, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        reason = _unpickler_reason(err)
        if 'global' not in reason.lower():
            # Not a refused type but bytes that are no pickle at all.
            raise RuntimeError(
                f'{owner}: cannot read checkpoint {filename} '
                f'(corrupt or not a torch file): {reason}'
            ) from err
        if not allow_unsafe:
            raise UnsafeCheckpointError(
                f'{owner}: {filename} holds objects that only full '
                'unpickling can rebuild, which can run arbitrary code. '
                'Only if you trust this file, opt in with '
                '`allow_unsafe_checkpoint=True` in the config, '
                '`--allow-unsafe-checkpoint` on the command line, or '
                f'{UNSAFE_ENV}=1. Details: {reason}'
            ) from err
        return torch.load(filename, map_location='cpu', weights_only=False)
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise RuntimeError(
            f'{owner}: cannot read checkpoint {filename} '
            f'(corrupt or not a torch file): {err}'
        ) from err


def _load_safetensors(filename: str, owner: str) -> dict:
    """Weights in the safetensors format (timm and Hugging Face hubs)."""
    try:
        from safetensors.torch import load_file
    except ImportError as err:
        raise RuntimeError(
            f'{owner}: {filename} is a safetensors file; install '
            'safetensors (pip install safetensors) to read it'
        ) from err
    try:
        return dict(state_dict=load_file(filename, device='cpu'))
    except Exception as err:
        raise RuntimeError(
            f'{owner}: cannot read checkpoint {filename} (corrupt or not '
            f'a safetensors file): {err}'
        ) from err


def _unpickler_reason(err: Exception) -> str:
    """The weights-only unpickler's own reason, without torch's advice."""
    text = str(err)
    marker = 'WeightsUnpickler error:'
    if marker in text:
        text = text.split(marker, 1)[1]
    return text.strip().split('\n')[0].split('. Please use')[0]


def extract_state_dict(checkpoint: dict) -> OrderedDict:
    """Return the model weights of a checkpoint, without ``module.``."""
    state = checkpoint
    for key in ('state_dict', 'model'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict):
        raise RuntimeError('checkpoint holds no state dict')
    return OrderedDict(
        (k[len('module.') :] if k.startswith('module.') else k, v)
        for k, v in state.items()
    )


@dataclass
class StateMatch:
    """How a checkpoint's tensors match a model's state dict.

    Args:
        total (int): Tensors of the model.
        loaded (list[str]): Model keys the checkpoint provides, same shape.
        missing (list[str]): Model keys the checkpoint lacks.
        unexpected (list[str]): Checkpoint keys the model lacks.
        mismatched (list[str]): ``'key: checkpoint (..) vs model (..)'``
            for keys of both with different shapes.
    """

    total: int
    loaded: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    unexpected: list = field(default_factory=list)
    mismatched: list = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    @property
    def share(self) -> float:
        """Share of the model's tensors that are loaded (1 for none)."""
        return len(self.loaded) / self.total if self.total else 1.0

    def counts(self) -> str:
        """``'loaded 3 of 4 tensors; missing 1, unexpected 0, ...'``."""
        return (
            f'loaded {len(self.loaded)} of {self.total} tensors; missing '
            f'{len(self.missing)}, unexpected {len(self.unexpected)}, '
            f'mis-shaped {len(self.mismatched)}'
        )

    def details(self) -> str:
        """The counts with the first keys of each kind."""

        def head(keys: list) -> str:
            more = f' ... and {len(keys) - 10} more' if len(keys) > 10 else ''
            return ', '.join(keys[:10]) + more

        return (
            f'missing keys ({len(self.missing)}): {head(self.missing)}; '
            f'unexpected keys ({len(self.unexpected)}): '
            f'{head(self.unexpected)}; '
            f'shape mismatches ({len(self.mismatched)}): '
            f'{head(self.mismatched)}'
        )


def match_state_dict(own: dict, state: dict) -> StateMatch:
    """Compare a checkpoint's ``state`` with a model's ``own`` state dict.

    Args:
        own (dict): The model's state dict.
        state (dict): The checkpoint's.

    Returns:
        StateMatch: Loaded, missing, unexpected and mis-shaped keys.
    """
    match = StateMatch(total=len(own))
    for key, value in state.items():
        if key not in own:
            match.unexpected.append(key)
        elif hasattr(value, 'shape') and value.shape != own[key].shape:
            match.mismatched.append(
                f'{key}: checkpoint {tuple(value.shape)} vs model '
                f'{tuple(own[key].shape)}'
            )
        else:
            match.loaded.append(key)
    match.missing = [k for k in own if k not in state]
    return match


def load_state_dict_safely(
    model: nn.Module,
    filename: str,
    strict: bool = True,
    owner: str = 'model',
    allow_unsafe: bool | None = None,
    min_loaded: float = 0.0,
    min_loaded_key: str = 'min_loaded',
) -> StateMatch:
    """Load weights from ``filename`` into ``model``.

    The numbers of loaded, missing, unexpected and mis-shaped tensors are
    logged (a warning when they are not all loaded).

    Args:
        model (nn.Module): Target model.
        filename (str): Local path or URL.
        strict (bool): Require exactly matching keys and shapes.
        owner (str): Who the model is, for error messages.
        allow_unsafe (bool, optional): See :func:`load_checkpoint_file`.
        min_loaded (float): Without ``strict``, the least share of the
            model's tensors the checkpoint must provide.
        min_loaded_key (str): The option that sets ``min_loaded``, for the
            message.

    Returns:
        StateMatch: How the checkpoint matched the model.

    Raises:
        RuntimeError: On missing, unexpected or mis-shaped keys (with
            ``strict``), or fewer than ``min_loaded`` loaded (without),
            listing them.
    """
    state = extract_state_dict(
        load_checkpoint_file(filename, allow_unsafe, owner)
    )
    own = model.state_dict()
    match = match_state_dict(own, state)
    if strict and not match.exact:
        raise RuntimeError(
            f'{owner}: checkpoint {filename} does not match the model '
            f'(another architecture?). {match.details()}'
        )
    if not strict and match.share < min_loaded:
        raise RuntimeError(
            f'{owner}: checkpoint {filename} (strict=False) {match.counts()}'
            f': {match.share:.0%} of the model, below {min_loaded_key}='
            f'{min_loaded:g} (another architecture, or keys under another '
            f'prefix?). {match.details()}. Lower {min_loaded_key} to '
            'accept it.'
        )
    print_log(
        f'{owner}: checkpoint {filename}: {match.counts()}',
        logger='current',
        level=logging.INFO if match.exact else logging.WARNING,
    )
    model.load_state_dict(
        OrderedDict((k, state[k]) for k in match.loaded), strict=False
    )
    return match


def save_atomic(obj: object, filename: str) -> None:
    """``torch.save`` to a temporary sibling, then commit it into place.

    Args:
        obj (object): What to save.
        filename (str): The final file; it is replaced only once the new
            content is completely on disk (see
            :func:`bikd_mm.utils.io.commit_file`).
    """
    with atomic_path(filename, suffix='.pth') as tmp:
        torch.save(obj, tmp)
