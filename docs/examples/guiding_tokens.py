"""Which tokens guide a prediction: attention of the last position, and the logit lens."""

import nokenviz as nv

model = nv.load("default")
prompt = "The Eiffel Tower is located in the city of"

attention = model.attention(prompt)
for guide in attention.to_json()["guiding"][:4]:
    print(f"{guide['token']!r:>12}  {guide['weight']:.3f}")

lens = model.lens(prompt)
for layer in [*lens.layers[:-1:6], lens.layers[-1]]:
    top = layer.top[0]
    print(f"layer {layer.layer:>2}: {top.token!r:<12} p={top.prob:.3f}  norm {layer.norm:8.2f}")

attention.figure(layer=-1).savefig("guiding_tokens.png", dpi=100)
