from .bikd_classifier import BiKDClassifier

__all__ = ['BiKDClassifier']
