"""The only writer of the session: user intents become jobs, job ends become session changes.

The controller is the job board (`state/board.py`: submitting, superseding, stopping and
ending jobs) joined with one class per feature (`state/control/`), each holding the intents of
its panel and the handlers that put its jobs' results into the session. A load supersedes
loads; a scene opened during a load rides on the load of its model. Views subscribe with
`listen` and get the set of session parts that changed.
"""

from __future__ import annotations

from nokenviz.state.control.compare import CompareControl
from nokenviz.state.control.composer import ComposerControl
from nokenviz.state.control.generate import GenerateControl
from nokenviz.state.control.maps import MapControl
from nokenviz.state.control.models import ModelControl
from nokenviz.state.control.trace import TraceControl
from nokenviz.state.job import Runner
from nokenviz.state.session import EVERYTHING, Session

__all__ = ["EVERYTHING", "Controller"]


class Controller(
    ModelControl, MapControl, TraceControl, ComposerControl, GenerateControl, CompareControl
):
    def __init__(self, session: Session, model: Runner, projection: Runner) -> None:
        super().__init__(session, model, projection)
        self._map_handlers()
        self._trace_handlers()
        self._composer_handlers()
        self._generate_handlers()
        self._compare_handlers()
