"""Top-1 pixel accuracy without host synchronisation.

The patch and its replacement function live in :mod:`bikd_mm.patches`
(see its table); this module names them where the segmentor uses them.
"""

from bikd_mm.patches import pixel_accuracy, sync_free_accuracy

__all__ = ['pixel_accuracy', 'sync_free_accuracy']
