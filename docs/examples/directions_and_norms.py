"""Token vectors are directions with a size: how the residual stream grows, how a vector's
length sharpens the prediction, and how much of the geometry a flat map keeps."""

import nokenviz as nv

model = nv.load("default")
norms = model.describe().embedding_norms or {}
common = norms["mean_direction_norm"]  # 0: directions spread evenly; 1: all one direction
print(f"token norms: median {norms['median']:.3f}; mean unit direction {common:.2f}")

lens = model.lens("The sun rises in the")
print(f"residual norm: layer 0 {lens.layers[0].norm:.2f} -> last {lens.layers[-1].norm:.2f}")

length = model.length("The sun rises in the", factors=[0.25, 1, 4])
for row in length.to_json()["rows"]:
    print(f"x{row['factor']:<5} entropy {row['entropy_bits']:.2f} bits, top-1 {row['top1']:.3f}")

pca = model.project("pca")
print(f"PCA map: kNN recall@10 = {pca.recall_at_10:.3f} over {len(pca.coords):,} tokens")
