"""Data for the demo model (Scripts/demo/make_demo_model.sh), from Scripts/demo/topics.json. Stdlib only.

  prepare.py data WORK     corpus.jsonl (BEIR), train.tsv and test.tsv (qid<TAB>text), qrels.tsv (BEIR TSV).
                           The first two queries of each topic train; the third, and "how do rainbows form"
                           (the README's example), are only ever evaluated.
  prepare.py full-run WORK From WORK/test_bm25.trec: test_full.trec, BM25's matches followed by every other
                           passage (score 0), so a reranker of it ranks the whole corpus.
  prepare.py teacher WORK  From WORK/train_bm25.trec: input.jsonl (the teacher-input format distill reads) and
                           teacher.trec, the teacher ranking: the topic's passages first, then BM25's hardest
                           negatives, then random negatives from other topics, each group in BM25 order.
"""
import json
import pathlib
import random
import sys

TOPICS = json.loads((pathlib.Path(__file__).parent / "topics.json").read_text())
README_QUERY = "how do rainbows form"
HARD_NEGATIVES = 4
RANDOM_NEGATIVES = 4
KEYWORD_QUERIES = 8
STOPWORDS = set("""about above after again also because before being below between both does down during each
from further have having here into just more most much only other over same should some such than that their
them then there these they this those through under until very what when where which while whom with would
your""".split())


# docid -> (topic index, text)
PASSAGES = {f"d{t}-{p}": (t, text) for t, topic in enumerate(TOPICS) for p, text in enumerate(topic["passages"])}


def keyword_queries(t, topic, rng):
    """The topic's name and KEYWORD_QUERIES queries of 2-3 words drawn from its passages and training queries:
    they teach which words belong together (a passage about droplets answers a question about rainbows)."""
    text = " ".join(topic["passages"] + topic["queries"][:2]).lower()
    words = sorted({w.strip(".,;:?'()") for w in text.split()} - STOPWORDS)
    words = [w for w in words if len(w) > 3 and w.isalpha()]
    drawn = [" ".join(rng.sample(words, rng.randint(2, 3))) for _ in range(KEYWORD_QUERIES)]
    return [(f"k{t}-{i}", t, q, "train") for i, q in enumerate([topic["topic"]] + drawn)]


def all_queries():
    """(qid, topic index, text, split) for every query."""
    out = [(f"q{t}-{q}", t, text, "train" if q < 2 else "test")
           for t, topic in enumerate(TOPICS) for q, text in enumerate(topic["queries"])]
    rng = random.Random(7)
    out += [query for t, topic in enumerate(TOPICS) for query in keyword_queries(t, topic, rng)]
    out.append(("q-readme", [topic["topic"] for topic in TOPICS].index("rainbows"), README_QUERY, "test"))
    return out


QUERIES = all_queries()


def write_data(work):
    with open(work / "corpus.jsonl", "w") as f:
        for docid, (_, text) in PASSAGES.items():
            f.write(json.dumps({"_id": docid, "title": "", "text": text}) + "\n")
    for split in ("train", "test"):
        with open(work / f"{split}.tsv", "w") as f:
            f.writelines(f"{qid}\t{text}\n" for qid, _, text, s in QUERIES if s == split)
    with open(work / "qrels.tsv", "w") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid, topic, _, _ in QUERIES:
            f.writelines(f"{qid}\t{docid}\t1\n" for docid, (t, _) in PASSAGES.items() if t == topic)


def read_run(path):
    run = {}
    for line in open(path):
        qid, _, docid, _, score, _ = line.split()
        run.setdefault(qid, {})[docid] = float(score)
    return run


def write_full_run(work):
    bm25 = read_run(work / "test_bm25.trec")
    with open(work / "test_full.trec", "w") as f:
        for qid, _, _, split in QUERIES:
            if split != "test":
                continue
            scores = bm25.get(qid, {})
            ranking = sorted(PASSAGES, key=lambda d: (-scores.get(d, 0.0), d))
            f.writelines(f"{qid} Q0 {d} {rank + 1} {scores.get(d, 0.0)} bm25\n" for rank, d in enumerate(ranking))


def write_teacher(work):
    docs = PASSAGES
    bm25 = read_run(work / "train_bm25.trec")
    rng = random.Random(2026)
    with open(work / "input.jsonl", "w") as inputs, open(work / "teacher.trec", "w") as teacher:
        for qid, topic, text, split in QUERIES:
            if split != "train":
                continue
            scores = bm25.get(qid, {})
            by_bm25 = lambda ids: sorted(ids, key=lambda d: (-scores.get(d, 0.0), d))
            relevant = by_bm25(d for d, (t, _) in docs.items() if t == topic)
            hard = [d for d in by_bm25(scores) if docs[d][0] != topic][:HARD_NEGATIVES]
            others = sorted(d for d, (t, _) in docs.items() if t != topic and d not in hard)
            ranking = relevant + hard + by_bm25(rng.sample(others, RANDOM_NEGATIVES))
            inputs.write(json.dumps({"qid": qid, "query": text, "docids": ranking,
                                     "documents": [docs[d][1] for d in ranking]}) + "\n")
            teacher.writelines(f"{qid} Q0 {d} {rank + 1} {len(ranking) - rank} demo-teacher\n"
                               for rank, d in enumerate(ranking))


if __name__ == "__main__":
    command, work = sys.argv[1], pathlib.Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    {"data": write_data, "full-run": write_full_run, "teacher": write_teacher}[command](work)
