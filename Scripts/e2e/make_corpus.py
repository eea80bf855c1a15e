"""A small synthetic corpus for the end-to-end retraining run (stdlib only, seeded).

Passages of 20-60 words and queries of 2-4 words drawn from everyday English words, so the test tokenizer
(Tests/Fixtures/tokenizers/t5, 1000 pieces) cuts them into few pieces and BM25 finds overlaps.
Usage: python3 Scripts/e2e/make_corpus.py OUT_DIR [PASSAGES] [QUERIES]
"""
import json
import pathlib
import random
import sys

WORDS = ("the of and to in is was for on that with as by at from his her they this which were be are or "
         "had an not their but one all has new been first after who also more other two time when into "
         "year years city school water light sun rain river music game team world state people house war "
         "film book season church street party family station music road power market north south west "
         "east early later found known called part local small large high long second third history life "
         "work home game field album song island court army line club album town village county").split()


def main():
    out = pathlib.Path(sys.argv[1])
    passages = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    queries = int(sys.argv[3]) if len(sys.argv) > 3 else 400
    rng = random.Random(2026)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w") as f:
        for i in range(passages):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60)))
            f.write(json.dumps({"_id": f"p{i}", "title": "", "text": text}) + "\n")
    content = [w for w in WORDS if len(w) > 3]
    with open(out / "queries.tsv", "w") as f:
        for q in range(queries):
            f.write(f"q{q}\t{' '.join(rng.choice(content) for _ in range(rng.randint(2, 4)))}\n")


if __name__ == "__main__":
    main()
