"""Closed-loop load generator for rerankd: N clients, each with its own keep-alive connection,
send a fixed number of rerank requests back to back. Prints one JSON summary line.

Only the Python standard library, so it runs anywhere:
    python3 Scripts/bench/load_rerank.py --port 8080 --clients 64 --requests 8 --docs 20 --words 100
"""
import argparse
import http.client
import json
import random
import statistics
import threading
import time

# Words that are single pieces in the test tokenizer (1000 pieces), so ~100 words make a prompt of
# about the length real English gives with FLAN-T5's 32k vocabulary (~1.3 tokens a word).
WORDS = ("the of and to in is that for it as with be by on not this are or from which but have an you "
         "there one all we their passage question water light rain sun").split()


def make_documents(rng, count, words):
    return [" ".join(rng.choice(WORDS) for _ in range(words)) for _ in range(count)]


def client(port, requests, docs, words, seed, latencies, errors, lock):
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    for _ in range(requests):
        body = json.dumps({"query": "how do rainbows form", "texts": make_documents(rng, docs, words)})
        started = time.perf_counter()
        try:
            connection.request("POST", "/rerank", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            payload = response.read()
            ok = response.status == 200 and len(json.loads(payload)) == docs
        except Exception:  # a broken connection counts as an error; reconnect
            ok = False
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        elapsed = time.perf_counter() - started
        with lock:
            (latencies if ok else errors).append(elapsed)
    connection.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=8, help="requests per client")
    parser.add_argument("--docs", type=int, default=20, help="documents per request")
    parser.add_argument("--words", type=int, default=100, help="words per document")
    args = parser.parse_args()

    latencies, errors, lock = [], [], threading.Lock()
    threads = [threading.Thread(target=client, args=(args.port, args.requests, args.docs, args.words, seed,
                                                       latencies, errors, lock))
               for seed in range(args.clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started

    latencies.sort()
    def percentile(p):
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else float("nan")
    print(json.dumps({
        "clients": args.clients, "requests": len(latencies) + len(errors), "errors": len(errors),
        "docs_per_request": args.docs, "words_per_doc": args.words, "seconds": round(wall, 2),
        "requests_per_s": round(len(latencies) / wall, 2), "docs_per_s": round(len(latencies) * args.docs / wall, 2),
        "p50_ms": round(percentile(50) * 1000, 1), "p95_ms": round(percentile(95) * 1000, 1),
        "p99_ms": round(percentile(99) * 1000, 1),
        "mean_ms": round(statistics.mean(latencies) * 1000, 1) if latencies else None,
    }))


if __name__ == "__main__":
    main()
