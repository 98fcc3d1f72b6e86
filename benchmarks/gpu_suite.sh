#!/usr/bin/env bash
# All GPU benchmarks in one run, for a lent GPU machine (see
# ../shared/gpu/README.md). From the project root, after
# `EXTRA_WHEELS="importlib_metadata==8.7.0" bash ../shared/gpu/prepare.sh`
# here (mmpretrain imports importlib_metadata; 10.x needs lazy_importer):
#   source .gpu/setup.sh && bash benchmarks/gpu_suite.sh "$OUT"
# Writes JSON and the printed tables under the given folder.
set -euo pipefail
OUT_DIR=${1:?usage: gpu_suite.sh OUT_DIR}
mkdir -p "$OUT_DIR"
card=$(python3 -c 'import torch; print(torch.cuda.get_device_name().split()[-1].lower())')
R50=mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py
SWIN=mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py
nvidia-smi --query-gpu=name,memory.total --format=csv > "$OUT_DIR/gpu.txt"
# Correctness on the GPU first (float32 and float16 logits vs float64 CPU);
# a failure is recorded, the benchmarks still run.
python3 benchmarks/kd_correctness.py --device cuda \
    2>&1 | grep -v -i warn | tee "$OUT_DIR/kd_correctness_$card.txt" || true
python3 benchmarks/step_overhead.py --device cuda --size 512 --batch 4 \
    --iters 10 --kd-kernels torch triton --configs "$R50" "$SWIN" \
    --out "$OUT_DIR/step_overhead_cuda_$card.json" \
    2>&1 | grep -v -i warn | tee "$OUT_DIR/step_overhead_cuda_$card.txt"
python3 benchmarks/kd_term.py --device cuda --batch 4 --classes 150 \
    --size 128 512 --iters 10 --kernels torch triton \
    --out "$OUT_DIR/kd_term_cuda_$card.json" \
    2>&1 | grep -v -i warn | tee "$OUT_DIR/kd_term_cuda_$card.txt"
python3 benchmarks/loss_head.py --device cuda --batch 4 --size 512 \
    --iters 10 --kd-kernels torch triton --configs "$R50" "$SWIN" \
    --out "$OUT_DIR/loss_head_cuda_$card.json" \
    2>&1 | grep -v -i warn | tee "$OUT_DIR/loss_head_cuda_$card.txt"
python3 benchmarks/loss_head.py --device cuda --batch 4 --size 512 \
    --iters 10 --amp --kd-kernels torch triton --configs "$R50" "$SWIN" \
    --out "$OUT_DIR/loss_head_cuda_amp_$card.json" \
    2>&1 | grep -v -i warn | tee "$OUT_DIR/loss_head_cuda_amp_$card.txt"
python3 benchmarks/step_overhead.py --device cuda --size 512 --batch 4 \
    --iters 5 --profile --kd-kernels torch triton --configs "$R50" "$SWIN" \
    2>&1 | grep -v -i warn > "$OUT_DIR/step_overhead_profile_$card.txt"
