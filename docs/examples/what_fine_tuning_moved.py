"""What changed between two checkpoints: the default model against `default-perturbed`, a copy
of it whose embedding was rotated (a change that moves no token relative to the others) and
whose rows for ␣cat, ␣dog and ␣Paris were replaced by unrelated tokens' rows (a stand-in for
what fine-tuning on new words does). The copy is built once, on first use; the sphere page
says exactly how."""

import tempfile
from pathlib import Path

import nokenviz as nv
from nokenviz.core.scenes.scene import ComparePart, Scene

model = nv.load("default")
found = model.compare("default-perturbed", top=5)
report = found.to_json()
print(f"{report['shared_tokens']:,} shared tokens; {report['alignment']}")
print(f"mean overlap of the 10 nearest tokens: {report['mean_knn_overlap']:.3f}")
for row in report["moved"]:
    print(f"{row['label']:>10}  cosine {row['cosine']:+.3f}  kNN overlap {row['knn_overlap']:.2f}")

# The compared model's own map, drawn by this model's projection: ␣Paris sits where B has it,
# and a dotted line joins it to its place in the default model.
paris = model.loaded.tokenizer.convert_tokens_to_ids("ĠParis")
scene = Scene(selection=(paris,), compare=ComparePart(model="default-perturbed", other_map=True))
with tempfile.TemporaryDirectory() as folder:
    drawn = model.render(scene, Path(folder) / "b_map.png")
    print(f"B's map drawn: {drawn.bytes:,} bytes")
