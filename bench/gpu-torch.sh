#!/usr/bin/env bash
# One prepared run of the PyTorch reference harnesses on an NVIDIA GPU: testbed, both harnesses with their
# overhead measurement against bare timed calls, and a short summary. The GPU machine needs only python3 with
# a CUDA build of torch (no Node, no network): make the demo weights where Node runs and bring them along.
#
#   node scripts/train-demo.ts .tmp/gpu-weights          # where Node 24 runs (writes intent-classifier/*)
#   bash bench/gpu-torch.sh .tmp/gpu-weights OUT_DIR      # on the GPU machine
#
# DEVICE=cpu runs the same steps without a GPU (a dry run of this script, not a GPU measurement).
set -euo pipefail

weights=${1:?usage: bench/gpu-torch.sh WEIGHTS_DIR OUT_DIR}
out=${2:?usage: bench/gpu-torch.sh WEIGHTS_DIR OUT_DIR}
device=${DEVICE:-cuda}
py=${PYTHON:-python3}
reps=${OVERHEAD_REPS:-61}
here=$(cd "$(dirname "$0")/.." && pwd)
clf_dir="$weights/intent-classifier/2.1.0"
[ -f "$clf_dir/model.safetensors" ] || { echo "gpu-torch: $clf_dir/model.safetensors not found (run: node scripts/train-demo.ts $weights)" >&2; exit 2; }
mkdir -p "$out"
export PYTHONUNBUFFERED=1

{
  date -u +%FT%TZ
  "$py" -c 'import torch, sys; print("torch", torch.__version__, "cuda", torch.version.cuda, "python", sys.version.split()[0]); print("device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")'
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  fi
} | tee "$out/testbed.txt"

for i in 1 2 3; do
  echo "classifier, process $i"
  "$py" "$here/benchmarks/torch/classifier.py" --model-dir "$clf_dir" --golden "$here/benchmarks/golden/intents.jsonl" \
    --device "$device" --batch-sizes 1,8,32 --warmup 3 --iterations 5 --measure-overhead --overhead-reps "$reps" \
    > "$out/classifier-$i.json"
done

lm_dir=$(mktemp -d)
trap 'rm -rf "$lm_dir"' EXIT
"$py" "$here/benchmarks/torch/causal_lm.py" --init-random "$lm_dir/tiny-lm" --seed 7 >/dev/null
echo "causal LM"
"$py" "$here/benchmarks/torch/causal_lm.py" --model-dir "$lm_dir/tiny-lm" --golden "$here/benchmarks/golden/prompts.jsonl" \
  --device "$device" --batch-sizes 1,4 --max-new-tokens 32 --measure-overhead > "$out/causal-lm.json"

"$py" - "$out" <<'EOF' | tee "$out/summary.md"
import glob, json, os, sys
out = sys.argv[1]
def p50(d, key):
    v = d.get(key)
    return f"{v['p50']:.3f}" if isinstance(v, dict) else "-"
print("| harness | device | batch | overhead ratio | latency p50 ms | p99 ms | TTFT p50 ms | TPOT p50 ms | accuracy | errors |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for f in sorted(glob.glob(os.path.join(out, "*.json"))):
    d = json.load(open(f))
    ratio = {o["batchSize"]: o["ratio"] for o in d.get("overhead", [])}
    for r in d["results"]:
        bs = r["batchSize"]
        print(f"| {os.path.basename(f)} | {d['device']['name']} | {bs} | {ratio.get(bs, float('nan')):.4f} | {p50(r, 'latency_ms')} "
              f"| {r['latency_ms']['p99']:.3f} | {p50(r, 'ttft_ms')} | {p50(r, 'tpot_ms')} | {d.get('accuracy', '-')} | {d['errors']} |")
EOF
