"""The shared option checks and the options object of the wrappers (each
wrapper's use of them is in ``tests/reliability/test_bad_input.py``)."""

import math

import pytest

from bikd_mm.models.bikd_options import BiKDOptions
from bikd_mm.models.option_checks import (
    check_choice,
    check_count,
    check_flag,
    check_fraction,
    check_positive,
    check_size,
    check_weight,
)
from bikd_mm.models.saliency.bikd_saliency import SaliencyOptions


def test_numbers_are_checked_with_their_bounds():
    assert check_weight('W', 'w', 0) == 0.0
    assert check_weight('W', 'w', 2) == 2.0
    assert check_positive('W', 't', 0.5) == 0.5
    assert check_fraction('W', 'f', 1) == 1.0
    assert check_count('W', 'n', 3) == 3
    assert check_count('W', 'n', 0, minimum=0) == 0
    for check, value in (
        (check_weight, -1e-9),
        (check_weight, math.inf),
        (check_weight, math.nan),
        (check_weight, '1'),
        (check_weight, True),  # a bool is not a weight
        (check_positive, 0),
        (check_positive, -math.inf),
        (check_fraction, 1.01),
        (check_fraction, math.nan),
        (check_count, 0),
        (check_count, 2.0),
        (check_count, False),
    ):
        with pytest.raises(ValueError, match=f'^W: x must be .*got {value!r}'):
            check('W', 'x', value)


def test_flags_choices_and_sizes():
    assert check_flag('W', 'f', False) is False
    with pytest.raises(TypeError, match='W: f must be True or False, got 1'):
        check_flag('W', 'f', 1)
    assert check_choice('W', 'c', 'a', ['a', 'b']) == 'a'
    with pytest.raises(ValueError, match=r"one of \('a', 'b'\), got 'z'"):
        check_choice('W', 'c', 'z', ['a', 'b'])
    assert check_size('W', 's', None) is None
    assert check_size('W', 's', [4, 6]) == (4, 6)
    for bad in ((4,), (4, 0), (4, True), '46', (4.0, 6)):
        with pytest.raises(ValueError, match='W: s must be None or'):
            check_size('W', 's', bad)


def test_options_validate_every_field_and_report_the_first_wrong_one():
    options = SaliencyOptions(kd_weight=2, kd_size=[4, 6])
    options.validate('W')
    # What the checks return is kept: a number as float, a size as tuple.
    assert options.kd_weight == 2.0 and type(options.kd_weight) is float
    assert options.kd_size == (4, 6)
    assert options.as_dict()['granularity'] == 'sample'
    with pytest.raises(TypeError, match='W: detach_teacher must be True or'):
        BiKDOptions(detach_teacher='yes', tie='x').validate('W')
    with pytest.raises(ValueError, match=r"W: tie must be one of \('auto'"):
        BiKDOptions(tie='x').validate('W')
    with pytest.raises(ValueError, match='W: kd_size must be None or'):
        SaliencyOptions(kd_size=(0, 4)).validate('W')
    # A misspelt option is named, with the options there are.
    with pytest.raises(
        TypeError, match=r"W: unknown option\(s\) \['kd_wieght'"
    ):
        BiKDOptions.of('W', kd_wieght=1.0)
    assert BiKDOptions.of('W', tie='first').tie == 'first'
