from .member_metric import MemberMetric

__all__ = ['MemberMetric']
