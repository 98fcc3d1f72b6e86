"""Compile the Triton kernels for an sm_90 GPU without one (run by
test_core_ce_masked_kl_triton.py in a process without TRITON_INTERPRET).

Prints one line per compiled variant; exits non-zero on the first failure.
"""

import itertools
import os
import sys

assert os.environ.get('TRITON_INTERPRET') != '1'

import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

from bikd_mm.core import ce_masked_kl_triton as kernels  # noqa: E402
from bikd_mm.core import ce_masked_kl_triton_n as n_kernels  # noqa: E402

POINTERS = {
    'labels': 'i64',
    'teacher': 'i64',
    'pred0': 'i64',
    'pred1': 'i64',
    'ce': 'fp32',
    'kl': 'fp32',
    'grad_ce': 'fp32',
    'weights': 'fp32',
    'preds': 'i64',
    'partial': 'fp32',
}
SCALARS = {'inv_temp': 'fp32'}


def signature(fn, dtype, members=2):
    sig = {}
    for name in fn.arg_names:
        if name.isupper():
            sig[name] = 'constexpr'
        elif name in ('z0', 'z1', 'g0', 'g1'):
            sig[name] = f'*{dtype}'
        elif name in ('zs', 'gs'):
            sig[name] = (f'*{dtype}',) * members
        elif name in POINTERS:
            sig[name] = f'*{POINTERS[name]}'
        else:
            sig[name] = SCALARS.get(name, 'i32')
    return sig


def variants():
    """Every branch of both kernels once in float32 with 150 classes; the
    default branches with bfloat16 and with 2, 16 and 1024 classes (other
    tiles)."""
    forward = [
        dict(HAS_IGNORE=True, RULE=rule, ONE_TEMP=one)
        for rule, one in itertools.product((0, 1, 2, 3), (True, False))
    ] + [dict(HAS_IGNORE=False, RULE=1, ONE_TEMP=True)]
    backward = [
        dict(HAS_IGNORE=True, ONE_TEMP=one, DETACH=det, NEED0=1, NEED1=1)
        for one, det in itertools.product((True, False), (True, False))
    ] + [
        dict(HAS_IGNORE=False, ONE_TEMP=True, DETACH=0, NEED0=n0, NEED1=n1)
        for n0, n1 in ((1, 0), (0, 1))
    ]
    for fn, options in (
        (kernels._pair_forward, forward),
        (kernels._pair_backward, backward),
    ):
        for i, constants in enumerate(options):
            yield fn, 'fp32', (256, 16, 8), constants
            if i == 0:
                yield fn, 'bf16', (256, 16, 8), constants
                yield fn, 'fp32', (2, 128, 4), constants
                yield fn, 'fp32', (16, 128, 4), constants
                yield fn, 'fp32', (1024, 4, 8), constants


def n_variants():
    """The N-member kernels: every branch once with four members in
    float32 and 150 classes; the default branches with two and three
    members and with bfloat16."""
    forward = [
        dict(MODE=mode, ONE_TEMP=True, DO_CE=True, DO_KL=True)
        for mode in (0, 1, 2, 3)
    ] + [
        dict(MODE=0, ONE_TEMP=False, DO_CE=True, DO_KL=True),
        dict(MODE=0, ONE_TEMP=True, DO_CE=True, DO_KL=False),
        dict(MODE=4, ONE_TEMP=True, DO_CE=False, DO_KL=True),
        dict(MODE=4, ONE_TEMP=False, DO_CE=False, DO_KL=True),
        dict(MODE=5, ONE_TEMP=True, DO_CE=True, DO_KL=False),
        dict(MODE=5, ONE_TEMP=True, DO_CE=False, DO_KL=True),
        dict(MODE=5, ONE_TEMP=False, DO_CE=False, DO_KL=True),
    ]
    backward = [
        dict(ALL=all_, ONE_TEMP=one, DETACH=det, NEED=15)
        for all_, one, det in itertools.product(
            (False, True), (True, False), (False, True)
        )
    ] + [dict(ALL=False, ONE_TEMP=True, DETACH=False, NEED=5)]
    for fn, options in (
        (n_kernels._forward, forward),
        (n_kernels._backward, backward),
    ):
        for i, constants in enumerate(options):
            constants = dict(constants, HAS_IGNORE=True)
            yield fn, 'fp32', 4, (256, 4, 4), constants
            if i == 0:
                yield fn, 'bf16', 4, (256, 4, 4), constants
                yield fn, 'fp32', 2, (256, 8, 4), constants
                yield fn, 'fp32', 3, (256, 4, 4), dict(constants, NEED=7)


def main():
    target = GPUTarget('cuda', 90, 32)
    count = 0
    for fn, dtype, (c_pad, block, warps), constants in variants():
        constants = dict(constants, C_PAD=c_pad, BLOCK_S=block)
        for key in ('DETACH', 'NEED0', 'NEED1'):
            if key in constants:
                constants[key] = bool(constants[key])
        source = ASTSource(fn, signature(fn, dtype), constants)
        compiled = triton.compile(
            source, target=target, options=dict(num_warps=warps)
        )
        assert compiled.asm.get('cubin'), f'{fn.__name__}: no cubin'
        count += 1
    print(f'compiled {count} variants for sm_90')
    count = 0
    for fn, dtype, num, (c_pad, block, warps), constants in n_variants():
        if fn is n_kernels._forward:
            constants.pop('NEED', None)
        constants = dict(constants, N=num, C_PAD=c_pad, BLOCK_S=block)
        source = ASTSource(fn, signature(fn, dtype, num), constants)
        compiled = triton.compile(
            source, target=target, options=dict(num_warps=warps)
        )
        assert compiled.asm.get('cubin'), f'{fn.__name__}: no cubin'
        count += 1
    print(f'compiled {count} N-member variants for sm_90')


if __name__ == '__main__':
    sys.exit(main())
