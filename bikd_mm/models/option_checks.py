"""Build-time checks of option values.

The Bi-KD wrappers' options (:mod:`bikd_mm.models.bikd_options`, checked
once before any member is built), the member entries and the runner's
options use them, so a wrong value fails at once with a message naming its
owner, the option and the value, instead of training wrongly (a negative
``kd_weight`` pushes the members apart) or failing at the first step (a
NaN weight). A number given as a string, and a flag given as a string
(``'False'`` is true in Python), are refused too.
"""

import math
import numbers
from collections.abc import Sequence


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_weight(owner: str, name: str, value) -> float:
    """A finite number ``>= 0`` (a loss weight; 0 switches the term off).

    Args:
        owner (str): Who has the option, for the message.
        name (str): The option.
        value: Its value.

    Returns:
        float: ``value``.

    Raises:
        ValueError: If ``value`` is not a finite number ``>= 0``.
    """
    if not (_is_real(value) and math.isfinite(value) and value >= 0):
        raise ValueError(
            f'{owner}: {name} must be a finite number >= 0, got {value!r}'
        )
    return float(value)


def check_positive(owner: str, name: str, value) -> float:
    """A finite number ``> 0`` (a temperature, an epsilon, a timeout).

    Raises:
        ValueError: If ``value`` is not a finite number ``> 0``.
    """
    if not (_is_real(value) and math.isfinite(value) and value > 0):
        raise ValueError(
            f'{owner}: {name} must be a finite number > 0, got {value!r}'
        )
    return float(value)


def check_fraction(owner: str, name: str, value) -> float:
    """A number in ``[0, 1]``.

    Raises:
        ValueError: If ``value`` is not a number in ``[0, 1]``.
    """
    if not (_is_real(value) and 0 <= value <= 1):
        raise ValueError(
            f'{owner}: {name} must be a number in [0, 1], got {value!r}'
        )
    return float(value)


def check_count(owner: str, name: str, value, minimum: int = 1) -> int:
    """An integer ``>= minimum`` (an iteration count, an interval).

    Raises:
        ValueError: If ``value`` is not such an integer.
    """
    if not (
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
        and value >= minimum
    ):
        raise ValueError(
            f'{owner}: {name} must be an integer >= {minimum}, got {value!r}'
        )
    return int(value)


def check_flag(owner: str, name: str, value) -> bool:
    """``True`` or ``False``; a string such as ``'False'`` is refused.

    Raises:
        TypeError: If ``value`` is not a bool.
    """
    if not isinstance(value, bool):
        raise TypeError(
            f'{owner}: {name} must be True or False, got {value!r}'
        )
    return value


def check_choice(owner: str, name: str, value, choices: Sequence):
    """One of ``choices``.

    Raises:
        ValueError: If ``value`` is not one of them.
    """
    if value not in tuple(choices):
        raise ValueError(
            f'{owner}: {name} must be one of {tuple(choices)}, got {value!r}'
        )
    return value


def check_size(owner: str, name: str, value) -> tuple | None:
    """None or ``(height, width)``, two integers ``> 0``.

    Raises:
        ValueError: If ``value`` is neither.
    """
    if value is None:
        return None
    ok = (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) == 2
        and all(
            isinstance(v, numbers.Integral)
            and not isinstance(v, bool)
            and v > 0
            for v in value
        )
    )
    if not ok:
        raise ValueError(
            f'{owner}: {name} must be None or (height, width), two '
            f'integers > 0, got {value!r}'
        )
    return tuple(int(v) for v in value)
