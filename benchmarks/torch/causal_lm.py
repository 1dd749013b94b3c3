"""PyTorch benchmark harness for small causal language models (GPU runners; also runs on CPU).

    python benchmarks/torch/causal_lm.py --model-dir DIR --golden benchmarks/golden/prompts.jsonl \
        [--batch-sizes 1,4] [--max-new-tokens 32] [--warmup 2] [--iterations 3] [--seed 7] [--output FILE] [--bare]
    python benchmarks/torch/causal_lm.py --init-random DIR [--seed 7]   # writes a tiny random model to try it

The model is a small self-contained decoder-only transformer (byte vocabulary, learned positions,
pre-LayerNorm blocks, KV cache) built from the folder's config.json and model.safetensors: no transformers,
no trust_remote_code, nothing downloaded. Greedy decoding of --max-new-tokens tokens per prompt.
Measured per batch with CUDA events: TTFT = prefill + first token, TPOT = each later decode step, latency =
the whole generation. Golden lines: {"prompt": str, "expected"?: str}; accuracy = share of generations
that start with "expected" (null when no line has one). Writes the harness-output contract.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _contract as c  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

HARNESS_VERSION = "1"
PAD = 0


class Block(nn.Module):
    def __init__(self, h: int, heads: int, inter: int, eps: float):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(h, eps=eps)
        self.qkv = nn.Linear(h, 3 * h)
        self.proj = nn.Linear(h, h)
        self.ln2 = nn.LayerNorm(h, eps=eps)
        self.fc1 = nn.Linear(h, inter)
        self.fc2 = nn.Linear(inter, h)

    def forward(self, x, bias, cache):
        b, t, h = x.shape
        d = h // self.heads
        q, k, v = self.qkv(self.ln1(x)).split(h, dim=-1)
        q, k, v = (z.view(b, t, self.heads, d).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(d) + bias
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, h)
        x = x + self.proj(y)
        x = x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
        return x, (k, v)


class TinyCausalLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h = cfg["hidden_size"]
        self.tok = nn.Embedding(cfg["vocab_size"], h)
        self.pos = nn.Embedding(cfg["max_position_embeddings"], h)
        self.blocks = nn.ModuleList(Block(h, cfg["num_heads"], cfg["intermediate_size"], cfg.get("norm_eps", 1e-5)) for _ in range(cfg["num_layers"]))
        self.ln_f = nn.LayerNorm(h, eps=cfg.get("norm_eps", 1e-5))
        self.lm_head = nn.Linear(h, cfg["vocab_size"], bias=False)

    def forward(self, ids, pos, key_mask, caches):
        """ids/pos [B, T]; key_mask [B, S] (1 = real token) over every key so far, incl. these T."""
        b, t = ids.shape
        s = key_mask.shape[1]
        x = self.tok(ids) + self.pos(pos)
        # Query i (absolute key index s - t + i) sees keys <= itself that are real tokens, and always
        # itself, so a left-padding query never has an all-masked row.
        qi = torch.arange(s - t, s, device=ids.device)[:, None]
        kj = torch.arange(s, device=ids.device)[None, :]
        allowed = (kj <= qi)[None] & (key_mask[:, None, :] > 0)
        allowed = allowed | (kj == qi)[None]
        bias = torch.zeros(allowed.shape, dtype=x.dtype, device=ids.device).masked_fill(~allowed, float("-inf"))[:, None]
        new = []
        for i, blk in enumerate(self.blocks):
            x, kv = blk(x, bias, caches[i] if caches is not None else None)
            new.append(kv)
        return self.lm_head(self.ln_f(x)), new


def load(model_dir, device, dtype):
    path = os.path.join(model_dir, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    need = ["vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size", "max_position_embeddings"]
    missing = [k for k in need if not isinstance(cfg.get(k), int)]
    if missing:
        raise SystemExit(f"harness: {path}: needs integer fields {missing}")
    if cfg["hidden_size"] % cfg["num_heads"]:
        raise SystemExit(f"harness: {path}: hidden_size must be divisible by num_heads")
    model = TinyCausalLM(cfg)
    model.load_state_dict(c.load_safetensors(os.path.join(model_dir, "model.safetensors")), strict=True)
    return model.to(device=device, dtype=dtype).eval(), cfg


def init_random(out_dir: str, seed: int) -> None:
    torch.manual_seed(seed)
    cfg = {"architectures": ["TinyCausalLM"], "model_type": "tiny-causal-lm", "vocab_size": 256, "hidden_size": 256, "num_layers": 4,
           "num_heads": 4, "intermediate_size": 1024, "max_position_embeddings": 512, "norm_eps": 1e-5}
    model = TinyCausalLM(cfg)
    os.makedirs(out_dir, exist_ok=True)
    c.save_safetensors(os.path.join(out_dir, "model.safetensors"), dict(model.state_dict()))
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        f.write(json.dumps(cfg, indent=2) + "\n")
    with open(os.path.join(out_dir, "tokenizer.json"), "w") as f:
        f.write(json.dumps({"type": "bytes", "vocab_size": 256}) + "\n")


def encode_batch(prompts, max_pos, new_tokens):
    rows = [list(p.encode("utf-8"))[-(max_pos - new_tokens):] or [PAD] for p in prompts]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), PAD, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = torch.tensor(r)  # left padding: every row's last token is real
        mask[i, width - len(r):] = 1
    return ids, mask


def main() -> int:
    p = c.common_args(__doc__.split("\n")[0])
    p.add_argument("--max-new-tokens", type=int, default=int(os.environ.get("MODEL_GITOPS_BENCH_MAX_NEW_TOKENS", "32")))
    p.add_argument("--init-random", metavar="DIR", help="write a tiny random model to DIR and exit")
    if "--init-random" in sys.argv:
        # --model-dir is not needed for this mode.
        a = sys.argv[sys.argv.index("--init-random") + 1]
        seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 7
        init_random(a, seed)
        print(a)
        return 0
    args = p.parse_args()
    if args.max_new_tokens < 2:
        raise SystemExit("harness: --max-new-tokens must be at least 2 (TPOT needs a token after the first)")
    started = time.perf_counter()
    batch_sizes = c.parse_batch_sizes(args.batch_sizes)
    rows, golden_sha = c.read_golden(args.golden)
    for i, r in enumerate(rows):
        if not isinstance(r.get("prompt"), str):
            raise SystemExit(f"harness: {args.golden}:{i + 1}: each line needs a string field prompt")
    device = torch.device(args.device)
    model, cfg = load(args.model_dir, device, getattr(torch, args.dtype))
    torch.manual_seed(args.seed)
    examples = [rows[i] for i in c.seeded_order(len(rows), args.seed)]
    timer = c.Timer(device)
    n_new = args.max_new_tokens

    def generate(ids, mask, marks=None):
        """Greedy decoding; with marks, records (start, first-token, step...) timer marks."""
        ids = ids.to(device, non_blocking=True)
        mask = mask.to(device, non_blocking=True)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        if marks is not None:
            marks.append(timer.mark())
        logits, caches = model(ids, pos, mask, None)
        nxt = logits[:, -1].argmax(-1, keepdim=True)
        out = [nxt]
        if marks is not None:
            marks.append(timer.mark())
        last = pos[:, -1:]
        for _ in range(n_new - 1):
            last = last + 1
            mask = torch.cat([mask, torch.ones_like(nxt)], dim=1)
            logits, caches = model(nxt, last, mask, caches)
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            out.append(nxt)
            if marks is not None:
                marks.append(timer.mark())
        return torch.cat(out, dim=1)

    results, overhead = [], []
    errors = correct = scored = 0
    counted = False
    peak_all = 0
    with torch.inference_mode():
        for bs in batch_sizes:
            batches = []
            for i in range(0, len(examples), bs):
                chunk = examples[i:i + bs]
                batches.append((encode_batch([e["prompt"] for e in chunk], cfg["max_position_embeddings"], n_new), chunk))

            def bare_pass() -> float:
                s = timer.mark()
                for (ids, mask), _ in batches:
                    generate(ids, mask)
                e = timer.mark()
                return timer.elapsed_ms([(s, e)])[0]

            outputs = [None] * len(batches)

            def harness_pass(all_marks=None) -> float:
                s0 = timer.mark()
                for k, ((ids, mask), _) in enumerate(batches):
                    marks = []
                    try:
                        outputs[k] = generate(ids, mask, marks)
                    except RuntimeError:
                        outputs[k] = None
                        marks = []
                    if all_marks is not None:
                        all_marks.append(marks)
                e0 = timer.mark()
                return timer.elapsed_ms([(s0, e0)])[0]

            for _ in range(args.warmup):
                bare_pass()
            c.reset_peak(device)
            lat, ttft, tpot, total_ms = [], [], [], 0.0
            for _ in range(args.iterations):
                if args.bare:
                    ms = bare_pass()
                    total_ms += ms
                    lat.append(ms / len(batches))
                    continue
                all_marks = []
                total_ms += harness_pass(all_marks)
                for marks in all_marks:
                    if len(marks) < 3:
                        continue
                    steps = timer.elapsed_ms(list(zip(marks[:-1], marks[1:])))
                    ttft.append(steps[0])
                    tpot.extend(steps[1:])
                    lat.append(sum(steps))
            if not counted:
                if args.bare:
                    harness_pass()
                for k, (_, chunk) in enumerate(batches):
                    got = outputs[k].tolist() if outputs[k] is not None else None
                    for j, e in enumerate(chunk):
                        if got is None:
                            errors += 1
                            continue
                        if isinstance(e.get("expected"), str):
                            scored += 1
                            text = bytes(t for t in got[j] if 0 <= t < 256).decode("utf-8", "replace")
                            correct += text.startswith(e["expected"])
                counted = True
            peak = c.peak_memory(device)
            peak_all = max(peak_all, peak)
            if args.measure_overhead:
                overhead.append(c.measure_overhead(harness_pass, bare_pass, args.overhead_reps, bs))
            if not lat:
                raise SystemExit("harness: every batch failed; nothing was measured")
            r = {"batchSize": bs, "samples": len(lat), "latency_ms": c.distribution(lat),
                 "throughput_per_s": len(examples) * args.iterations / (total_ms / 1000.0) if total_ms > 0 else 0.0,
                 "peak_memory_bytes": peak}
            if ttft:
                r["ttft_ms"] = c.distribution(ttft)
                r["tpot_ms"] = c.distribution(tpot)
            results.append(r)

    doc = c.output_document(
        harness="torch-causal-lm", version=HARNESS_VERSION, args=args, timer=timer.name, device=device,
        model={"dir": args.model_dir, "parameters": sum(p.numel() for p in model.parameters()), "dtype": args.dtype},
        golden_sha=golden_sha, examples=len(examples), batch_sizes=batch_sizes, accuracy=correct / scored if scored else None, errors=errors,
        peak_all=peak_all, results=results, started=started, overhead=overhead)
    c.write_output(doc, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
