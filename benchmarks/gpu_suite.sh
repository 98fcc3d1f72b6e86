#!/usr/bin/env bash
# The GPU benchmarks, for a lent GPU machine (see ../shared/gpu/README.md),
# in two parts that each fit one 600-second command. From the project
# root, after `EXTRA_WHEELS="importlib_metadata==8.7.0" bash
# ../shared/gpu/prepare.sh` here (mmpretrain imports importlib_metadata;
# 10.x needs lazy_importer):
#   source .gpu/setup.sh && bash benchmarks/gpu_suite.sh "$OUT" steps
# then, on the same warm machine (the packages stay in /tmp/site):
#   export PYTHONPATH=/tmp/site:$PWD && bash benchmarks/gpu_suite.sh "$OUT" terms
# Part `steps`: correctness of both kernels on the GPU, then the whole
# pair step (the goals) with a profile; part `terms`: the KD term alone
# and the decode losses in float32 and under autocast. Writes JSON and the
# printed tables under the given folder.
set -euo pipefail
OUT_DIR=${1:?usage: gpu_suite.sh OUT_DIR [steps|terms|all]}
PART=${2:-all}
mkdir -p "$OUT_DIR"
card=$(python3 -c 'import torch; print(torch.cuda.get_device_name().split()[-1].lower())')
R50=mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py
SWIN=mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py
KERNELS=(torch triton)

# Runs one benchmark with a time limit; a failure is recorded in its log
# and the next benchmark still runs.
bench() {
    local name=$1 limit=$2
    shift 2
    timeout "$limit" python3 "$@" 2>&1 | grep -v -i warn \
        | tee "$OUT_DIR/${name}_$card.txt" || echo "$name: exit $?" \
        | tee -a "$OUT_DIR/failures.txt"
}

nvidia-smi --query-gpu=name,memory.total --format=csv > "$OUT_DIR/gpu.txt"
python3 -c 'import triton; print("triton", triton.__version__)' \
    >> "$OUT_DIR/gpu.txt" 2>&1 || true
if [[ $PART == steps || $PART == all ]]; then
    # Correctness on the GPU first (float32 and float16 logits vs float64
    # CPU, the PyTorch path and the compiled Triton kernels).
    bench kd_correctness 200 benchmarks/kd_correctness.py --device cuda
    bench step_overhead_cuda 330 benchmarks/step_overhead.py \
        --device cuda --size 512 --batch 4 --iters 10 --profile \
        --kd-kernels "${KERNELS[@]}" --configs "$R50" "$SWIN" \
        --out "$OUT_DIR/step_overhead_cuda_$card.json"
fi
if [[ $PART == terms || $PART == all ]]; then
    bench kd_term_cuda 150 benchmarks/kd_term.py --device cuda --batch 4 \
        --classes 150 --size 128 512 --iters 10 --kd-kernels "${KERNELS[@]}" \
        --out "$OUT_DIR/kd_term_cuda_$card.json"
    bench loss_head_cuda 180 benchmarks/loss_head.py --device cuda \
        --batch 4 --size 512 --iters 10 --kd-kernels "${KERNELS[@]}" \
        --configs "$R50" "$SWIN" --out "$OUT_DIR/loss_head_cuda_$card.json"
    bench loss_head_cuda_amp 180 benchmarks/loss_head.py --device cuda \
        --batch 4 --size 512 --iters 10 --amp --kd-kernels "${KERNELS[@]}" \
        --configs "$R50" "$SWIN" \
        --out "$OUT_DIR/loss_head_cuda_amp_$card.json"
fi
