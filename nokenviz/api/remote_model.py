"""`nokenviz.connect(address)`: a model served by `nokenviz serve`, with exactly the API of
`nokenviz.load`. Every method builds the same job as on a local model, and `run` sends it to
the server instead of running it here (`nokenviz/remote/`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nokenviz.api.jobs import Job, T
from nokenviz.api.model import Model
from nokenviz.core.task import Task
from nokenviz.errors import NokenvizError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from nokenviz.core.models.loading import LoadedModel
    from nokenviz.remote.client import Connection


def connect(address: str, token: str | None = None) -> RemoteModel:
    """The model served at `address` (`host:port`, the local end of the ssh tunnel that
    `nokenviz serve` printed); `token` defaults to the `NOKENVIZ_TOKEN` environment variable."""
    from nokenviz.remote.client import connect as open_connection

    return RemoteModel(open_connection(address, token))


class RemoteModel(Model):
    """A served model: its weights stay on the server; results, streams, progress and cancel
    cross the connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._labels: list[str] | None = None
        self._tokenizer: PreTrainedTokenizerBase | None = None

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]} at {self.connection.address}>"

    @property
    def loaded(self) -> LoadedModel:
        raise NokenvizError(
            f"the model is served at {self.connection.address}: its weights are there; "
            "send code to run beside them with .run(job)"
        )

    @property
    def hf_model(self) -> PreTrainedModel:
        return self.loaded.model  # says where the weights are

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        """The server's tokenizer, fetched once."""
        if self._tokenizer is None:
            self._tokenizer = self.run(_tokenizer)
        return self._tokenizer

    @property
    def token_labels(self) -> list[str]:
        if self._labels is None:
            self._labels = self.run(_labels)
        return list(self._labels)

    def run(self, job: Job[T], task: Task | None = None) -> T:
        return self.connection.run(job, task)

    def close(self) -> None:
        """Leave the server; its jobs for this client stop."""
        self.connection.close()


def _tokenizer(state: dict[str, Any], task: Task) -> Any:
    return state["model"].tokenizer


def _labels(state: dict[str, Any], task: Task) -> list[str]:
    return list(state["model"].token_labels)
