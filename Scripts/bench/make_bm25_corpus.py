"""Writes a synthetic BEIR corpus and queries for the BM25 indexing benchmark (stdlib only, seeded).

Words are drawn Zipf-like from a 50,000-word synthetic vocabulary, passages are 30-90 words long, as
MS MARCO passages are. Usage: python3 Scripts/bench/make_bm25_corpus.py OUT_DIR [PASSAGES]
"""
import itertools
import json
import pathlib
import random
import sys


def main():
    out = pathlib.Path(sys.argv[1])
    passages = int(sys.argv[2]) if len(sys.argv) > 2 else 500_000
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(42)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(50_000)]
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(vocabulary))))
    with open(out / "corpus.jsonl", "w") as f:
        for i in range(passages):
            words = rng.choices(vocabulary, cum_weights=cumulative, k=rng.randint(30, 90))
            f.write(json.dumps({"_id": f"p{i}", "title": "", "text": " ".join(words)}) + "\n")
    with open(out / "queries.tsv", "w") as f:
        for q in range(100):
            f.write(f"q{q}\t{' '.join(rng.choices(vocabulary, cum_weights=cumulative, k=rng.randint(3, 8)))}\n")


if __name__ == "__main__":
    main()
