"""Nokens: vectors that are not tokens, from their specs; the composer's arithmetic, the live
preview and their inversion to hard tokens.
"""
