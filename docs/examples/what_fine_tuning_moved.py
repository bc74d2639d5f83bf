"""What changed between two checkpoints: the default model against a copy of it whose embedding
was rotated (a change that moves no token relative to the others) and whose rows for a few
tokens were pushed elsewhere (a stand-in for what fine-tuning on new words does)."""

import tempfile

import torch

import nokenviz as nv

model = nv.load("default")
loaded = model.loaded
generator = torch.Generator().manual_seed(0)
copy = tempfile.mkdtemp(prefix="nokenviz-perturbed-")

weights = loaded.model.get_input_embeddings().weight
original = weights.detach().clone()
with torch.no_grad():
    width = weights.shape[1]
    rotation, _ = torch.linalg.qr(torch.randn(width, width, generator=generator))
    weights.copy_(weights @ rotation)
    moved = [loaded.tokenizer.convert_tokens_to_ids(t) for t in ("Ġcat", "Ġdog", "ĠParis")]
    for token in moved:  # each now points where another, unrelated token points
        weights[token] = weights[token + 7000]
    loaded.model.save_pretrained(copy)
    loaded.tokenizer.save_pretrained(copy)
    weights.copy_(original)  # the loaded model is the default one again

found = model.compare(copy, top=5)
report = found.to_json()
print(f"{report['shared_tokens']:,} shared tokens; {report['alignment']}")
print(f"mean overlap of the 10 nearest tokens: {report['mean_knn_overlap']:.3f}")
for row in report["moved"]:
    print(f"{row['label']:>10}  cosine {row['cosine']:+.3f}  kNN overlap {row['knn_overlap']:.2f}")
