"""Complementarity against gains: starts matched by checkpoint, gains the
mean paired difference computed by hand."""

import pytest

from bikd_mm.apis.complementarity import relate_gains, relation_markdown


def run(regime, ps, seed, a, b):
    return dict(
        regime=regime, pretrain_seed=ps, seed=seed, final=dict(a=a, b=b)
    )


COMPARE = dict(
    members=['a', 'b'],
    regimes=['independent', 'bikd_sample'],
    checkpoints_by_pretrain_seed={
        '0': dict(a='/c/a0.pth', b='/c/b0.pth'),
        '1': dict(a='/c/a1.pth', b='/c/b1.pth'),
    },
    runs=[
        run('independent', 0, 0, 90.0, 80.0),
        run('bikd_sample', 0, 0, 90.5, 81.0),
        run('independent', 0, 1, 91.0, 80.0),
        run('bikd_sample', 0, 1, 90.5, 82.0),
        run('independent', 1, 0, 89.0, 85.0),
        run('bikd_sample', 1, 0, 89.0, 84.0),
    ],
)


def comp(ckpts, ab, ba, oracle, best):
    pair = dict(
        a='a',
        b='b',
        a_right_b_wrong=ab,
        b_right_a_wrong=ba,
        oracle_accuracy=oracle,
        best_accuracy=best,
    )
    return dict(checkpoints=ckpts, pairs=[pair])


def test_gains_per_start_by_hand():
    comps = [
        comp(dict(a='/c/a1.pth', b='/c/b1.pth'), 0.05, 0.02, 0.93, 0.9),
        comp(dict(a='/c/a0.pth', b='/c/b0.pth'), 0.08, 0.03, 0.95, 0.9),
    ]
    rel = relate_gains(COMPARE, comps)
    assert [r['start'] for r in rel['rows']] == ['0', '1']
    first, second = rel['rows']
    assert first['a_right_b_wrong'] == pytest.approx(8.0)
    assert first['oracle_margin'] == pytest.approx(5.0)
    # Start 0: a +0.5 and -0.5 -> 0; b +1 and +2 -> 1.5.
    assert first['gains']['bikd_sample']['a'] == dict(mean=0.0, n=2)
    assert first['gains']['bikd_sample']['b'] == dict(mean=1.5, n=2)
    assert second['gains']['bikd_sample']['b'] == dict(mean=-1.0, n=1)
    table = relation_markdown(rel)
    assert (
        '| 0 | a / b | 8.00 | 3.00 | 5.00 | +0.00 (2) | +1.50 (2) |' in table
    )


def test_unmatched_and_missing_starts_are_named():
    stray = comp(dict(a='/c/x.pth', b='/c/b0.pth'), 0.1, 0.1, 1.0, 0.9)
    with pytest.raises(ValueError, match=r'result 0 .*x\.pth'):
        relate_gains(COMPARE, [stray])
    only0 = comp(dict(a='/c/a0.pth', b='/c/b0.pth'), 0.1, 0.1, 1.0, 0.9)
    with pytest.raises(ValueError, match=r"start\(s\) \['1'\]"):
        relate_gains(COMPARE, [only0])
