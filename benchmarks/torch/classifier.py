"""PyTorch benchmark harness for the text classifiers (GPU runners; also runs on CPU).

    python benchmarks/torch/classifier.py --model-dir DIR --golden benchmarks/golden/intents.jsonl \
        [--batch-sizes 1,8,32] [--warmup 3] [--iterations 5] [--seed 7] [--output FILE] [--bare] [--measure-overhead]

Builds the bag-of-bytes classifier from the folder's config.json and model.safetensors (the same tensors
the TypeScript demo model writes: embed.weight [vocab, hidden], hidden.weight [hidden, hidden],
head.weight [labels, hidden]); no transformers, no trust_remote_code, no downloads. Latency of one call =
device time, measured with CUDA events, of host-to-device copy + forward + argmax for one batch;
tokenisation (bytes) happens before timing, as a server does it on the CPU. Writes the harness-output
contract (schemas/harness-output.schema.json).
"""
from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _contract as c  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

HARNESS_VERSION = "1"


class BagOfBytesClassifier(nn.Module):
    def __init__(self, vocab: int, hidden: int, labels: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.hidden = nn.Linear(hidden, hidden, bias=False)
        self.head = nn.Linear(hidden, labels, bias=False)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # ids [B, T] right-padded; mean of the embedding rows of the real bytes (0 for empty text).
        mask = (torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None]).to(self.embed.weight.dtype)
        x = (self.embed(ids) * mask[..., None]).sum(1) / lengths.clamp(min=1)[:, None].to(mask.dtype)
        return self.head(torch.tanh(self.hidden(x)))


def load(model_dir: str, device: torch.device, dtype: torch.dtype):
    cfg_path = os.path.join(model_dir, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    try:
        id2label = cfg["id2label"]
        labels = [id2label[str(i)] for i in range(len(id2label))]
        vocab, hidden = int(cfg["vocab_size"]), int(cfg["hidden_size"])
    except (KeyError, ValueError, TypeError) as e:
        raise SystemExit(f"harness: {cfg_path}: needs vocab_size, hidden_size and id2label with indexes 0..n-1 ({e!r})")
    model = BagOfBytesClassifier(vocab, hidden, len(labels))
    state = c.load_safetensors(os.path.join(model_dir, "model.safetensors"))
    missing = {"embed.weight", "hidden.weight", "head.weight"} - set(state)
    if missing:
        raise SystemExit(f"harness: {model_dir}/model.safetensors lacks {sorted(missing)}")
    model.load_state_dict(state, strict=True)
    return model.to(device=device, dtype=dtype).eval(), labels


def encode(texts, device):
    rows = [list(t.encode("utf-8")) for t in texts]
    width = max(1, max(len(r) for r in rows))
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    # Pinned host memory lets the copy to the GPU run asynchronously, as a server would do it.
    if device.type == "cuda":
        ids, lengths = ids.pin_memory(), lengths.pin_memory()
    return ids, lengths


def main() -> int:
    args = c.common_args(__doc__.split("\n")[0]).parse_args()
    started = time.perf_counter()
    batch_sizes = c.parse_batch_sizes(args.batch_sizes)
    rows, golden_sha = c.read_golden(args.golden)
    for i, r in enumerate(rows):
        if not isinstance(r.get("text"), str) or not isinstance(r.get("label"), str):
            raise SystemExit(f"harness: {args.golden}:{i + 1}: each line needs string fields text and label")
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(args.seed)
    model, labels = load(args.model_dir, device, dtype)
    order = c.seeded_order(len(rows), args.seed)
    examples = [rows[i] for i in order]
    timer = c.Timer(device)

    results, overhead = [], []
    errors = 0
    correct = 0
    counted = False
    peak_all = 0
    with torch.inference_mode():
        for bs in batch_sizes:
            batches = [encode([e["text"] for e in examples[i:i + bs]], device) for i in range(0, len(examples), bs)]

            def call(ids, lengths):
                ids = ids.to(device, non_blocking=True)
                lengths = lengths.to(device, non_blocking=True)
                return model(ids, lengths).argmax(-1)

            def bare_pass() -> float:
                s = timer.mark()
                for ids, lengths in batches:
                    call(ids, lengths)
                e = timer.mark()
                return timer.elapsed_ms([(s, e)])[0]

            preds = [None] * len(batches)  # None marks a failed call

            def harness_pass(marks: list) -> float:
                # Chained marks: one call's end is the next one's start, so each call costs one mark, not two.
                mark = timer.mark
                marks.append(mark())
                for k, (ids, lengths) in enumerate(batches):
                    try:
                        preds[k] = call(ids, lengths)  # stays on the device: no sync inside the pass
                    except RuntimeError:
                        preds[k] = None
                    marks.append(mark())
                return timer.elapsed_ms([(marks[0], marks[-1])])[0]

            for _ in range(args.warmup):
                bare_pass()
            c.reset_peak(device)
            lat, total_ms = [], 0.0
            for _ in range(args.iterations):
                if args.bare:
                    ms = bare_pass()
                    total_ms += ms
                    lat.append(ms / len(batches))
                else:
                    marks = []
                    total_ms += harness_pass(marks)
                    lat.extend(timer.elapsed_ms(list(zip(marks[:-1], marks[1:]))))
            if not counted:
                if args.bare:
                    harness_pass([])
                idx = 0
                for k, (ids, _) in enumerate(batches):
                    got = preds[k].tolist() if preds[k] is not None else None
                    for j in range(ids.shape[0]):
                        if got is None:
                            errors += 1
                        elif labels[got[j]] == examples[idx]["label"]:
                            correct += 1
                        idx += 1
                counted = True
            peak = c.peak_memory(device)
            peak_all = max(peak_all, peak)
            if args.measure_overhead:
                overhead.append(c.measure_overhead(harness_pass, bare_pass, args.overhead_reps, bs))
            results.append({
                "batchSize": bs, "samples": len(lat), "latency_ms": c.distribution(lat),
                "throughput_per_s": len(examples) * args.iterations / (total_ms / 1000.0) if total_ms > 0 else 0.0,
                "peak_memory_bytes": peak,
            })

    doc = c.output_document(
        harness="torch-classifier", version=HARNESS_VERSION, args=args, timer=timer.name, device=device,
        model={"dir": args.model_dir, "parameters": sum(p.numel() for p in model.parameters()), "dtype": args.dtype, "labels": labels},
        golden_sha=golden_sha, examples=len(examples), batch_sizes=batch_sizes, accuracy=correct / len(examples), errors=errors,
        peak_all=peak_all, results=results, started=started, overhead=overhead)
    c.write_output(doc, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
