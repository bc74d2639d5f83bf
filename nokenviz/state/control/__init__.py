"""The controller's features, one module each: what the user asks of models and scenes, the
map, the trace, the composer, and generation with figures. `state/controller.py` joins them."""
