from .bikd_checkpoint_hook import BiKDCheckpointHook
from .member_prediction_visualization_hook import (
    MemberPredictionVisualizationHook,
)
from .teacher_map_visualization_hook import TeacherMapVisualizationHook

__all__ = [
    'BiKDCheckpointHook',
    'MemberPredictionVisualizationHook',
    'TeacherMapVisualizationHook',
]
