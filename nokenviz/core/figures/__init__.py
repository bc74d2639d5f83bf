"""Figures: the matplotlib drawings the app exports and `render` writes, their sizes, marks and
label placement.
"""
