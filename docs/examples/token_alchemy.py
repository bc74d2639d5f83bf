"""Token alchemy: a token's nearest tokens, and what a prompt becomes when every token is
replaced by the mean of its neighbours."""

import nokenviz as nv

model = nv.load("default")

found = model.neighbors(" question", k=5)
print("nearest to ' question':", [(t.token, round(t.score, 3)) for t in found.top])
print("farthest:", [(t.token, round(t.score, 3)) for t in found.bottom])

# A noken: the mean of the 5 nearest tokens of ' question' (the token itself left out).
mean = model.noken({"neighbors": " question", "k": 5})
print(f"neighbour-mean noken: norm {mean.norm:.3f}")

# Every token of the prompt replaced by its neighbours' mean; the baseline is the prompt itself.
run = model.generate(
    "The sun rises in the east and sets in the", transform={"neighbors": 5}, max_new_tokens=12
)
print("plain:      ", repr(run.baseline_text))
print("neighbours: ", repr(run.text))
