"""Tests of select_teachers."""

import itertools
import math

import pytest
import torch

from bikd_mm.core import select_teachers

NAN, INF = math.nan, math.inf


def loop_reference(scores, higher_is_better, tie):
    """Teacher per element by explicit comparison of Python numbers."""
    n = scores.shape[0]
    flat = scores.reshape(n, -1).T.tolist()
    out = []
    for column in flat:
        ranked = [(v if higher_is_better else -v) for v in column if v == v]
        if not ranked:
            out.append(-1)
            continue
        best = max(ranked)
        winners = [
            m
            for m, v in enumerate(column)
            if v == v and (v if higher_is_better else -v) == best
        ]
        rule = tie if tie != 'auto' else ('last' if n == 2 else 'none')
        if len(winners) == 1:
            out.append(winners[0])
        elif rule == 'first':
            out.append(winners[0])
        elif rule == 'last':
            out.append(winners[-1])
        else:
            out.append(-1)
    return torch.tensor(out).reshape(scores.shape[1:])


def test_hand_worked_example():
    conf = torch.tensor([[0.9, 0.2, 0.5, 0.1], [0.1, 0.8, 0.5, 0.3]])
    assert select_teachers(conf, True).tolist() == [0, 1, 1, 1]
    # Three members: a tied best gets no teacher under the default rule.
    loss = torch.tensor([[0.3, 2.0, 1.0], [0.5, 0.1, 0.5], [0.4, 0.2, 0.5]])
    assert select_teachers(loss, False).tolist() == [0, 1, -1]
    assert select_teachers(loss, True).tolist() == [1, 0, 0]


@pytest.mark.parametrize(
    'tie, expected_two, expected_three',
    [
        ('auto', [1, 0], [-1, 2, 0]),
        ('none', [-1, 0], [-1, 2, 0]),
        ('first', [0, 0], [0, 2, 0]),
        ('last', [1, 0], [2, 2, 0]),
    ],
)
def test_tie_modes(tie, expected_two, expected_three):
    two = torch.tensor([[0.5, 0.9], [0.5, 0.1]])
    assert select_teachers(two, True, tie=tie).tolist() == expected_two
    # Element 0: members 0 and 2 tie at the top. Element 1: a tie below the
    # best is no tie. Element 2: lower is better, unique.
    three = torch.tensor([[0.7, 0.1, 0.0], [0.2, 0.1, 0.3], [0.7, 0.8, 0.3]])
    scores = three.clone()
    scores[:, 2] = -scores[:, 2]
    assert select_teachers(scores, True, tie=tie).tolist() == expected_three


@pytest.mark.parametrize('tie', ['auto', 'none', 'first', 'last'])
@pytest.mark.parametrize('n', [2, 3, 4])
@pytest.mark.parametrize('higher_is_better', [True, False])
def test_matches_loop_reference_with_many_ties(tie, n, higher_is_better):
    gen = torch.Generator().manual_seed(n)
    scores = torch.randint(0, 3, (n, 2, 3, 5), generator=gen).float()
    got = select_teachers(scores, higher_is_better, tie=tie)
    assert got.dtype == torch.long and got.shape == (2, 3, 5)
    assert torch.equal(got, loop_reference(scores, higher_is_better, tie))


def test_valid_mask_and_output_has_no_grad():
    scores = torch.rand(2, 4, 3, requires_grad=True)
    valid = torch.rand(4, 3) > 0.5
    valid[0, 0], valid[1, 1] = False, True
    got = select_teachers(scores, True, valid=valid)
    assert not got.requires_grad
    assert (got[~valid] == -1).all()
    assert ((got[valid] >= 0) & (got[valid] <= 1)).all()
    full = select_teachers(scores, True)
    assert torch.equal(got[valid], full[valid])


def test_non_finite_scores():
    # Columns: NaN loses; all NaN; NaN vs a genuine -inf; +inf wins;
    # equal +inf tie; -inf vs number.
    scores = torch.tensor(
        [
            [NAN, NAN, NAN, INF, INF, -INF],
            [0.2, NAN, -INF, 1.0, INF, 0.0],
        ]
    )
    got = select_teachers(scores, True, tie='none')
    assert got.tolist() == [1, -1, 1, 0, -1, 1]
    assert select_teachers(scores, True, tie='first').tolist()[4] == 0
    # Lower is better: NaN still loses, +inf becomes the worst score.
    got = select_teachers(scores, False, tie='none')
    assert got.tolist() == [1, -1, 1, 1, -1, 0]
    for tie in ('first', 'last', 'auto'):
        assert select_teachers(scores, False, tie=tie)[1] == -1


def test_integer_and_bool_scores():
    ints = torch.tensor([[3, 1], [2, 5]])
    assert select_teachers(ints, True).tolist() == [0, 1]
    assert select_teachers(ints, False).tolist() == [1, 0]
    bools = torch.tensor([[True, False], [False, False]])
    assert select_teachers(bools, True).tolist() == [0, 1]


def test_any_element_shape():
    for shape in [(2,), (2, 0), (3, 1, 1, 1, 2)]:
        scores = torch.rand(shape)
        assert select_teachers(scores, True).shape == shape[1:]


def test_errors_name_the_argument():
    scores = torch.rand(2, 3)
    with pytest.raises(ValueError, match='tie'):
        select_teachers(scores, True, tie='random')
    with pytest.raises(ValueError, match=r'scores .*N >= 2.*\(1, 3\)'):
        select_teachers(torch.rand(1, 3), True)
    with pytest.raises(ValueError, match='scores'):
        select_teachers(torch.tensor(1.0), True)
    with pytest.raises(ValueError, match=r'valid .*\(3,\).*\(4,\)'):
        select_teachers(scores, True, valid=torch.ones(4, dtype=torch.bool))
    with pytest.raises(TypeError, match='valid'):
        select_teachers(scores, True, valid=torch.ones(3))
    with pytest.raises(TypeError, match='scores'):
        select_teachers([[0.1, 0.2], [0.3, 0.4]], True)


def test_permutation_equivariance():
    gen = torch.Generator().manual_seed(5)
    scores = torch.rand(3, 10, generator=gen)
    base = select_teachers(scores, True)
    for perm in itertools.permutations(range(3)):
        got = select_teachers(scores[list(perm)], True)
        assert torch.equal(torch.tensor(perm)[got], base)
