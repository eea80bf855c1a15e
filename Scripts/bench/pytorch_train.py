"""PyTorch baseline for `rerank-admin bench --train`: RankNet training steps of a pointwise FLAN-T5 student.

The same documents as the Swift benchmark (splitmix64 stream of pytorch_pointwise.py), grouped into queries
of --docs documents in teacher order; each step scores --queries queries (right-padded with an attention
mask, one decoder step on [0], the logit of ▁Yes), takes the RankNet loss over every ordered pair of each
query, backpropagates, clips to norm 1 and applies AdamW, in fp32 on the CPU, dropout 0.
Usage: python Scripts/bench/pytorch_train.py --shape small [--queries 4] [--docs 8] [--tokens 128] [--steps 3]
"""
import argparse
import resource
import time

import torch
from transformers import T5Config, T5ForConditionalGeneration

from pytorch_pointwise import SHAPES, bench_documents


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small")
    parser.add_argument("--queries", type=int, default=4)
    parser.add_argument("--docs", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = T5Config(vocab_size=32128, d_kv=64, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                      decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, dropout_rate=0.0, **SHAPES[args.shape])
    model = T5ForConditionalGeneration(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01)
    n = args.queries * args.docs
    docs = bench_documents(1, n, args.tokens)
    width = max(map(len, docs))
    ids = torch.tensor([d + [0] * (width - len(d)) for d in docs])
    mask = torch.tensor([[1] * len(d) + [0] * (width - len(d)) for d in docs])
    decoder = torch.zeros((n, 1), dtype=torch.long)
    i, j = torch.triu_indices(args.docs, args.docs, offset=1)

    def step():
        optimizer.zero_grad()
        scores = model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder).logits[:, -1, 2163]
        scores = scores.view(args.queries, args.docs)
        loss = torch.nn.functional.softplus(-(scores[:, i] - scores[:, j])).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    step()  # warm-up (allocates the optimizer state)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = (time.perf_counter() - start) / args.steps
    pairs = args.queries * args.docs * (args.docs - 1) // 2
    print(f"pytorch train: {seconds:.2f} s/step, {pairs / seconds:.1f} pairs/s, {n / seconds:.2f} docs/s, "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
