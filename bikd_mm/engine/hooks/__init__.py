from .bikd_checkpoint_hook import BiKDCheckpointHook
from .teacher_map_visualization_hook import TeacherMapVisualizationHook

__all__ = ['BiKDCheckpointHook', 'TeacherMapVisualizationHook']
