"""A distribution as input: a probability-weighted mix of token embeddings in one position,
and soft feedback (appending the output distribution's embedding instead of a token)."""

import nokenviz as nv

model = nv.load("default")

mix = {"mix": {"White": 0.5, "Black": 0.5}}
run = model.generate("{x} whippets are", {"x": mix}, compare=True, max_new_tokens=15)
print("mix noken:", repr(run.text))
print(run.baseline_note, "->", repr(run.baseline_text))

lens = model.lens("{x} whippets are", nokens={"x": mix}, top=3)
print("predicted next token:", repr(lens.prediction.token), f"p={lens.prediction.prob:.3f}")

soft = model.generate("The capital of France is", soft=True, max_new_tokens=8, temperature=0.5)
print("soft feedback, argmax shadow:", repr(soft.text))
print("top probability per step:", [round(p, 2) for p in soft.top_probs])
