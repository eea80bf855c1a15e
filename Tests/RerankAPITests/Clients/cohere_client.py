"""Drives rerankd with the official cohere SDK, unchanged: Client (v1) and ClientV2 (v2).

Usage: cohere_client.py BASE_URL API_KEY. Exits non-zero with a message on any mismatch.
"""
import sys

import cohere

base_url, api_key = sys.argv[1], sys.argv[2]
query = "how do rainbows form"
documents = ["Sunlight refracts in droplets and makes a rainbow.", "Stocks closed higher.", "Rain and sun."]


def check(results, top_n):
    assert len(results) == top_n, results
    scores = [r.relevance_score for r in results]
    assert scores == sorted(scores, reverse=True), scores
    assert all(0.0 <= s <= 1.0 for s in scores), scores
    assert len({r.index for r in results}) == top_n


v1 = cohere.Client(api_key=api_key, base_url=base_url)
response = v1.rerank(model="rerank-english-v3.0", query=query, documents=documents, top_n=2, return_documents=True)
check(response.results, 2)
assert all(r.document.text == documents[r.index] for r in response.results), response.results
print("cohere v1 ok")

v2 = cohere.ClientV2(api_key=api_key, base_url=base_url)
response = v2.rerank(model="rerank-v3.5", query=query, documents=documents, top_n=3, max_tokens_per_doc=256)
check(response.results, 3)
print("cohere v2 ok")

try:
    cohere.Client(api_key="wrong", base_url=base_url).rerank(model="m", query=query, documents=documents)
except Exception as error:  # the SDK raises its UnauthorizedError for a 401
    assert "401" in str(error) or type(error).__name__ == "UnauthorizedError", repr(error)
    print("cohere 401 ok")
else:
    raise SystemExit("a wrong key was accepted")
