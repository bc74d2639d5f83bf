"""The pure core: models, geometry, lens, nokens and generation. Never imports Qt.

Submodules import torch; import them where the work happens (worker thread, CLI command) so the
GUI can paint first.
"""
