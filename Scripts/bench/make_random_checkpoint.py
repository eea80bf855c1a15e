"""Writes a random-weight FLAN-T5 checkpoint at a real shape, for benchmarks (no weights can be
downloaded here). Uses the test tokenizer (1000 pieces) with the real 32128-row vocabulary.

    python Scripts/bench/make_random_checkpoint.py --shape small --out /tmp/flan-t5-small-random
"""
import argparse
import pathlib
import shutil

import torch
from transformers import T5Config, T5ForConditionalGeneration

SHAPES = {  # d_model, d_ff, layers, heads (RECIPE.md)
    "small": (512, 1024, 8, 6),
    "base": (768, 2048, 12, 12),
}
ROOT = pathlib.Path(__file__).resolve().parents[2]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", choices=SHAPES, default="small")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    d_model, d_ff, layers, heads = SHAPES[args.shape]
    torch.manual_seed(0)
    config = T5Config(vocab_size=32128, d_model=d_model, d_kv=64, d_ff=d_ff, num_layers=layers,
                      num_decoder_layers=layers, num_heads=heads, feed_forward_proj="gated-gelu",
                      tie_word_embeddings=False, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    out = pathlib.Path(args.out)
    T5ForConditionalGeneration(config).save_pretrained(out, safe_serialization=True)
    # The SentencePiece model itself: transformers 5's T5TokenizerFast ignores vocab_file and would save a
    # 4-piece tokenizer.json.
    shutil.copy(ROOT / "Tests/Fixtures/tokenizers/t5/spiece.model", out / "spiece.model")
    print(out)


if __name__ == "__main__":
    main()
