"""nokenviz: the embedding geometry of causal language models, seen and played with.

The package root stays import-light (no torch, no Qt) so the window can paint before the heavy
libraries are loaded on a worker thread.
"""

__version__ = "0.1.0"
