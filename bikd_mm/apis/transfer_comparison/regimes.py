"""The transfer regimes compared and the wrapper options of each."""

TASKS = {
    'seg': dict(
        metric='mIoU',
        pretrain_task='seg',
        regimes=('independent', 'dml', 'bikd_image', 'bikd_pixel', 'one_way'),
    ),
    'cls': dict(
        metric='accuracy/top1',
        pretrain_task='cls',
        regimes=('independent', 'dml', 'bikd_sample', 'one_way'),
    ),
}


REGIME_TITLES = {
    'independent': 'independent fine-tuning',
    'dml': 'Deep Mutual Learning',
    'bikd_image': 'Bi-KD, per image (reference)',
    'bikd_sample': 'Bi-KD, per sample (reference)',
    'bikd_pixel': 'Bi-KD, per pixel',
    'one_way': 'one-way KD from the better member (frozen)',
}


def regime_options(regime: str, task: str, teacher: str) -> dict:
    """Model options of the pair wrapper for one regime.

    Args:
        regime (str): A key of :data:`REGIME_TITLES`.
        task (str): ``'seg'`` or ``'cls'``.
        teacher (str): The member that teaches in ``one_way``.

    Returns:
        dict: Keyword arguments of ``BiKDSegmentor`` / ``BiKDClassifier``
        that replace the pair config's.
    """
    if regime not in TASKS[task]['regimes']:
        raise ValueError(
            f'regime {regime!r} does not apply to {task!r}; choose from '
            f'{TASKS[task]["regimes"]}'
        )
    # Every regime states every option, so the pair config's own choice
    # (e.g. its granularity) cannot leak into another regime.
    options = dict(
        kd_weight=1.0,
        selection='best',
        fixed_teacher=None,
        detach_teacher=False,
    )
    if task == 'seg':
        options['granularity'] = 'image'
    if regime == 'independent':
        options['kd_weight'] = 0.0
    elif regime == 'dml':
        options.update(selection='all', detach_teacher=True)
    elif regime == 'bikd_pixel':
        options['granularity'] = 'pixel'
    elif regime == 'one_way':
        options['fixed_teacher'] = teacher
    return options
