#!/usr/bin/env bash
# bash bench/gpu.sh [--check]
#
# What CPUs cannot measure, on one GPU in about ten minutes, written as one table to
# bench/gpu-results.md:
#   (a) eval translate with the vLLM engine against the hf engine, same model and lines:
#       lines/s and whether greedy outputs are identical;
#   (b) train cpt of a ~1B Llama built from config in bf16, packed against padded rows:
#       tokens/s per GPU and MFU against the GPU's bf16 peak (bench/train.py);
#   (c) serve under the load bench with vLLM against hf (bench/serve.py).
# The GPU machine has no network: the 1B model is built from config (random weights, the
# `tiny` preset's byte-level tokenizer; ~1B parameters: TinyLlama's shape less its 32k vocabulary), so no download is needed; vLLM rows are skipped,
# with the reason in the table, where vllm is not installed.
# `--check` runs the CPU-side parts only: every command it calls parses its arguments and
# the 1B config builds (on the meta device); CI runs it (tests/test_bench_scripts.py).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-bench}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
CHECK=${1:-}

build_1b() {  # TinyLlama-1.1B's shape with the tiny byte-level tokenizer: 0.97B parameters
    "$PY" - "$1" "$2" <<'EOF'
import sys
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from lingualift.inference.models import build_tiny_tokenizer
target, meta = sys.argv[1], sys.argv[2] == "meta"
tok = build_tiny_tokenizer()
config = LlamaConfig(vocab_size=320, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                     num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=2048,
                     bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                     torch_dtype="bfloat16")
with torch.device("meta" if meta else "cpu"):
    model = LlamaForCausalLM(config)
print(f"{sum(p.numel() for p in model.parameters()) / 1e9:.2f}B parameters")
if not meta:
    model.to(torch.bfloat16).save_pretrained(target)
    tok.save_pretrained(target)
EOF
}

if [ "$CHECK" = "--check" ]; then
    build_1b "$WORK/1b" meta
    "$PY" -m lingualift eval translate --help >/dev/null
    "$PY" -m lingualift serve --help >/dev/null
    "$PY" bench/train.py --help >/dev/null
    "$PY" bench/serve.py --help >/dev/null
    echo "gpu.sh: CPU-side parts check out"
    exit 0
fi

"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'bench/gpu.sh needs a CUDA GPU')"
GPU=$("$PY" -c "import torch; print(torch.cuda.get_device_name())")
HAS_VLLM=$("$PY" -c "import importlib.util; print('yes' if importlib.util.find_spec('vllm') else 'no')")
build_1b "$WORK/1b" real
FLORES=${LINGUALIFT_SHARED_DATA:-../shared/data}/flores200
{
    echo "# GPU measurements ($GPU, $(date -u +%Y-%m-%d))"
    echo
    echo "Command: \`bash bench/gpu.sh\`; model: a 0.97B Llama built from config (random weights, byte tokenizer)."
    echo
    echo "## (a) eval translate, vLLM against hf (greedy, 64 FLORES lines eng->swh, 64 new tokens)"
    echo
    for engine in hf vllm; do
        if [ "$engine" = vllm ] && [ "$HAS_VLLM" = no ]; then echo "- vllm: not installed (pip install vllm)"; continue; fi
        start=$(date +%s.%N)
        "$PY" -m lingualift eval translate --model "$WORK/1b" --engine $engine --data "flores:$FLORES" \
            --directions en-sw --limit 64 --max-new-tokens 64 --metrics chrf++ --out "$WORK/eval-$engine" >/dev/null
        end=$(date +%s.%N)
        echo "- $engine: $("$PY" -c "print(f'{64 / ($end - $start):.2f} lines/s')")"
    done
    if [ -d "$WORK/eval-vllm" ]; then
        if cmp -s "$WORK/eval-hf/directions/eng_Latn-swh_Latn/hyp.txt" "$WORK/eval-vllm/directions/eng_Latn-swh_Latn/hyp.txt"
        then echo "- greedy outputs identical"; else echo "- greedy outputs differ"; fi
    fi
    echo
    echo "## (b) train cpt, 0.97B bf16, packed against padded (bench/train.py)"
    echo
    "$PY" bench/train.py --model "$WORK/1b" --steps 20 --block 2048 --batch 4 2>/dev/null | grep -E "^\||ratio|useful"
    echo
    echo "## (c) serve under load (bench/serve.py; the server picks vLLM when installed: engine auto)"
    echo
    "$PY" bench/serve.py --model "$WORK/1b" --seconds 20 2>/dev/null | grep -E "^\||ratio" || true
} | tee "$OUT/gpu-results.md"
