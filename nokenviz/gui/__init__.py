"""The Qt layer: views and panels over the pure core. Only this package imports Qt."""
