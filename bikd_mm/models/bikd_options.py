"""The options every Bi-KD wrapper shares, validated in one place.

A wrapper's constructor takes its options as keyword arguments (so configs
state ``kd_weight=...``); it gathers them into a :class:`BiKDOptions` (or
a subclass that adds the task's own options, where their defaults are
declared) with :meth:`BiKDOptions.of` and hands it to
:class:`~bikd_mm.models.base_bikd_model.BaseBiKDModel`, which validates
every field once, before any member is built, and sets each as an
attribute of the model (``model.kd_weight``). Each field declares its
check (:func:`weight`, :func:`positive`, :func:`flag`, :func:`choice`,
:func:`size`),
so an error names the wrapper, the option, the allowed values and the
value given.
"""

from dataclasses import dataclass, field, fields
from functools import partial

from bikd_mm.core.masked_kl import NORMALIZE_MODES
from bikd_mm.core.selection import TIE_MODES
from bikd_mm.models.option_checks import (
    check_choice,
    check_flag,
    check_positive,
    check_size,
    check_weight,
)

SELECTIONS = ('best', 'all')


def _option(default, check):
    return field(default=default, metadata=dict(check=check))


def weight(default: float):
    """A field holding a finite number ``>= 0``."""
    return _option(default, check_weight)


def positive(default: float):
    """A field holding a finite number ``> 0``."""
    return _option(default, check_positive)


def flag(default: bool):
    """A field holding ``True`` or ``False``."""
    return _option(default, check_flag)


def choice(default, choices: tuple):
    """A field holding one of ``choices``."""
    return _option(default, partial(check_choice, choices=choices))


def size(default: tuple | None):
    """A field holding None or ``(height, width)``."""
    return _option(default, check_size)


@dataclass
class BiKDOptions:
    """Who teaches whom, and how much the KD term weighs.

    Args:
        kd_weight (float): Weight of the KD term; 0 switches it off.
            Defaults to 1.0.
        normalize (str): ``'all'`` averages the KD term over every valid
            element (the reference), ``'masked'`` over taught elements
            only. Defaults to ``'all'``.
        detach_teacher (bool): Stop the KD gradient into the teaching
            member. Defaults to False (the reference).
        tie (str): Tie rule of :func:`bikd_mm.core.select_teachers`.
            Defaults to ``'auto'`` (the reference).
        selection (str): ``'best'``: per element the best member teaches
            (Bi-KD); ``'all'``: every member teaches every other on every
            element (Deep Mutual Learning). Defaults to ``'best'``.
        fixed_teacher (str, optional): A member that teaches every element
            and is frozen (one-way distillation); checked against the
            members once they are built. Defaults to None.
    """

    kd_weight: float = weight(1.0)
    normalize: str = choice('all', NORMALIZE_MODES)
    detach_teacher: bool = flag(False)
    tie: str = choice('auto', TIE_MODES)
    selection: str = choice('best', SELECTIONS)
    fixed_teacher: str | None = None

    @classmethod
    def of(cls, owner: str, **values) -> 'BiKDOptions':
        """The options from a wrapper's keyword arguments.

        Args:
            owner (str): The wrapper, for the message.
            **values: ``{option: value}``; the others keep their defaults.

        Raises:
            TypeError: Naming an option the wrapper does not have, and
                those it has.
        """
        names = [item.name for item in fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise TypeError(
                f'{owner}: unknown option(s) {unknown}; its options are '
                f'{names}'
            )
        return cls(**values)

    def validate(self, owner: str) -> None:
        """Check every field that declares a check; keep what the check
        returns (a number as ``float``, a size as a tuple).

        Args:
            owner (str): The wrapper, e.g. ``'BiKDSegmentor'``, for the
                message.

        Raises:
            ValueError | TypeError: On the first wrong value, naming the
                owner, the option and the value.
        """
        for item in fields(self):
            check = item.metadata.get('check')
            if check is not None:
                value = check(owner, item.name, getattr(self, item.name))
                setattr(self, item.name, value)

    def as_dict(self) -> dict:
        """``{option: value}`` in field order."""
        return {item.name: getattr(self, item.name) for item in fields(self)}
