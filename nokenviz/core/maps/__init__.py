"""The vocabulary as geometry: norms, neighbours, the projections that draw it flat, and how far to
trust them (kNN recall).
"""
