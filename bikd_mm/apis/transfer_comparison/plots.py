"""PNG plots of the metric and teach-share curves of a comparison."""

import statistics

from bikd_mm.utils.io import atomic_path


def _curve_stats(runs: list, key: str, name: str) -> tuple:
    """Iterations and the mean and std over seeds of one curve."""
    series = [r['curves'][key][name] for r in runs if r['curves'][key][name]]
    if not series:
        return [], [], []
    length = min(len(s) for s in series)
    steps = [series[0][i][0] for i in range(length)]
    values = [[s[i][1] for s in series] for i in range(length)]
    means = [statistics.fmean(v) for v in values]
    stds = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in values]
    return steps, means, stds


def write_plots(result: dict, prefix: str) -> list:
    """``<prefix>_metric.png`` and ``<prefix>_teach_share.png``.

    Returns:
        list[str]: The files written.
    """
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    names, metric = result['members'], result['metric']
    regimes = list(result['summary'])
    files = []

    fig, axes = plt.subplots(
        1, len(names), figsize=(5 * len(names), 4), squeeze=False
    )
    for ax, n in zip(axes[0], names):
        for regime in regimes:
            runs = [r for r in result['runs'] if r['regime'] == regime]
            steps, means, stds = _curve_stats(runs, 'metric', n)
            steps = [0] + steps
            means = [result['start'][n]] + means
            stds = [0.0] + stds
            ax.plot(steps, means, marker='o', ms=3, label=regime)
            ax.fill_between(
                steps,
                [m - s for m, s in zip(means, stds)],
                [m + s for m, s in zip(means, stds)],
                alpha=0.15,
            )
        ax.set_title(f'{n}: validation {metric}')
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    files.append(_save(fig, f'{prefix}_metric.png'))
    plt.close(fig)

    shown = [
        regime
        for regime in regimes
        if any(
            r['curves']['teach_share'][n]
            for r in result['runs']
            if r['regime'] == regime
            for n in names
        )
    ]
    fig, axes = plt.subplots(
        1, max(1, len(shown)), figsize=(4 * max(1, len(shown)), 3.5)
    )
    axes = list(axes) if len(shown) > 1 else [axes]
    for ax, regime in zip(axes, shown):
        runs = [r for r in result['runs'] if r['regime'] == regime]
        for n in names:
            steps, means, stds = _curve_stats(runs, 'teach_share', n)
            ax.plot(steps, means, label=n)
            ax.fill_between(
                steps,
                [m - s for m, s in zip(means, stds)],
                [m + s for m, s in zip(means, stds)],
                alpha=0.15,
            )
        ax.set_title(regime, fontsize=9)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('teach share')
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    files.append(_save(fig, f'{prefix}_teach_share.png'))
    plt.close(fig)
    return files


def _save(fig, filename: str) -> str:
    """Save a figure atomically (a temporary sibling, then a rename)."""
    with atomic_path(filename, suffix='.png') as tmp:
        fig.savefig(tmp, dpi=100)
    return filename
