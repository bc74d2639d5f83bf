"""The Python API: load a model and run any operation on it.

Every operation takes a typed request and returns a typed result with `to_json()` (what the
command line's `--json` prints) and, where the app draws one, `figure()`. The command line,
the app's jobs and `render` go through the same operations (`nokenviz.api.operations`).
`connect` reaches a model served on another machine (`nokenviz serve`).
`nokenviz.show` (in `nokenviz.gui.show`) opens the app on a model.
"""

from nokenviz.api.model import Model, load
from nokenviz.api.remote_model import RemoteModel, connect

__all__ = ["Model", "RemoteModel", "connect", "load"]
