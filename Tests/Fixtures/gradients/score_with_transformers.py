"""Scores prompts with a checkpoint directory through transformers, to show a directory written by
`rerank-admin distill` loads and scores in transformers as it does in rerank-admin.

    python score_with_transformers.py MODEL_DIR < {"ids": [[...], ...], "vocab_ids": [...]}
prints {"logits": [[...], ...]}: the logits of vocab_ids at the first decoder step of each prompt.
Needs torch and transformers (requirements-transformers5.txt or requirements.txt: both are tested).
"""
import json
import sys

import torch
from transformers import T5ForConditionalGeneration


def main():
    request = json.load(sys.stdin)
    model = T5ForConditionalGeneration.from_pretrained(sys.argv[1]).float().eval()  # any transformers version
    out = []
    with torch.inference_mode():
        for ids in request["ids"]:
            logits = model(input_ids=torch.tensor([ids]), decoder_input_ids=torch.tensor([[0]])).logits[0, -1]
            out.append([float(logits[i]) for i in request["vocab_ids"]])
    json.dump({"logits": out}, sys.stdout)


if __name__ == "__main__":
    main()
