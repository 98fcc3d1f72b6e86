#!/usr/bin/env bash
# The GPU benchmarks, for a lent GPU machine (see ../shared/gpu/README.md),
# in one command of at most 600 seconds (about 450 on an H100 with the
# setup), most important first: the pair step (the goals) with a profile,
# then interleaved (steadier ratios), where the step waits for the GPU,
# correctness of both KD kernels on the GPU, the KD term alone (two and
# three members), the decode losses in float32 and under autocast. From
# the project root, after `EXTRA_WHEELS="importlib_metadata==8.7.0" bash ../shared/gpu/prepare.sh`
# here (mmpretrain imports importlib_metadata; 10.x needs lazy_importer):
#   source .gpu/setup.sh && bash benchmarks/gpu_suite.sh "$OUT"
# Each benchmark runs under its own time limit; its exit status and time
# go to suite.txt and the next one still runs. Output is unbuffered, so a
# benchmark cut short keeps what it printed. The device tool returns at
# most eight files: finished benchmarks' tables and JSON are packed into
# results.tar, the running one's table stays beside it.
# DEVICE=cpu SIZE=64 CONFIGS="a.py b.py" try the plumbing on a machine
# without a GPU (with TRITON_INTERPRET=1; host_syncs needs CUDA).
set -uo pipefail
OUT_DIR=${1:?usage: gpu_suite.sh OUT_DIR}
DEVICE=${DEVICE:-cuda}
SIZE=${SIZE:-512}
ITERS=${ITERS:-10}
# A factor on every time limit (the CPU dry run is slower).
SLOW=${SLOW:-1}
R50=mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py
SWIN=mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py
read -r -a PAIR <<< "${CONFIGS:-$R50 $SWIN}"
KERNELS=(torch triton)
export PYTHONUNBUFFERED=1
mkdir -p "$OUT_DIR"
DONE=$(mktemp -d)
SUITE="$OUT_DIR/suite.txt"
if [[ $DEVICE == cuda ]]; then
    card=$(python3 -c 'import torch; print(torch.cuda.get_device_name().split()[-1].lower())')
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv \
        >> "$SUITE"
else
    card=$DEVICE
fi
python3 -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__)' >> "$SUITE" 2>&1
python3 -c 'import triton; print("triton", triton.__version__)' \
    >> "$SUITE" 2>&1 || true

# bench NAME LIMIT SCRIPT ARGS...: runs one benchmark for at most LIMIT
# (times SLOW) seconds; its table NAME_CARD.txt and JSON (--out) end in
# results.tar.
bench() {
    local name=$1 limit=$(( $2 * SLOW )) start=$SECONDS
    shift 2
    local table="$OUT_DIR/${name}_$card.txt"
    timeout "$limit" python3 "$@" --out "$DONE/${name}_$card.json" 2>&1 \
        | grep --line-buffered -v -i warn > "$table"
    local rc=${PIPESTATUS[0]}
    echo "$name: exit $rc after $(( SECONDS - start )) s" >> "$SUITE"
    mv "$table" "$DONE/"
    tar -cf "$OUT_DIR/results.tar" -C "$DONE" .
}

common=(--device "$DEVICE" --batch 4 --kd-kernels "${KERNELS[@]}")
pair=("${common[@]}" --size "$SIZE" --configs "${PAIR[@]}")
bench step_overhead 120 benchmarks/step_overhead.py "${pair[@]}" \
    --iters "$ITERS" --profile
bench step_overhead_interleaved 120 benchmarks/step_overhead.py \
    "${pair[@]}" --iters $(( 2 * ITERS )) --interleave
if [[ $DEVICE == cuda ]]; then
    bench host_syncs 60 benchmarks/host_syncs.py "${pair[@]}"
fi
bench kd_correctness 80 benchmarks/kd_correctness.py --device "$DEVICE"
bench kd_term 60 benchmarks/kd_term.py "${common[@]}" --iters "$ITERS" \
    --classes 150 --size $(( SIZE / 4 )) "$SIZE"
# Three members: the PyTorch path (the kernels take two).
bench kd_term_3members 40 benchmarks/kd_term.py --device "$DEVICE" \
    --batch 4 --members 3 --kd-kernels torch --iters "$ITERS" \
    --classes 150 --size "$SIZE"
bench loss_head 50 benchmarks/loss_head.py "${pair[@]}" --iters "$ITERS"
bench loss_head_amp 50 benchmarks/loss_head.py "${pair[@]}" \
    --iters "$ITERS" --amp
echo "suite done after $SECONDS s" >> "$SUITE"
