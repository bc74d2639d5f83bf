"""A prompt's residual stream: the logit lens, Patchscopes readouts and how the next-token
distribution changes with a vector's length.
"""
