"""Generation from prompts with noken slots: decoding, soft feedback, and the experiments run
against a baseline (transforms, rules, injections, sweeps).
"""
