"""Models: resolve what `--model` names, load it safely (GGUF conversion, devices, dtype), and
reach its parts (embedding, unembedding, final norm, layers) and its tokens.
"""
