"""int8 against fp32 on identical inputs, for rerank-admin and for CTranslate2, in one run.

One random FLAN-T5 checkpoint (the weights of ctranslate2_pointwise.py), the benchmark's documents (same
splitmix64 stream), and four scorers: `rerank-admin bench --scores-out` in fp32 and int8, CTranslate2
`score_batch` in float32 and int8. Each engine's int8 scores are compared with its own float32 ones by
Kendall's tau-b over all documents; the score is log P(▁Yes) over the whole vocabulary (what score_batch
returns; rerank-admin writes it beside the raw logit). Random weights are a hard case for quantisation, so
the comparison between the engines is the figure, not the absolute tau.
Then the same for a trained model on its own data: the embedded demo student (Models/demo) ranks all 144
passages of Scripts/demo/topics.json for each of its 108 queries through `rerank-admin score` in both
precisions; reported are the mean per-query tau and how often the top passage stays the same.
AVX2_ONLY=1 holds both engines to AVX2 (no VNNI: our int8 weights then use 7 bits), as compare_engines.sh does.
Usage: python Scripts/bench/int8_quality.py [--shape small] [--batch 96] [--tokens 256]
(a venv of Scripts/bench/requirements-ctranslate2.txt; builds rerank-admin first with `swift build -c release`).
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

if os.environ.get("AVX2_ONLY") == "1":  # before CTranslate2 loads: it reads its ISA cap once
    os.environ.update(ONEDNN_MAX_CPU_ISA="AVX2", CT2_FORCE_CPU_ISA="AVX2", OPENBLAS_CORETYPE="Haswell")
import ctranslate2  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from ctranslate2_pointwise import convert, score_inputs  # noqa: E402
from pytorch_pointwise import SHAPES, bench_documents  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]


def kendall_tau_b(x, y):
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = ((concordant + discordant + ties_x) * (concordant + discordant + ties_y)) ** 0.5
    return (concordant - discordant) / denominator if denominator else float("nan")


def ours(admin, checkpoint, precision, args, directory):
    out = directory / f"ours-{precision}.json"
    subprocess.run([admin, "bench", "--model", str(checkpoint), "--batch", str(args.batch), "--tokens",
                    str(args.tokens), "--iterations", "1", "--precision", precision, "--scores-out", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def ct2(path, vocabulary, compute_type, docs):
    translator = ctranslate2.Translator(str(path), device="cpu", compute_type=compute_type, inter_threads=2,
                                        intra_threads=1)
    source, target = score_inputs(vocabulary, docs)
    return [result.log_probs[0] for result in translator.score_batch(source, target, max_batch_size=8)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small")
    parser.add_argument("--batch", type=int, default=96)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    subprocess.run(["swift", "build", "-c", "release", "--product", "rerank-admin"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    admin = str(ROOT / ".build/release/rerank-admin")

    with tempfile.TemporaryDirectory() as tmp:
        directory = pathlib.Path(tmp)
        path, vocabulary = convert(args.shape, directory)
        docs = bench_documents(args.seed, args.batch, args.tokens)
        fp32, int8 = ours(admin, directory / "hf", "fp32", args, directory), ours(admin, directory / "hf", "int8", args, directory)
        ct2_fp32, ct2_int8 = ct2(path, vocabulary, "float32", docs), ct2(path, vocabulary, "int8", docs)

    # Both engines ran the same model on the same documents: their float32 scores agree.
    agreement = max(abs(a - b) for a, b in zip(fp32["log_prob"], ct2_fp32))
    spread = max(fp32["log_prob"]) - min(fp32["log_prob"])
    print(f"instruction sets: {'AVX2 only' if os.environ.get('AVX2_ONLY') == '1' else 'all this CPU has'}")
    print(f"shape={args.shape} documents={args.batch} tokens~{args.tokens}: fp32 log P(Yes) spans {spread:.3f}; "
          f"rerank-admin fp32 vs CTranslate2 float32: max |difference| {agreement:.2e}")
    ours_tau = kendall_tau_b(fp32["log_prob"], int8["log_prob"])
    ct2_tau = kendall_tau_b(ct2_fp32, ct2_int8)
    logit_tau = kendall_tau_b(fp32["logit"], int8["logit"])
    print(f"Kendall tau int8 vs fp32: rerank-admin {ours_tau:.4f} (raw logit {logit_tau:.4f}), "
          f"CTranslate2 {ct2_tau:.4f}")
    largest = max(abs(a - b) for a, b in zip(fp32["log_prob"], int8["log_prob"]))
    ct2_largest = max(abs(a - b) for a, b in zip(ct2_fp32, ct2_int8))
    print(f"largest |int8 - fp32| of log P(Yes): rerank-admin {largest:.4f}, CTranslate2 {ct2_largest:.4f}")
    demo(admin)


def demo(admin):
    topics = json.loads((ROOT / "Scripts/demo/topics.json").read_text())
    passages = [p for topic in topics for p in topic["passages"]]
    lines = "".join(json.dumps({"query": q, "documents": passages}) + "\n" for topic in topics for q in topic["queries"])
    scores = {}
    for precision in ("fp32", "int8"):
        run = subprocess.run([admin, "score", "--model", str(ROOT / "Models/demo"), "--precision", precision],
                             input=lines, capture_output=True, text=True, check=True)
        scores[precision] = [json.loads(line)["scores"] for line in run.stdout.splitlines()]
    taus = [kendall_tau_b(a, b) for a, b in zip(scores["fp32"], scores["int8"])]
    same_top = sum(a.index(max(a)) == b.index(max(b)) for a, b in zip(scores["fp32"], scores["int8"]))
    print(f"demo student (Models/demo) on its {len(taus)} queries x {len(passages)} passages: mean Kendall tau "
          f"int8 vs fp32 {sum(taus) / len(taus):.4f} (lowest {min(taus):.4f}), same top passage {same_top}/{len(taus)}")


if __name__ == "__main__":
    main()
