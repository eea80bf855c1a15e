"""PyTorch baseline for `rerank-admin bench`: documents/s of pointwise FLAN-T5 scoring with random weights.

Scores the same documents as the Swift benchmark (same splitmix64 stream), right-padded with an attention
mask as the Hugging Face tokenizer would pad them, one decoder step on [0], in fp32 on the CPU.
Usage: python Scripts/bench/pytorch_pointwise.py --shape small [--batch 16] [--tokens 256] [--iterations 3]
"""
import argparse
import time

import torch
from transformers import T5Config, T5ForConditionalGeneration

SHAPES = {
    "small": dict(d_model=512, d_ff=1024, num_layers=8, num_heads=6),
    "base": dict(d_model=768, d_ff=2048, num_layers=12, num_heads=12),
}
MASK = (1 << 64) - 1


class SplitMix64:
    """Same generator as SplitMix64 in Sources/rerank-admin/BenchCommand.swift."""

    def __init__(self, state):
        self.state = state & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def bench_documents(seed, count, mean_length):
    """Lengths uniform in [0.75, 1.25] x mean, ids uniform over 3..32099, each ending in eos (1)."""
    rng = SplitMix64(seed)
    low, high = mean_length * 3 // 4, mean_length * 5 // 4
    docs = []
    for _ in range(count):
        length = low + rng.next() % (high - low + 1)
        docs.append([3 + rng.next() % 32097 for _ in range(length - 1)] + [1])
    return docs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = T5Config(vocab_size=32128, d_kv=64, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                      decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, **SHAPES[args.shape])
    model = T5ForConditionalGeneration(config).eval()

    docs = bench_documents(args.seed, args.batch, args.tokens)
    width = max(len(d) for d in docs)
    input_ids = torch.zeros((len(docs), width), dtype=torch.long)
    attention_mask = torch.zeros((len(docs), width), dtype=torch.long)
    for i, doc in enumerate(docs):
        input_ids[i, : len(doc)] = torch.tensor(doc)
        attention_mask[i, : len(doc)] = 1
    decoder_input_ids = torch.zeros((len(docs), 1), dtype=torch.long)
    yes = 2163

    with torch.inference_mode():
        model(input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=decoder_input_ids)
        start = time.perf_counter()
        for _ in range(args.iterations):
            logits = model(input_ids=input_ids, attention_mask=attention_mask,
                           decoder_input_ids=decoder_input_ids).logits[:, -1, yes]
        seconds = time.perf_counter() - start
    assert logits.shape == (len(docs),)
    lengths = [len(d) for d in docs]
    print(f"shape={args.shape} batch={args.batch} tokens={min(lengths)}...{max(lengths)} threads={args.threads} "
          f"iterations={args.iterations}")
    print(f"pytorch docs/s {args.batch * args.iterations / seconds:.2f}  ({seconds / args.iterations * 1000:.1f} ms/batch)")


if __name__ == "__main__":
    main()
