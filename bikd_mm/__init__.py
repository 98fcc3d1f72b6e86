"""bikd_mm: bidirectional knowledge transfer between pretrained models.

Importing the package applies the compatibility fixes of
:mod:`bikd_mm.utils.compat` and registers every component, so a config's
``custom_imports=dict(imports=['bikd_mm'])`` is all stock tools need.
"""

from .utils.compat import apply_compat
from .version import __version__

apply_compat()

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__all__ = ['__version__', 'apply_compat']
