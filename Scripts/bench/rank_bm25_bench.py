"""rank_bm25 on the same synthetic corpus as `rerank-admin candidates`, for the BM25 benchmark.

Same tokens (runs of letters or digits, lowercased, the Swift stopword list), BM25Okapi defaults, top 100
per query. Prints index and query seconds and peak RSS. Needs requirements-ir.txt.
Usage: python Scripts/bench/rank_bm25_bench.py CORPUS.jsonl QUERIES.tsv
"""
import json
import pathlib
import re
import resource
import sys
import time

from rank_bm25 import BM25Okapi

ROOT = pathlib.Path(__file__).resolve().parents[2]
STOPWORDS = set(re.findall(r'"([a-z]+)"', (ROOT / "Sources/Retrieval/BM25Tokenizer.swift").read_text()
                           .split("static let stopwords")[1]))


def tokens(text):
    return [t for t in (w.lower() for w in re.findall(r"[^\W_]+", text)) if t not in STOPWORDS]


def main():
    start = time.perf_counter()
    ids, docs = [], []
    for line in open(sys.argv[1], encoding="utf-8"):
        doc = json.loads(line)
        ids.append(doc["_id"])
        docs.append(tokens((doc.get("title") or "") + " " + doc["text"]))
    index = BM25Okapi(docs)
    indexed = time.perf_counter()
    queries = [line.rstrip("\n").split("\t", 1) for line in open(sys.argv[2], encoding="utf-8")]
    for qid, text in queries:
        scores = index.get_scores(tokens(text))
        top = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))[:100]
    done = time.perf_counter()
    print(f"rank_bm25: {len(ids)} passages indexed in {indexed - start:.1f} s, {len(queries)} queries in "
          f"{done - indexed:.1f} s, peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
