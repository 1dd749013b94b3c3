"""The gateway's PyTorch worker: serves one version folder over OpenAI-compatible HTTP on 127.0.0.1.

    /usr/bin/python3 benchmarks/torch/serve_worker.py --model-dir DIR --kind causal-lm|classifier \
        --served-name NAME [--port 0] [--threads 1] [--device cpu]

Loads with the benchmark harnesses' own loaders (classifier.py, causal_lm.py): local files only, no hub,
no remote code, no pickles. Prints one line `READY <port>` on stdout once the model answers. Routes:
GET /health, GET /v1/models, POST /v1/completions and /v1/chat/completions (causal LM; "stream": true is
SSE, one event per token, and a client that disconnects stops the generation), POST /v1/predict
({"inputs": "text" | ["text", ...]}, classifier). Chat messages become the prompt "role: content" lines
followed by "assistant:" (the byte-level models have no chat template).
"""
from __future__ import annotations

import argparse
import codecs
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

MAX_BODY = 1 << 20


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model-dir", required=True)
    p.add_argument("--kind", choices=["causal-lm", "classifier"], required=True)
    p.add_argument("--served-name", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    torch.set_num_threads(max(1, args.threads))
    device = torch.device(args.device)
    if args.kind == "classifier":
        import classifier as harness  # noqa: E402
        model, labels = harness.load(args.model_dir, device, torch.float32)
        cfg = None
    else:
        import causal_lm as harness  # noqa: E402
        model, cfg = harness.load(args.model_dir, device, torch.float32)
        labels = None
    lock = __import__("threading").Lock()  # one forward pass at a time: torch threads are set above

    def classify(texts):
        ids, lengths = harness.encode(texts, device)
        with torch.inference_mode(), lock:
            logits = model(ids.to(device), lengths.to(device))
        probs = logits.softmax(-1)
        best = probs.argmax(-1)
        return [{"label": labels[int(b)], "score": float(probs[i, b])} for i, b in enumerate(best)]

    def generate(prompt, max_new, temperature, seed, on_token):
        """Greedy (temperature 0) or sampled decoding; on_token(bytes) returning False stops it."""
        ids, mask = harness.encode_batch([prompt], cfg["max_position_embeddings"], max_new)
        room = cfg["max_position_embeddings"] - ids.shape[1]
        max_new = max(0, min(max_new, room))
        gen = torch.Generator().manual_seed(seed if seed is not None else 0)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        n = 0
        with torch.inference_mode():
            caches = None
            nxt_ids, nxt_pos = ids, pos
            while n < max_new:
                with lock:
                    logits, caches = model(nxt_ids.to(device), nxt_pos.to(device), mask.to(device), caches)
                last = logits[0, -1].float().cpu()
                if temperature > 0:
                    tok = int(torch.multinomial((last / temperature).softmax(-1), 1, generator=gen))
                else:
                    tok = int(last.argmax())
                n += 1
                if on_token(bytes([tok])) is False:
                    return n, "abort"
                nxt_ids = torch.tensor([[tok]])
                nxt_pos = nxt_pos[:, -1:] + 1
                mask = torch.cat([mask, torch.ones((1, 1), dtype=mask.dtype)], dim=1)
        return n, "length"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):  # the gateway logs; the worker stays quiet
            pass

        def send_json(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def error(self, status, message, param=None):
            self.send_json(status, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}})

        def do_GET(self):
            if self.path == "/health":
                return self.send_json(200, {"status": "ok"})
            if self.path == "/v1/models":
                return self.send_json(200, {"object": "list", "data": [{"id": args.served_name, "object": "model", "created": int(time.time()), "owned_by": "model-gitops"}]})
            self.error(404, f"no route for GET {self.path}")

        def do_POST(self):
            n = int(self.headers.get("content-length") or 0)
            if n > MAX_BODY:
                return self.error(413, "body too large")
            try:
                body = json.loads(self.rfile.read(n) or b"{}")
                assert isinstance(body, dict)
            except (ValueError, AssertionError):
                return self.error(400, "the body must be a JSON object")
            if self.path == "/v1/predict":
                if labels is None:
                    return self.error(400, "this worker serves a causal LM; use /v1/completions")
                inputs = body.get("inputs")
                texts = inputs if isinstance(inputs, list) else [inputs]
                if not texts or not all(isinstance(t, str) and t for t in texts):
                    return self.error(400, "inputs must be a non-empty string or an array of them", "inputs")
                out = classify(texts)
                return self.send_json(200, {"outputs": out if isinstance(inputs, list) else out[0]})
            if self.path not in ("/v1/completions", "/v1/chat/completions"):
                return self.error(404, f"no route for POST {self.path}")
            if cfg is None:
                return self.error(400, "this worker serves a classifier; use /v1/predict")
            chat = self.path == "/v1/chat/completions"
            if chat:
                msgs = body.get("messages")
                if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in msgs):
                    return self.error(400, "messages must be a non-empty array of {role, content: string}", "messages")
                prompt = "".join(f"{m.get('role')}: {m['content']}\n" for m in msgs) + "assistant:"
            else:
                prompt = body.get("prompt")
                if not isinstance(prompt, str):
                    return self.error(400, "prompt must be a string", "prompt")
            max_new = body.get("max_completion_tokens") or body.get("max_tokens") or 16
            temperature = body.get("temperature", 1)
            if not isinstance(max_new, int) or max_new < 1 or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
                return self.error(400, "max_tokens must be a positive integer and temperature 0..2")
            seed = body.get("seed") if isinstance(body.get("seed"), int) else None
            created = int(time.time())
            cid = ("chatcmpl-" if chat else "cmpl-") + os.urandom(6).hex()
            obj = "chat.completion" if chat else "text_completion"
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            if body.get("stream") is True:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("connection", "close")
                self.end_headers()
                self.close_connection = True

                def event(choice):
                    chunk = {"id": cid, "object": obj + ".chunk" if chat else obj, "created": created, "model": args.served_name, "choices": [choice]}
                    self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                    self.wfile.flush()

                def on_token(b):
                    text = decoder.decode(b)
                    if not text:
                        return True
                    try:
                        event({"index": 0, "delta": {"content": text}, "finish_reason": None} if chat else {"index": 0, "text": text, "finish_reason": None})
                    except (BrokenPipeError, ConnectionResetError):
                        return False  # the client left: stop generating
                    return True

                try:
                    if chat:
                        event({"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None})
                    _, reason = generate(prompt, max_new, temperature, seed, on_token)
                    if reason != "abort":
                        event({"index": 0, "delta": {}, "finish_reason": reason} if chat else {"index": 0, "text": "", "finish_reason": reason})
                        self.wfile.write(b"data: [DONE]\n\n")
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return
            parts = []
            n_out, reason = generate(prompt, max_new, temperature, seed, lambda b: parts.append(decoder.decode(b)))
            text = "".join(parts) + decoder.decode(b"", final=True)
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": reason} if chat else {"index": 0, "text": text, "finish_reason": reason}
            usage = {"prompt_tokens": len(prompt.encode()), "completion_tokens": n_out, "total_tokens": len(prompt.encode()) + n_out}
            self.send_json(200, {"id": cid, "object": obj, "created": created, "model": args.served_name, "choices": [choice], "usage": usage})

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
