"""Shared by the PyTorch harnesses: arguments, golden set, local-only safetensors loading, timing with
CUDA events (or perf_counter on CPU), peak memory and the harness-output contract
(schemas/harness-output.schema.json, "model-gitops/harness-output@1"), the same one the CPU harness
(benchmarks/cpu/harness.ts) writes. Nothing here touches the network: weights come from --model-dir only.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import struct
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

# Belt and braces: even if a library tried to reach a model hub, forbid it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

CONTRACT = "model-gitops/harness-output@1"


def common_args(description: str) -> argparse.ArgumentParser:
    env = os.environ
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model-dir", required=True, help="version folder: config.json + model.safetensors")
    p.add_argument("--golden", default=env.get("MODEL_GITOPS_GOLDEN_SET"), help="golden set (JSONL)")
    p.add_argument("--batch-sizes", default=env.get("MODEL_GITOPS_BENCH_BATCH_SIZES", "1"))
    p.add_argument("--warmup", type=int, default=int(env.get("MODEL_GITOPS_BENCH_WARMUP", "3")))
    p.add_argument("--iterations", type=int, default=int(env.get("MODEL_GITOPS_BENCH_ITERATIONS", "5")))
    p.add_argument("--seed", type=int, default=int(env.get("MODEL_GITOPS_BENCH_SEED", "0")))
    p.add_argument("--output", default=env.get("MODEL_GITOPS_HARNESS_OUTPUT"), help="where to write the JSON (default stdout)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--bare", action="store_true", help="time bare model calls only (one timer per pass), to compare with the harness's own timing")
    p.add_argument("--measure-overhead", action="store_true", help="also compare the harness pass with a bare pass, interleaved, per batch size")
    p.add_argument("--overhead-reps", type=int, default=15)
    return p


def parse_batch_sizes(s: str) -> List[int]:
    try:
        out = [int(x) for x in s.split(",")]
    except ValueError:
        out = []
    if not out or any(b < 1 for b in out):
        raise SystemExit(f"harness: --batch-sizes must be a comma-separated list of positive integers, got {s!r}")
    return out


def read_golden(path: Optional[str]) -> tuple:
    if not path:
        raise SystemExit("harness: --golden is required (a JSONL golden set)")
    with open(path, "rb") as f:
        raw = f.read()
    rows = []
    for i, line in enumerate(raw.decode("utf-8").split("\n")):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise SystemExit(f"harness: {path}:{i + 1}: not valid JSON: {e}")
    if not rows:
        raise SystemExit(f"harness: {path}: the golden set is empty")
    return rows, hashlib.sha256(raw).hexdigest()


def seeded_order(n: int, seed: int) -> List[int]:
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=g).tolist()


_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8}


def load_safetensors(path: str) -> Dict[str, torch.Tensor]:
    """Reads a local .safetensors file. Uses the safetensors package when installed; otherwise parses the
    (simple, documented) format itself, checking every offset. Never unpickles anything."""
    try:
        from safetensors.torch import load_file  # type: ignore
        return load_file(path)
    except ImportError:
        pass
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise SystemExit(f"harness: {path}: too short to be safetensors")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise SystemExit(f"harness: {path}: header length {n} exceeds the file")
    header = json.loads(data[8:8 + n])
    body = memoryview(data)[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(t["dtype"])
        if dtype is None:
            raise SystemExit(f"harness: {path}: tensor {name}: dtype {t['dtype']} not supported")
        b, e = t["data_offsets"]
        count = 1
        for d in t["shape"]:
            count *= d
        if not (0 <= b <= e <= len(body)) or e - b != count * torch.tensor([], dtype=dtype).element_size():
            raise SystemExit(f"harness: {path}: tensor {name}: offsets [{b}, {e}] do not fit shape {t['shape']}")
        out[name] = torch.frombuffer(bytearray(body[b:e]), dtype=dtype).reshape(t["shape"]).clone() if count else torch.empty(t["shape"], dtype=dtype)
    return out


def save_safetensors(path: str, tensors: Dict[str, torch.Tensor]) -> None:
    """Minimal writer (F32/F16/BF16), same layout as the reference: u64 header length, JSON, data."""
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
    header: Dict[str, Any] = {"__metadata__": {"format": "pt"}}
    blobs = []
    off = 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        raw = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    js = json.dumps(header, separators=(",", ":"))
    js += " " * ((8 - len(js) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js.encode())
        for b in blobs:
            f.write(b)


class Timer:
    """CUDA events on a GPU (no host sync per call: events are read after the pass), perf_counter on CPU."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.name = "cuda-event" if self.cuda else "perf_counter"
        if not self.cuda:
            # The clock itself, not a method that branches and then calls it: the harness takes two marks per
            # call, and at batch 1 on a CPU (a ~25 us call) the extra Python frame was a measurable share.
            self.mark = time.perf_counter

    def mark(self):
        if self.cuda:
            e = torch.cuda.Event(enable_timing=True)
            e.record()
            return e
        return time.perf_counter()

    def elapsed_ms(self, pairs: Sequence[tuple]) -> List[float]:
        if self.cuda:
            torch.cuda.synchronize()
            return [s.elapsed_time(e) for s, e in pairs]
        return [(e - s) * 1000.0 for s, e in pairs]


def distribution(values: Sequence[float]) -> Dict[str, float]:
    s = sorted(values)

    def at(p: float) -> float:
        rank = p / 100 * (len(s) - 1)
        lo, hi = int(rank // 1), min(int(-(-rank // 1)), len(s) - 1)
        return s[lo] + (s[hi] - s[lo]) * (rank - lo)

    return {"p50": at(50), "p95": at(95), "p99": at(99), "mean": sum(s) / len(s), "min": s[0], "max": s[-1]}


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device) -> int:
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(r if sys.platform == "darwin" else r * 1024)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def measure_overhead(harness_pass: Callable[[list], float], bare_pass: Callable[[], float], reps: int, bs: int) -> Dict[str, Any]:
    """Interleaved, alternating which goes first, so drift and caches fall on both. The harness pass runs as
    in the timed iterations, collecting its per-call marks, so its whole cost is what gets compared."""
    h, b = [], []
    for r in range(reps):
        if r % 2 == 0:
            h.append(harness_pass([]))
            b.append(bare_pass())
        else:
            b.append(bare_pass())
            h.append(harness_pass([]))
    hm, bm = distribution(h)["p50"], distribution(b)["p50"]
    return {"batchSize": bs, "harness_ms": hm, "bare_ms": bm, "ratio": hm / bm if bm > 0 else 0.0, "reps": reps}


def output_document(*, harness: str, version: str, args: argparse.Namespace, timer: str, device: torch.device,
                    model: Dict[str, Any], golden_sha: Optional[str], examples: int, batch_sizes: List[int],
                    accuracy: Optional[float], errors: int, peak_all: int, results: List[Dict[str, Any]],
                    started: float, overhead: Optional[List[Dict[str, Any]]]) -> Dict[str, Any]:
    """The harness-output document (schemas/harness-output.schema.json) every torch harness writes."""
    doc: Dict[str, Any] = {
        "contract": CONTRACT,
        "harness": {"name": harness, "version": version, "mode": "bare" if args.bare else "full", "runtime": runtime(), "timer": timer},
        "device": {"kind": "cuda" if device.type == "cuda" else "cpu", "name": device_name(device)},
        "model": model,
        "workload": {"goldenSet": args.golden, "goldenSetSha256": golden_sha, "examples": examples, "batchSizes": batch_sizes,
                     "warmup": args.warmup, "iterations": args.iterations, "seed": args.seed},
        "accuracy": accuracy,
        "errors": errors,
        "peak_memory_bytes": peak_all,
        "results": results,
        "duration_ms": (time.perf_counter() - started) * 1000.0,
    }
    if overhead:
        doc["overhead"] = overhead
    return doc


def write_output(doc: Dict[str, Any], output: Optional[str]) -> None:
    text = json.dumps(doc, indent=2) + "\n"
    if output:
        with open(output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


def runtime() -> str:
    cuda = torch.version.cuda or "none"
    return f"torch {torch.__version__} (CUDA {cuda}), python {platform.python_version()}"
