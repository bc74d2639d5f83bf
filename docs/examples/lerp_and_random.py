"""Blending two prompts token by token (LERP), and random vectors as inputs."""

import nokenviz as nv

model = nv.load("default")

# One greedy generation per t: t = 0 is "White whippets are", t = 1 "Black whippets are".
sweep = model.sweep("lerp", "White whippets are", "Black whippets are", steps=5, max_new_tokens=12)
for row in sweep.rows:
    print(f"t={row.value:<5} {row.text!r}")

# A random noken per seed in slot {x}: N(0, 1) per dimension, then at the typical token norm.
for match_norm in (False, True):
    seeds = model.sweep(
        "seeds",
        "{x} is a color that is often associated with",
        seeds="0-2",
        match_norm=match_norm,
        max_new_tokens=10,
    )
    print("norm-matched" if match_norm else "raw N(0,1)")
    for row in seeds.rows:
        print(f"  seed {row.value}: {row.text!r}")
