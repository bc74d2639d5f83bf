"""Package data: example scenes, icon and desktop entry (read with importlib.resources)."""
