#!/usr/bin/env bash
# The GPU benchmarks, for a lent GPU machine (see ../shared/gpu/README.md),
# in one command of at most 600 seconds with the setup (about 150 s), most
# important first:
#   1. kd_correctness   the KD term on the GPU against float64, N = 2, 3, 4,
#                       every selection, PyTorch path and Triton kernels
#   2. kd_term          the KD term's time: naive formula, PyTorch path,
#                       Triton kernels, every selection, N = 2, 3, 4
#   3. step_seg_pair    UPerNet-R50 + Swin-T pair step / sum of singles,
#                       fp32, fp16 AMP, bf16, with peak memory
#   4. step_cls_pair    ViT-B + DeiT-T at 224, batch 64, the same
#   5. step_sal_pair    the saliency pair: the published models (TMFI-Net +
#                       ViNet-A, 32 frames) where the checkout has their
#                       config, else TMFI Swin-S + ViNet S3D (16 frames)
#   6. amp_correctness  50 steps fp16 AMP and bf16 against fp32, the shared
#                       GradScaler
#   7. ddp              tools/dist_train.sh, 2 processes on the one GPU
#                       (gloo): ranks equal, resume
#   8. step_seg_triple  R50 + R101 + Swin-T
#   9. step_m2f_pair    Mask2Former R50 + Swin-T (needs mmdet on the device)
#  10. step_overhead    the pair's KD variants (logits / labels, kernels),
#                       interleaved; then loss_head(_amp), host_syncs and a
#                       profile, as time allows.
# From the project root, after
# `EXTRA_WHEELS="importlib_metadata==8.7.0" bash ../shared/gpu/prepare.sh`
# here (mmpretrain imports importlib_metadata; 10.x needs lazy_importer):
#   source .gpu/setup.sh && bash benchmarks/gpu_suite.sh "$OUT"
# Each benchmark runs under its own time limit, capped by what is left of
# BUDGET seconds for the whole suite (default 440: 600 minus the setup and
# a margin); one that would get less than 20 s is skipped. Its exit status
# and time go to suite.txt and the next one still runs. ONLY="kd_term ddp"
# runs only those (e.g. the rest in a second call). Output is unbuffered,
# so a benchmark cut short keeps what it printed. The device tool returns
# at most eight files: finished benchmarks' tables and JSON are packed
# into results.tar, the running one's table stays beside it.
# DEVICE=cpu is the dry run on a machine without a GPU: tiny sizes, the
# demo members (configs/bikd/demo), Triton in its interpreter, fp32 and
# bf16; every benchmark must exit 0 (host_syncs needs CUDA).
set -uo pipefail
OUT_DIR=${1:?usage: gpu_suite.sh OUT_DIR}
OUT_DIR=$(mkdir -p "$OUT_DIR" && cd "$OUT_DIR" && pwd)
DEVICE=${DEVICE:-cuda}
BUDGET=${BUDGET:-440}
ONLY=${ONLY:-}
# A factor on every time limit (the CPU dry run is slower).
SLOW=${SLOW:-1}
R50=mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py
SWIN=mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py
export PYTHONUNBUFFERED=1
DONE=$(mktemp -d)
SUITE="$OUT_DIR/suite.txt"
if [[ $DEVICE == cuda ]]; then
    SIZE=${SIZE:-512}
    ITERS=${ITERS:-10}
    PRECISIONS=${PRECISIONS:-fp32 fp16 bf16}
    SEG_PAIR=${SEG_PAIR:-configs/bikd/seg_pair_r50_swin.py}
    SEG_TRIPLE=${SEG_TRIPLE:-configs/bikd/seg_triple_r50_r101_swin.py}
    M2F_PAIR=${M2F_PAIR:-configs/bikd/seg_pair_m2f_r50_swin-t.py}
    CLS_PAIR=${CLS_PAIR:-configs/bikd/cls_pair_vit-b_vit-t.py}
    # The published saliency models' pair where this checkout has it.
    published=configs/bikd/sal_pair_tmfi-net_vinet-a_dhf1k.py
    if [[ -f $published ]]; then
        SAL_PAIR=${SAL_PAIR:-$published}
        SAL_FRAMES=${SAL_FRAMES:-32}
        SAL_BATCH=${SAL_BATCH:-1}
    fi
    SAL_PAIR=${SAL_PAIR:-configs/bikd/sal_pair_tmfi_vinet_dhf1k.py}
    read -r -a PAIR <<< "${CONFIGS:-$R50 $SWIN}"
    CLS=(--batch "${CLS_BATCH:-64}" --size 224)
    SAL=(--batch "${SAL_BATCH:-2}" --size 224 --frames "${SAL_FRAMES:-16}")
    AMP=(--size 256 --batch 2 --steps 50)
    KD_SIZE=(--batch 4 --classes 150 --size "$SIZE")
    CORRECT=(--quick)
    KD_ITERS=5
    STEP_ITERS=6
    card=$(python3 -c 'import torch; print(torch.cuda.get_device_name().split()[-1].lower())')
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv \
        >> "$SUITE"
else
    SIZE=${SIZE:-32}
    ITERS=${ITERS:-1}
    PRECISIONS=${PRECISIONS:-fp32 bf16}
    export TRITON_INTERPRET=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
    demo=configs/bikd/demo
    dry=$OUT_DIR/dry_configs
    mkdir -p "$dry"
    # Three demo members and a Mask2Former + UPerNet demo pair.
    cat > "$dry/seg_triple_demo.py" <<EOF
_base_ = ['$PWD/$demo/seg_pair_digits.py']
model = dict(members=[
    dict(name='cnn', config='$PWD/$demo/members/upernet_r18-tiny_digits.py'),
    dict(name='swin', config='$PWD/$demo/members/upernet_swin-tiny_digits.py'),
    dict(name='cnn2', config='$PWD/$demo/members/upernet_r18-tiny_digits.py'),
])
EOF
    cat > "$dry/seg_m2f_demo.py" <<EOF
_base_ = ['$PWD/$demo/seg_pair_digits.py']
model = dict(members=[
    dict(name='m2f', config='$PWD/$demo/members/mask2former_r18-tiny_digits.py'),
    dict(name='cnn', config='$PWD/$demo/members/upernet_r18-tiny_digits.py'),
])
EOF
    SEG_PAIR=${SEG_PAIR:-$demo/seg_pair_digits.py}
    SEG_TRIPLE=${SEG_TRIPLE:-$dry/seg_triple_demo.py}
    M2F_PAIR=${M2F_PAIR:-$dry/seg_m2f_demo.py}
    CLS_PAIR=${CLS_PAIR:-$demo/cls_pair_digits.py}
    SAL_PAIR=${SAL_PAIR:-$demo/sal_pair_synthetic.py}
    read -r -a PAIR <<< "${CONFIGS:-$demo/members/upernet_r18-tiny_digits.py $demo/members/upernet_swin-tiny_digits.py}"
    CLS=(--batch 2 --size 32)
    SAL=(--batch 2 --size 32 --frames 4)
    AMP=(--size 32 --batch 2 --steps 4)
    KD_SIZE=(--batch 2 --classes 19 --size 8)
    CORRECT=(--quick --members 2 3)
    KD_ITERS=1
    STEP_ITERS=1
    card=$DEVICE
fi
read -r -a PRECISION <<< "$PRECISIONS"
{
    python3 -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__)'
    python3 -c 'import triton; print("triton", triton.__version__)'
    python3 -c 'import mmdet; print("mmdet", mmdet.__version__)'
} >> "$SUITE" 2>&1
HAS_MMDET=$(python3 -c 'import mmdet.models' >/dev/null 2>&1 && echo 1 || echo 0)

# bench NAME LIMIT SCRIPT ARGS...: runs one benchmark for at most LIMIT
# (times SLOW) seconds, capped by what is left of BUDGET; its table
# NAME_CARD.txt and JSON (--out) end in results.tar.
bench() {
    local name=$1 limit=$(( $2 * SLOW )) start=$SECONDS
    shift 2
    if [[ -n $ONLY && " $ONLY " != *" $name "* ]]; then
        return
    fi
    local left=$(( BUDGET * SLOW - SECONDS ))
    if (( left < 20 * SLOW )); then
        echo "$name: skipped, $left s of the budget left" >> "$SUITE"
        return
    fi
    (( limit > left )) && limit=$left
    local table="$OUT_DIR/${name}_$card.txt"
    echo "\$ python3 $* --out ${name}_$card.json" > "$table"
    timeout "$limit" python3 "$@" --out "$DONE/${name}_$card.json" 2>&1 \
        | grep --line-buffered -v -i -E 'warn|_bootstrap|^\s+(super\(\)|self\.loss_scaler|import pkg_resources)' \
        >> "$table"
    local rc=${PIPESTATUS[0]}
    echo "$name: exit $rc after $(( SECONDS - start )) s (limit $limit s)" \
        >> "$SUITE"
    mv "$table" "$DONE/"
    tar -cf "$OUT_DIR/results.tar" -C "$DONE" .
}

kernels=(--kd-kernels torch triton)
bench kd_correctness 100 benchmarks/kd_correctness.py --device "$DEVICE" \
    "${CORRECT[@]}"
bench kd_term 80 benchmarks/kd_term.py --device "$DEVICE" "${KD_SIZE[@]}" \
    --members 2 3 4 --selection pixel image pixel_score image_score fixed all \
    --kd-kernels torch triton triton_n --iters "$KD_ITERS"
step=(benchmarks/pair_step.py --device "$DEVICE" --iters "$STEP_ITERS"
      --precision "${PRECISION[@]}")
bench step_seg_pair 35 "${step[@]}" --config "$SEG_PAIR" --batch 4 \
    --size "$SIZE"
bench step_cls_pair 35 "${step[@]}" --config "$CLS_PAIR" "${CLS[@]}"
bench step_sal_pair 40 "${step[@]}" --config "$SAL_PAIR" "${SAL[@]}" \
    --warmup 1 --iters $(( STEP_ITERS < 3 ? STEP_ITERS : 3 ))
bench amp_correctness 35 benchmarks/amp_correctness.py --device "$DEVICE" \
    --config "$SEG_PAIR" --precision "${PRECISION[@]}" "${AMP[@]}"
bench ddp 60 benchmarks/ddp_check.py --device "$DEVICE" \
    --work-dir "$(mktemp -d)"
bench step_seg_triple 45 "${step[@]}" --config "$SEG_TRIPLE" --batch 4 \
    --size "$SIZE"
if [[ $HAS_MMDET == 1 ]]; then
    bench step_m2f_pair 45 "${step[@]}" --config "$M2F_PAIR" --batch 4 \
        --size "$SIZE"
else
    echo "step_m2f_pair: skipped, mmdet does not import here" >> "$SUITE"
fi
pair=(--device "$DEVICE" --batch 4 --size "$SIZE" --configs "${PAIR[@]}"
      "${kernels[@]}")
bench step_overhead_interleaved 100 benchmarks/step_overhead.py \
    "${pair[@]}" --iters $(( 2 * ITERS )) --interleave
bench loss_head 50 benchmarks/loss_head.py "${pair[@]}" --iters "$ITERS"
bench loss_head_amp 50 benchmarks/loss_head.py "${pair[@]}" \
    --iters "$ITERS" --amp
if [[ $DEVICE == cuda ]]; then
    bench host_syncs 60 benchmarks/host_syncs.py "${pair[@]}"
fi
bench step_overhead 120 benchmarks/step_overhead.py "${pair[@]}" \
    --iters "$ITERS" --profile
echo "suite done after $SECONDS s" >> "$SUITE"
