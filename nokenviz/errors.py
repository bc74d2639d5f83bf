"""The errors a user can cause, each carrying one message meant to be read by that user.

The CLI prints `NokenvizError` messages as one line on stderr and the GUI shows them in a dialog;
anything else escaping is a bug in nokenviz, not bad input.
"""


class NokenvizError(Exception):
    """Bad input or an unusable model: the message says what is wrong and how to fix it."""


class ModelError(NokenvizError):
    """A model spec that cannot be resolved or loaded."""


class NokenSpecError(NokenvizError):
    """A noken spec (docs/nokens.md) that is malformed or names something impossible."""


class PromptError(NokenvizError):
    """An empty prompt, bad slots, or a prompt that does not fit the model's context."""


class Cancelled(NokenvizError):
    """The user cancelled a long job (load, projection, generation)."""

    def __init__(self, what: str = "the job") -> None:
        super().__init__(f"cancelled {what}")
