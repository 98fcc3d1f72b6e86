"""Bad input: each case fails with an error that names the culprit (file,
key, member, shape) and writes nothing partial.

``CASES`` lists them, one function each, in the order of
``docs/reliability.md``; each function provokes the fault and asserts the
error and what is (not) left on disk.
"""

import math
import os
import os.path as osp
import shutil
import socket
import time

import pytest
import torch
from mmseg.registry import MODELS as SEG_MODELS

import bikd_mm  # noqa: F401
from bikd_mm.datasets import DigitsSegDataset
from bikd_mm.datasets.saliency import DHF1KDataset, LoadSaliencyClip
from bikd_mm.evaluation import SaliencyMetric
from bikd_mm.evaluation.saliency import auc_judd, nss
from bikd_mm.models.member import build_member, parse_members
from bikd_mm.utils.checkpoint import TIMEOUT_ENV, load_checkpoint_file
from bikd_mm.utils.config import load_config
from bikd_mm.utils.export import export_member
from tests.datasets.saliency.layouts import write_standard_video
from tests.models.segmentors.seg_fixtures import (
    fake_batch,
    member,
    member_model,
)

from ..engine.test_pair_runner import PAIR
from . import cases_checkpoints, cases_labels, cases_options, cases_work_dir


def build_pair(members: list):
    return SEG_MODELS.build(dict(type='BiKDSegmentor', members=members))


def swin_with_checkpoint(path) -> None:
    """Build member 'swin' with ``checkpoint=path``."""
    spec = parse_members([member('cnn'), member('swin', checkpoint=path)])[1]
    build_member(spec, SEG_MODELS)


def dhf1k(tmp_path, videos: dict, **options) -> str:
    root = str(tmp_path / 'dhf1k')
    for number, num_frames in videos.items():
        write_standard_video(
            osp.join(root, 'annotation', f'{number:04d}'),
            num_frames,
            seed=number,
            **options,
        )
    return root


def missing_member_config(tmp_path):
    absent = str(tmp_path / 'absent.py')
    with pytest.raises(FileNotFoundError, match=f"member 'swin'.*{absent}"):
        parse_members([member('cnn'), dict(name='swin', config=absent)])


def config_without_model(tmp_path):
    path = tmp_path / 'no_model.py'
    path.write_text('optim_wrapper = dict(type="OptimWrapper")\n')
    with pytest.raises(
        ValueError, match=f'member \'swin\': config {path} has no "model"'
    ):
        parse_members([member('cnn'), dict(name='swin', config=str(path))])


def unknown_member_in_export(tmp_path):
    pair = tmp_path / 'pair.pth'
    state = {'members.cnn.w': torch.ones(2), 'members.swin.w': torch.ones(2)}
    torch.save(dict(state_dict=state, meta={}), pair)
    out = tmp_path / 'out' / 'vit.pth'
    with pytest.raises(
        KeyError, match=r"no member 'vit' in .*members: \['cnn', 'swin'\]"
    ):
        export_member(str(pair), 'vit', str(out))
    assert not osp.exists(out.parent) or not os.listdir(out.parent)


def duplicate_member_names(tmp_path):
    with pytest.raises(ValueError, match=r"members\[1\].*duplicate.*'a'"):
        parse_members([member('a', 'cnn'), member('a', 'swin')])


def one_member(tmp_path):
    with pytest.raises(ValueError, match='at least two members, got 1'):
        parse_members([member('cnn')])


def different_class_counts(tmp_path):
    swin = member_model(
        'swin',
        decode_head=dict(num_classes=5),
        auxiliary_head=dict(num_classes=5),
    )
    with pytest.raises(ValueError, match='class counts: cnn=11, swin=5'):
        build_pair([member('cnn'), dict(name='swin', model=swin)])


def different_ignore_index(tmp_path):
    swin = member_model('swin', decode_head=dict(ignore_index=0))
    with pytest.raises(ValueError, match='ignore_index; got cnn=255, swin=0'):
        build_pair([member('cnn'), dict(name='swin', model=swin)])


def checkpoint_file_missing(tmp_path):
    absent = str(tmp_path / 'absent.pth')
    with pytest.raises(FileNotFoundError, match=f"member 'swin'.*{absent}"):
        swin_with_checkpoint(absent)


def checkpoint_of_another_architecture(tmp_path):
    spec = parse_members([member('cnn'), member('swin')])[0]
    path = tmp_path / 'cnn.pth'
    torch.save(
        dict(state_dict=build_member(spec, SEG_MODELS).state_dict()), path
    )
    with pytest.raises(
        RuntimeError,
        match=r"member 'swin': checkpoint .*cnn.pth does not match.*"
        r'missing keys \(\d+\): backbone\..*unexpected keys \(\d+\): '
        r'backbone\.',
    ):
        swin_with_checkpoint(str(path))


def checkpoint_url_unreachable(tmp_path, monkeypatch):
    # A server that accepts the connection and never answers.
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(1)
    url = f'http://127.0.0.1:{server.getsockname()[1]}/swin.pth'
    monkeypatch.setenv(TIMEOUT_ENV, '1')
    start = time.monotonic()
    try:
        with pytest.raises(
            RuntimeError,
            match=f"member 'swin'.*cannot download checkpoint {url} "
            r'\(timeout 1 s\)',
        ):
            load_checkpoint_file(url, owner="member 'swin'")
    finally:
        server.close()
    assert time.monotonic() - start < 15
    cache = osp.join(torch.hub.get_dir(), 'checkpoints')
    assert not [f for f in os.listdir(cache) if 'swin' in f or '.part' in f]


def corrupt_checkpoint_file(tmp_path):
    path = tmp_path / 'swin.pth'
    path.write_bytes(b'PK\x03\x04 this is not a whole checkpoint')
    with pytest.raises(
        RuntimeError, match=f"member 'swin': cannot read checkpoint {path}"
    ):
        swin_with_checkpoint(str(path))


def dataset_root_missing(tmp_path):
    root = tmp_path / 'no_data'
    with pytest.raises(FileNotFoundError, match=f"data_root '{root}' is"):
        DigitsSegDataset(data_root=str(root), auto_generate=False)
    assert not root.exists()


def split_with_no_samples(tmp_path):
    root = dhf1k(tmp_path, {1: 4})
    with pytest.raises(ValueError, match="split 'val' .* has no samples"):
        DHF1KDataset(root, split='val', clip_len=2)


def image_without_annotation(tmp_path, seg_data_root):
    root = tmp_path / 'seg'
    shutil.copytree(seg_data_root, root)
    os.remove(root / 'ann_dir' / 'val' / '00002.png')
    with pytest.raises(
        FileNotFoundError, match=r"annotation '.*00002.png' of image"
    ):
        DigitsSegDataset(
            data_root=str(root),
            data_prefix=dict(
                img_path='img_dir/val', seg_map_path='ann_dir/val'
            ),
        )


def labels_outside_class_range(tmp_path):
    pair = build_pair([member('cnn'), member('swin')])
    raw = fake_batch()
    raw['data_samples'][1].gt_sem_seg.data[0, 3, 4] = 20
    raw['data_samples'][1].set_metainfo(dict(seg_map_path='ann/00007.png'))
    data = pair.data_preprocessor(raw, True)
    with pytest.raises(
        ValueError,
        match=r'annotation ann/00007.png: labels \[20\] are outside the 11 '
        r'classes 0..10',
    ):
        pair(**data, mode='loss')


def frames_and_maps_differ_in_count(tmp_path):
    root = dhf1k(tmp_path, {1: 5}, num_maps=4)
    with pytest.raises(ValueError, match=r'annotation.0001.*5 frames but 4'):
        DHF1KDataset(root, clip_len=2)


def unreadable_frame(tmp_path):
    root = dhf1k(tmp_path, {1: 3})
    bad = osp.join(root, 'annotation', '0001', 'images', '0002.png')
    with open(bad, 'wb') as f:
        f.write(b'not a png')
    dataset = DHF1KDataset(root, clip_len=3)
    with pytest.raises(OSError, match='Cannot read frame .*0001.images.0002'):
        LoadSaliencyClip()(dataset.get_data_info(0))


def clip_longer_than_video(tmp_path):
    root = dhf1k(tmp_path, {1: 3, 2: 6})
    with pytest.raises(ValueError, match=r'0001 has 3 frames.*clip'):
        DHF1KDataset(root, clip_len=4)


def fixation_map_empty_for_a_frame(tmp_path):
    """Not an error: NSS and AUC-Judd of that frame are NaN and the
    averages skip it (documented in the metric functions)."""
    gen = torch.Generator().manual_seed(0)
    pred = torch.rand(2, 8, 8, generator=gen, dtype=torch.float64)
    fixation = torch.zeros(2, 8, 8, dtype=torch.bool)
    fixation[0, 2, 3] = fixation[0, 5, 6] = True
    for score in (nss(pred, fixation), auc_judd(pred, fixation)):
        assert math.isfinite(score[0]) and math.isnan(score[1])
    # NSS of frame 0 by hand: the standardised prediction at the fixations.
    p = pred[0]
    z = (p - p.mean()) / p.std()
    assert nss(pred, fixation)[0] == pytest.approx(
        float((z[2, 3] + z[5, 6]) / 2)
    )
    metric = SaliencyMetric(metrics=['NSS'])
    metric.process(
        None,
        [
            dict(
                pred_saliency=pred[i : i + 1].float(),
                gt_fixation=fixation[i],
                video='v',
            )
            for i in range(2)
        ],
    )
    result = metric.evaluate(2)
    assert result['NSS'] == pytest.approx(float(nss(pred, fixation)[0]))


def wrong_key_in_cfg_options(tmp_path):
    with pytest.raises(KeyError, match="'model.memberz' is not in the config"):
        load_config(PAIR, {'model.memberz.0.checkpoint': 'x.pth'})
    with pytest.raises(KeyError, match="'model.members.5' is not in"):
        load_config(PAIR, {'model.members.5.checkpoint': 'x.pth'})


CASES = {
    f.__name__: f
    for f in (
        # Member configs and names.
        missing_member_config,
        config_without_model,
        unknown_member_in_export,
        duplicate_member_names,
        one_member,
        different_class_counts,
        different_ignore_index,
        # Member checkpoints.
        checkpoint_file_missing,
        checkpoint_of_another_architecture,
        checkpoint_url_unreachable,
        corrupt_checkpoint_file,
        # Datasets and labels.
        dataset_root_missing,
        split_with_no_samples,
        image_without_annotation,
        labels_outside_class_range,
        frames_and_maps_differ_in_count,
        unreadable_frame,
        clip_longer_than_video,
        fixation_map_empty_for_a_frame,
        wrong_key_in_cfg_options,
        cases_labels.label_maps_of_another_size,
        cases_labels.one_label_map_of_another_size,
        cases_labels.rgb_label_png,
        cases_labels.all_labels_ignored,
        cases_labels.unreadable_sample,
        # Member checkpoints loaded with strict=False.
        cases_checkpoints.strict_false_checkpoint_matching_nothing,
        cases_checkpoints.strict_false_checkpoint_partly_matching,
        # Options of the wrappers and the member entries.
        cases_options.negative_kd_weight,
        cases_options.non_finite_kd_weight,
        cases_options.temperature_not_positive,
        cases_options.flag_given_as_a_string,
        cases_options.unknown_normalize_or_tie,
        cases_options.saliency_eps_and_kd_size,
        cases_options.members_not_a_list_of_dicts,
        cases_options.member_entry_of_the_wrong_type,
        cases_options.member_cfg_options_typo,
        # Options of the runner.
        cases_options.runner_flag_or_path_of_the_wrong_type,
        cases_options.runner_loop_option_not_a_count,
        cases_options.dist_timeout_not_positive,
        cases_options.member_optimizer_numbers,
        cases_options.constructor_in_pair_and_member_wrapper,
        cases_checkpoints.load_from_single_model_file,
        # Resume.
        cases_checkpoints.resume_after_member_renamed,
        cases_checkpoints.resume_after_member_added,
        cases_checkpoints.resume_after_member_removed,
        cases_checkpoints.resume_after_members_reordered,
        cases_checkpoints.resume_after_member_architecture_changed,
        cases_checkpoints.resume_from_member_checkpoint,
        cases_checkpoints.resume_from_single_model_run,
        cases_checkpoints.resume_from_exported_file,
        cases_checkpoints.resume_file_missing,
        # Work dirs.
        cases_work_dir.second_live_run_in_a_work_dir,
        cases_work_dir.killed_run_leaves_no_stale_lock,
        cases_work_dir.two_writers_of_one_checkpoint,
    )
}
# Files a case may leave only if something wrote partially.
PARTIAL = ('.part', '.tmp-')


def test_the_cases_are_listed_once():
    assert len(CASES) == 54
    assert len(set(CASES.values())) == len(CASES)


def test_resume_works_without_a_fault(tmp_path, trained_pair):
    """The resume probes' positive control: the same members resume."""
    runner = cases_checkpoints.resume(tmp_path, trained_pair)
    assert runner.iter == 2


@pytest.mark.parametrize('case', list(CASES))
def test_bad_input(case, request, tmp_path):
    function = CASES[case]
    names = function.__code__.co_varnames[: function.__code__.co_argcount]
    function(*[request.getfixturevalue(n) for n in names])
    partial = [
        osp.join(root, name)
        for root, _, files in os.walk(tmp_path)
        for name in files
        if name.endswith(PARTIAL[0]) or name.startswith(PARTIAL[1])
    ]
    assert not partial, f'partial files left: {partial}'
