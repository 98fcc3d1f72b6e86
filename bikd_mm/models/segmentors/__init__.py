from .bikd_segmentor import BiKDSegmentor

__all__ = ['BiKDSegmentor']
