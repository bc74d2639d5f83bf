"""Scene files: the app's state as one versioned, validated JSON document."""
