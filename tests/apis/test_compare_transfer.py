"""The transfer comparison end to end on a tiny budget, and its summary."""

import json
import math
import os
import os.path as osp
import statistics

import pytest

from bikd_mm.apis.transfer_comparison import (
    REGIME_TITLES,
    TASKS,
    regime_options,
    summarise,
)

from ..conftest import REPO
from ..conftest import load_tool as _load_tool

CONFIGS = {
    'seg': 'configs/bikd/demo/seg_pair_digits.py',
    'cls': 'configs/bikd/demo/cls_pair_digits.py',
}
TINY = {
    'seg': [
        'train_dataloader.batch_size=2',
        'val_dataloader.dataset.indices=4',
    ],
    'cls': [
        'train_dataloader.batch_size=4',
        'val_dataloader.dataset.indices=8',
    ],
}


def load_tool():
    return _load_tool('tools/analysis/compare_transfer.py')


@pytest.mark.parametrize('task', ['seg', 'cls'])
def test_every_regime_and_member_end_to_end(task, tmp_path, monkeypatch):
    # Members are pre-trained (one step) into a cache of this test only.
    monkeypatch.setenv('BIKD_CACHE', str(tmp_path / 'cache'))
    out = str(tmp_path / 'out' / f'compare_{task}')
    result = load_tool().main(
        [
            task,
            '--config',
            osp.join(REPO, CONFIGS[task]),
            '--iters',
            '2',
            '--val-interval',
            '1',
            '--seeds',
            '0',
            '--pretrain-iters',
            '1',
            '--workers',
            '0',
            '--out',
            out,
            '--work-dir',
            str(tmp_path / 'work'),
            '--cfg-options',
            *TINY[task],
        ]
    )
    names = ['cnn', 'swin'] if task == 'seg' else ['cnn', 'vit']
    regimes = TASKS[task]['regimes']
    with open(f'{out}.json') as f:
        saved = json.load(f)
    assert saved == json.loads(json.dumps(result))
    assert saved['members'] == names
    assert [r['regime'] for r in saved['runs']] == list(regimes)
    metric = TASKS[task]['metric']
    for run in saved['runs']:
        for n in names:
            # Evaluated after every iteration: iterations 1 and 2.
            assert [s for s, _ in run['curves']['metric'][n]] == [1, 2]
            assert run['final'][n] == run['curves']['metric'][n][-1][1]
    assert saved['one_way_teacher'] == max(
        names, key=lambda n: saved['start'][n]
    )
    assert saved['start'] == {
        n: saved['start_all'][f'{n}/{metric}'] for n in names
    }
    one_way = next(r for r in saved['runs'] if r['regime'] == 'one_way')
    teacher = saved['one_way_teacher']
    shares = one_way['curves']['teach_share']
    assert all(v == 1 for _, v in shares[teacher])
    table = open(f'{out}.md').read()
    for regime in regimes:
        assert REGIME_TITLES[regime] in table
        assert f'| {regime} | 0 |' in table
    for n in names:
        assert f'{n} {metric}' in table
        assert f'{n} teach share' in table
    for suffix in ('_metric.png', '_teach_share.png'):
        with open(out + suffix, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    # --render rewrites the same table from the JSON, without training.
    os.remove(f'{out}.md')
    load_tool().main([task, '--render', f'{out}.json'])
    assert open(f'{out}.md').read() == table


def test_summary_is_mean_and_std_over_seeds():
    def run(regime, seed, a, b, shares):
        return dict(
            regime=regime,
            seed=seed,
            final=dict(a=a, b=b),
            curves=dict(
                metric=dict(a=[[1, a]], b=[[1, b]]),
                teach_share=dict(
                    a=[[1, s] for s in shares], b=[[1, 1 - s] for s in shares]
                ),
            ),
        )

    runs = [
        run('dml', 0, 10.0, 20.0, [0.2, 0.4]),
        run('dml', 1, 12.0, 26.0, [0.6]),
        run('dml', 2, 17.0, 20.0, [1.0]),
    ]
    got = summarise(runs, ['a', 'b'], ('dml',))['dml']
    assert got['a']['metric']['mean'] == pytest.approx(13.0)
    assert got['a']['metric']['std'] == pytest.approx(
        statistics.stdev([10.0, 12.0, 17.0])
    )
    assert got['b']['metric']['n'] == 3
    # A run's share is its mean over the logged windows.
    assert got['a']['teach_share']['mean'] == pytest.approx(
        (0.3 + 0.6 + 1.0) / 3
    )


def test_regime_options_state_every_option():
    seg = {r: regime_options(r, 'seg', 'cnn') for r in TASKS['seg']['regimes']}
    assert seg['independent']['kd_weight'] == 0
    assert seg['dml']['selection'] == 'all' and seg['dml']['detach_teacher']
    assert seg['bikd_image']['granularity'] == 'image'
    assert seg['bikd_pixel']['granularity'] == 'pixel'
    assert seg['one_way']['fixed_teacher'] == 'cnn'
    assert all(set(o) == set(seg['dml']) for o in seg.values())
    with pytest.raises(ValueError, match="'bikd_pixel' does not apply"):
        regime_options('bikd_pixel', 'cls', 'cnn')


def test_schedules_span_the_comparison_budget(tmp_path):
    from mmengine.config import Config

    from bikd_mm.apis.transfer_comparison import run_config

    pair = Config.fromfile(osp.join(REPO, CONFIGS['cls']))
    pair.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, end=10),
        dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=150),
    ]
    for iters in (300, 60):
        cfg = run_config(pair, str(tmp_path), iters, 20, seed=3)
        assert [s['end'] for s in cfg.param_scheduler] == [10, iters]
        assert cfg.train_cfg.max_iters == iters
        assert cfg.train_cfg.val_interval == 20
        assert cfg.randomness.seed == 3


def test_paired_interval_by_hand():
    from bikd_mm.apis.transfer_comparison import paired_interval

    # Differences 1, 2, 3: mean 2, sd 1; t(0.975, 2 df) = 4.302653.
    d = paired_interval([1.0, 2.0, 3.0])
    half = 4.302653 / 3**0.5
    assert d['mean'] == 2.0 and d['std'] == 1.0 and d['n'] == 3
    assert d['low'] == pytest.approx(2 - half, abs=1e-5)
    assert d['high'] == pytest.approx(2 + half, abs=1e-5)
    single = paired_interval([0.5])
    assert single['low'] == -math.inf and single['high'] == math.inf
    with pytest.raises(ValueError, match='no paired runs'):
        paired_interval([])


def test_paired_differences_match_runs_by_start_and_seed():
    from bikd_mm.apis.transfer_comparison import paired_differences

    def run(regime, ps, seed, a):
        return dict(regime=regime, pretrain_seed=ps, seed=seed, final={'a': a})

    runs = [
        run('independent', 0, 0, 90.0),
        run('independent', 0, 1, 91.0),
        run('independent', 1, 0, 80.0),
        run('dml', 1, 0, 81.5),
        run('dml', 0, 1, 91.0),
        run('dml', 0, 0, 90.5),
    ]
    paired = paired_differences(runs, ['a'], ('independent', 'dml'))
    assert set(paired) == {'dml'}
    # Pairs: (0,0) +0.5, (0,1) 0.0, (1,0) +1.5, whatever the run order.
    assert paired['dml']['a']['mean'] == pytest.approx(2.0 / 3)
    assert paired['dml']['a']['n'] == 3
    assert paired_differences(runs[3:], ['a'], ('independent', 'dml')) == {}


def test_report_pairs_against_dml_too():
    from bikd_mm.apis.transfer_comparison import (
        markdown_table,
        paired_differences,
    )

    def run(regime, seed, a):
        return dict(
            regime=regime,
            pretrain_seed=0,
            seed=seed,
            final={'a': a},
            curves=dict(metric={'a': [[1, a]]}, teach_share={'a': []}),
            seconds=1.0,
        )

    regimes = ('independent', 'dml', 'bikd_sample')
    runs = [
        run('independent', 0, 90.0),
        run('independent', 1, 91.0),
        run('dml', 0, 90.5),
        run('dml', 1, 90.0),
        run('bikd_sample', 0, 91.5),
        run('bikd_sample', 1, 92.0),
    ]
    vs_dml = paired_differences(runs, ['a'], regimes, 'dml')
    # Bi-KD - DML: +1.0 and +2.0.
    assert vs_dml['bikd_sample']['a']['mean'] == pytest.approx(1.5)
    result = dict(
        members=['a'],
        metric='top1',
        start={'a': 89.0},
        pair_config='p.py',
        command='c',
        iters=1,
        seeds=[0, 1],
        one_way_teacher='a',
        summary=summarise(runs, ['a'], regimes),
        runs=runs,
        paired=paired_differences(runs, ['a'], regimes),
        paired_vs_dml=vs_dml,
    )
    table = markdown_table(result)
    section = table.split('## Paired against Deep Mutual Learning')[1]
    assert '| Bi-KD, per sample (reference) | +1.50 [' in section
    # A result written before the DML pairing renders without it.
    del result['paired_vs_dml']
    assert 'against Deep Mutual Learning' not in markdown_table(result)


def test_several_pretrained_starts_pair_up(tmp_path, monkeypatch):
    monkeypatch.setenv('BIKD_CACHE', str(tmp_path / 'cache'))
    out = str(tmp_path / 'out' / 'compare_cls')
    result = load_tool().main(
        ['cls', '--config', osp.join(REPO, CONFIGS['cls'])]
        + ['--iters', '1', '--val-interval', '1', '--seeds', '0', '1']
        + ['--pretrain-seeds', '3', '4', '--pretrain-iters', '1']
        + ['--regimes', 'independent', 'bikd_sample', '--workers', '0']
        + ['--out', out, '--work-dir', str(tmp_path / 'work')]
        + ['--cfg-options', *TINY['cls']]
    )
    starts = [(r['pretrain_seed'], r['seed']) for r in result['runs']]
    assert sorted(starts) == sorted(
        [(p, s) for p in (3, 4) for s in (0, 1)] * 2
    )
    assert set(result['start_by_pretrain_seed']) == {'3', '4'}
    for n in ('cnn', 'vit'):
        assert result['start'][n] == pytest.approx(
            statistics.fmean(
                s[n] for s in result['start_by_pretrain_seed'].values()
            )
        )
        diffs = {
            (r['pretrain_seed'], r['seed']): r['final'][n]
            for r in result['runs']
            if r['regime'] == 'bikd_sample'
        }
        base = {
            (r['pretrain_seed'], r['seed']): r['final'][n]
            for r in result['runs']
            if r['regime'] == 'independent'
        }
        paired = result['paired']['bikd_sample'][n]
        assert paired['n'] == 4
        assert paired['mean'] == pytest.approx(
            statistics.fmean(diffs[k] - base[k] for k in base)
        )
    table = open(f'{out}.md').read()
    assert 'Paired against independent fine-tuning' in table
    assert '| independent | 3/1 |' in table


def test_finished_runs_are_reused_and_changed_ones_repeated(
    tmp_path, monkeypatch
):
    monkeypatch.setenv('BIKD_CACHE', str(tmp_path / 'cache'))
    work = tmp_path / 'work'

    def compare(iters, seeds):
        return load_tool().main(
            ['cls', '--config', osp.join(REPO, CONFIGS['cls'])]
            + ['--iters', str(iters), '--val-interval', '1']
            + ['--seeds', *seeds, '--pretrain-iters', '1']
            + ['--regimes', 'independent', '--workers', '0']
            + ['--out', str(tmp_path / 'out' / 'c'), '--work-dir', str(work)]
            + ['--cfg-options', *TINY['cls']]
        )

    def log_dirs(seed):
        # Every training run opens one timestamped log folder.
        return sorted(
            d
            for d in os.listdir(work / 'cls' / f'independent_seed{seed}')
            if d[:1].isdigit()
        )

    first = compare(1, ['0'])
    before = log_dirs(0)
    assert len(before) == 1
    start_logs = sorted(os.listdir(work / 'cls' / 'start'))
    # Seed 0 is done: only seed 1 trains, and seed 0's record is the same.
    second = compare(1, ['0', '1'])
    assert log_dirs(0) == before
    assert len(log_dirs(1)) == 1
    assert second['runs'][0] == first['runs'][0]
    # The members' evaluation before fine-tuning is reused too.
    assert sorted(os.listdir(work / 'cls' / 'start')) == start_logs
    assert second['start_all'] == first['start_all']
    # Another budget is another run: seed 0 trains again.
    third = compare(2, ['0'])
    assert len(log_dirs(0)) == 2
    assert len(third['runs'][0]['curves']['metric']['cnn']) == 2
    # A damaged record counts as absent.
    record = work / 'cls' / 'independent_seed1' / 'record.json'
    record.write_text('{not json')
    compare(1, ['1'])
    assert len(log_dirs(1)) == 2
    assert json.loads(record.read_text())['record']['seed'] == 1


def test_records_kept_apart_resume_in_another_work_dir(tmp_path, monkeypatch):
    monkeypatch.setenv('BIKD_CACHE', str(tmp_path / 'cache'))
    records = tmp_path / 'records'

    def compare(work):
        return load_tool().main(
            ['cls', '--config', osp.join(REPO, CONFIGS['cls'])]
            + ['--iters', '1', '--val-interval', '1', '--seeds', '0']
            + ['--pretrain-iters', '1', '--regimes', 'independent']
            + ['--workers', '0', '--out', str(tmp_path / 'out' / work)]
            + ['--work-dir', str(tmp_path / work)]
            + ['--record-dir', str(records)]
            + ['--cfg-options', *TINY['cls']]
        )

    first = compare('a')
    assert sorted(os.listdir(records)) == [
        'independent_seed0.json',
        'start.json',
    ]
    assert not (
        tmp_path / 'a' / 'cls' / 'independent_seed0' / 'record.json'
    ).exists()
    # Another checkout (another work folder) with the same records trains
    # nothing: neither the start's evaluation nor the run opens a folder.
    second = compare('b')
    assert not (tmp_path / 'b' / 'cls' / 'start').exists()
    assert not (tmp_path / 'b' / 'cls' / 'independent_seed0').exists()
    assert second['runs'] == first['runs']
    assert second['start_all'] == first['start_all']


def test_run_key_is_the_same_under_another_home(tmp_path, monkeypatch):
    from mmengine.config import Config

    from bikd_mm.apis.transfer_comparison.runs import run_key

    def key(home, work_dir, seed=0):
        monkeypatch.setenv('HOME', home)
        cfg = Config(
            dict(
                work_dir=work_dir,
                randomness=dict(seed=seed),
                model=dict(checkpoint=f'{home}/.cache/bikd_mm/cnn.pth'),
            )
        )
        return run_key(cfg)

    assert key('/home/a', '/x/run') == key('/home/b', '/y/run')
    assert key('/home/a', '/x/run') != key('/home/a', '/x/run', seed=1)


def test_run_key_follows_the_checkpoints_bytes(tmp_path):
    from mmengine.config import Config

    from bikd_mm.apis.transfer_comparison.runs import run_key

    ckpt = tmp_path / 'cnn.pth'
    cfg = Config(
        dict(
            model=dict(
                members=[
                    dict(name='cnn', config='a.py', checkpoint=str(ckpt)),
                    dict(name='vit', config='b.py'),
                ]
            )
        )
    )
    ckpt.write_bytes(b'weights of one pre-training')
    first = run_key(cfg)
    assert run_key(cfg) == first
    # The same path holding another pre-training is another start.
    ckpt.write_bytes(b'weights of another pre-training')
    assert run_key(cfg) != first
