"""Write a member of a saliency Bi-KD checkpoint in its release's layout.

For the published members (TMFI-Net, ViNet-A, ViNet-S): the output is a
bare state dict, like ``best_VSTNet_DHF1K.pth`` or ``ViNetA_DHF1K_32g.pt``,
which the authors' code loads with ``model.load_state_dict(torch.load(
path))``. ``tools/export_member.py`` writes the mmengine layout
(``state_dict`` + ``meta``) instead.

Example::

    python tools/saliency/export_released.py \\
        work_dirs/pair/best_vinet_a_KLD_CC_epoch_7.pth \\
        --member vinet_a --out ViNetA_DHF1K_32g_bikd.pt
"""

import argparse

from bikd_mm.models.saliency import export_released


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='Bi-KD checkpoint (path or URL)')
    parser.add_argument('--member', required=True, help='member name')
    parser.add_argument('--out', required=True, help='output file')
    parser.add_argument(
        '--allow-unsafe-checkpoint',
        action='store_true',
        help='read a checkpoint that needs full unpickling (only for '
        'files you trust)',
    )
    args = parser.parse_args(argv)
    state = export_released(
        args.checkpoint,
        args.member,
        args.out,
        allow_unsafe=args.allow_unsafe_checkpoint or None,
    )
    print(
        f'wrote {args.out}: member {args.member!r}, {len(state)} tensors '
        '(bare state dict)'
    )
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
