from .teacher_map_visualization_hook import TeacherMapVisualizationHook

__all__ = ['TeacherMapVisualizationHook']
