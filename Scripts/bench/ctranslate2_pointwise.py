"""CTranslate2 beside `rerank-admin bench`: documents/s of pointwise scoring, float32 and int8.

The same random FLAN-T5 weights as Scripts/bench/pytorch_pointwise.py (torch seed 0, same config), converted
with CTranslate2's TransformersConverter, and the same documents (same splitmix64 stream). Each document is
one `score_batch` entry whose target is the one score token: one encoder pass and one decoder step, as our
pointwise scorer does. CPU, `inter_threads` x `intra_threads` (default 2 x 1, its best 2-core setting here).
Usage: python Scripts/bench/ctranslate2_pointwise.py --shape small --compute-type int8 [--batch 16] [--tokens 256]
Needs a venv of Scripts/bench/requirements-ctranslate2.txt (transformers 5: CTranslate2 4.8's converter
passes `dtype`, which 4.x does not take).
"""
import argparse
import json
import pathlib
import sys
import tempfile
import time

import ctranslate2
import torch
from transformers import T5Config, T5ForConditionalGeneration, T5TokenizerFast

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from pytorch_pointwise import SHAPES, bench_documents  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOKENIZER = ROOT / "Tests/Fixtures/tokenizers/t5/spiece.model"


def convert(shape, directory):
    # Tied embeddings: CTranslate2 4.8.5 scales the decoder output by d_model^-0.5 even for an untied checkpoint
    # written by transformers 5.23 (log P(▁Yes) -10.81 where transformers and rerank-admin give -114.49); with
    # tied ones all three compute the same function. The cost is the same either way.
    torch.manual_seed(0)
    config = T5Config(vocab_size=32128, d_kv=64, feed_forward_proj="gated-gelu", tie_word_embeddings=True,
                      decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, **SHAPES[shape])
    model = T5ForConditionalGeneration(config).eval()
    hf = directory / "hf"
    model.save_pretrained(hf)
    T5TokenizerFast(vocab_file=str(TOKENIZER), extra_ids=0).save_pretrained(hf)
    out = directory / "ct2"
    ctranslate2.converters.TransformersConverter(str(hf)).convert(str(out), quantization=None)
    return out, json.loads((out / "shared_vocabulary.json").read_text())


def score_inputs(vocabulary, docs):
    """Token strings, what score_batch takes: each document, and ▁Yes (id 2163) as its one target token.
    The decoder starts from <pad> (decoder_start_token_id 0)."""
    return [[vocabulary[i] for i in doc] for doc in docs], [[vocabulary[2163]] for _ in docs]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small")
    parser.add_argument("--compute-type", default="float32", help="float32 or int8 (or int8_float32)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--inter-threads", type=int, default=2)
    parser.add_argument("--intra-threads", type=int, default=1)
    parser.add_argument("--max-batch-size", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path, vocabulary = convert(args.shape, pathlib.Path(tmp))
        translator = ctranslate2.Translator(str(path), device="cpu", compute_type=args.compute_type,
                                            inter_threads=args.inter_threads, intra_threads=args.intra_threads)
        docs = bench_documents(args.seed, args.batch, args.tokens)
        source, target = score_inputs(vocabulary, docs)
        translator.score_batch(source, target, max_batch_size=args.max_batch_size)
        start = time.perf_counter()
        for _ in range(args.iterations):
            results = translator.score_batch(source, target, max_batch_size=args.max_batch_size)
        seconds = time.perf_counter() - start
    assert len(results) == len(docs)
    lengths = [len(d) for d in docs]
    rate = args.batch * args.iterations / seconds
    print(f"shape={args.shape} batch={args.batch} tokens={min(lengths)}...{max(lengths)} "
          f"compute_type={args.compute_type} threads={args.inter_threads}x{args.intra_threads}")
    print(f"ctranslate2 docs/s {rate:.2f}  ({seconds / args.iterations * 1000:.1f} ms/batch)")


if __name__ == "__main__":
    main()
