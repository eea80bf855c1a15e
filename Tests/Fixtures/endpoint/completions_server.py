"""A small OpenAI-compatible completions server over `transformers`, for testing `teacher --endpoint`.

It answers POST /v1/completions as vLLM serving a decoder-only model would: the prompt is tokenized without
an end token, one token is generated, and `logprobs: N` returns the top N tokens of that step as
`choices[0].logprobs.top_logprobs[0]`, keyed by their text with a leading space for `▁`. Needs torch and
transformers (Scripts/fixtures/requirements-transformers5.txt); CI has neither, so the test that starts
this server runs only where RERANK_TEST_TORCH_PYTHON names such a Python.

    python completions_server.py MODEL_DIR [--port 0] [--fail-first N]
        prints "listening PORT" once ready; the first N requests get 503 (to exercise retries)
"""
import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


class Model:
    def __init__(self, directory):
        self.tokenizer = AutoTokenizer.from_pretrained(directory)
        self.model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()
        self.lock = threading.Lock()

    @torch.inference_mode()
    def top_logprobs(self, prompt, n):
        ids = self.tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
        with self.lock:
            logits = self.model(input_ids=ids).logits[0, -1]
        values, indices = torch.log_softmax(logits, dim=-1).topk(n)
        tokens = self.tokenizer.convert_ids_to_tokens(indices.tolist())
        # Ids past the tokenizer (the model's vocabulary is padded) have no text of their own.
        return {(token or f"<id {i}>").replace("▁", " "): float(value)
                for i, token, value in zip(indices.tolist(), tokens, values)}


def serve(model, port, fail_first):
    state = {"failures_left": fail_first, "requests": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                state["requests"] += 1
                fail = state["failures_left"] > 0
                state["failures_left"] -= fail
            if fail:
                return self.reply(503, {"error": "warming up"})
            if self.path != "/v1/completions":
                return self.reply(404, {"error": f"no route {self.path}"})
            if body.get("max_tokens") != 1 or body.get("temperature") != 0 or not body.get("logprobs"):
                return self.reply(400, {"error": "this server only scores one greedy token with logprobs"})
            prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
            choices = []
            for index, prompt in enumerate(prompts):
                top = model.top_logprobs(prompt, int(body["logprobs"]))
                best = max(top, key=top.get)
                choices.append({"index": index, "text": best, "finish_reason": "length",
                                "logprobs": {"tokens": [best], "token_logprobs": [top[best]],
                                             "top_logprobs": [top], "text_offset": [0]}})
            self.reply(200, {"id": "cmpl-test", "object": "text_completion", "model": body.get("model"),
                             "choices": choices})

        def do_GET(self):
            self.reply(200, {"requests": state["requests"]})

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    serve(Model(args.model), args.port, args.fail_first)


if __name__ == "__main__":
    main()
