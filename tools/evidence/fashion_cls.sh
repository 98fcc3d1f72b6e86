#!/usr/bin/env bash
# The Fashion-MNIST classification evidence of docs/evidence.md, from the
# repository root: `bash tools/evidence/fashion_cls.sh` (hours on 2 cores;
# run it in the background). Every step reuses what is already done:
# pre-trainings kept in $KEPT (committed, checked against their
# SHA256SUMS) or in the machine-wide cache (~/.cache/bikd_mm), finished
# comparison runs from the committed records in $RECORDS, so a stopped run
# resumes, on this machine or in another checkout, from the same weights.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
CFG=configs/bikd/fashion/cls_pair_fashion_mnist.py
RECORDS=docs/results/compare_transfer_fashion_cls_records
KEPT=checkpoints/evidence/fashion_mnist_cls
SEEDS=${SEEDS:-"0 1 2 3 4"}

# 1. Each member alone, 3 pre-training seeds, with validation curves.
$PY tools/analysis/pretrain_members.py "$CFG" --task cls --seeds 0 1 2 \
    --workers 2 --threads 1 --work-dir work_dirs/fashion/pretrain_cls \
    --keep-dir "$KEPT" --publish-dir work_dirs/fashion/cls/pretrained \
    --out docs/results/pretrain_fashion_cls

# 2. Complementarity of each pre-trained pair on the 10,000 test images.
for ps in 0 1 2; do
    ckpts=$($PY -c "import json; d = json.load(open('docs/results/pretrain_fashion_cls.json')); print(' '.join(r['member'] + '=' + r['checkpoint'] for r in d['runs'] if r['seed'] == $ps))")
    # shellcheck disable=SC2086
    $PY tools/analysis/complementarity.py "$CFG" --checkpoints $ckpts \
        --device cpu --out "docs/results/complementarity_fashion_cls_pretrain$ps"
done

# 3. The comparison, one fine-tuning seed more per stage: every stage is a
#    full design (4 regimes x 3 pre-training seeds) and rewrites the result.
stage=""
for s in $SEEDS; do
    stage="$stage $s"
    # shellcheck disable=SC2086
    $PY tools/analysis/compare_transfer.py cls --config "$CFG" \
        --pretrain-seeds 0 1 2 --seeds $stage --iters 300 \
        --val-interval 100 --workers 2 --threads 1 \
        --work-dir work_dirs/fashion/compare_cls --record-dir "$RECORDS" \
        --out docs/results/compare_transfer_fashion_cls
done

# 4. How the gains relate to each start's complementarity.
$PY tools/analysis/relate_gains.py \
    docs/results/compare_transfer_fashion_cls.json \
    docs/results/complementarity_fashion_cls_pretrain{0,1,2}.json \
    --out docs/results/relate_gains_fashion_cls
