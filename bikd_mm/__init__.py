"""bikd_mm: bidirectional knowledge transfer between pretrained models.

Importing the package registers every component and the ``bikd_mm::``
config scope, so a config's ``custom_imports=dict(imports=['bikd_mm'])``
is all stock tools need. It changes no library behaviour: the few patches
bikd_mm needs are applied only where its runner, models and tools act
(see the table in :mod:`bikd_mm.patches`).
"""

from .patches import register_config_scope
from .version import __version__

register_config_scope()

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__all__ = ['__version__']
