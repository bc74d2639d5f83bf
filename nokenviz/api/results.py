"""What the operations return: typed results, each with the `to_json()` that the command
line's `--json` prints (one schema, not two), and a `figure()` where the app draws one.

Token text in JSON is always the raw text with its id; display labels (`␣sun`) appear only in
fields named for labels. Every document names the model that made it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from nokenviz.core.figures.sizes import SIZES
from nokenviz.core.generation.patchscope import Readout
from nokenviz.core.generation.sweeps import SweepRow
from nokenviz.core.models.token_labels import token_json
from nokenviz.core.nokens.inversion import Inversion
from nokenviz.core.residual.vector_length import LengthSweep

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Json = dict[str, object]
SizeName = Literal["screen", "column", "page"]


@dataclass(frozen=True)
class ModelInfo:
    """What a loaded model is and where it runs."""

    model: str  # the spec it was loaded from ("default", a folder, a .gguf, a hub id)
    name: str
    arch: str
    n_layers: int
    d_model: int
    vocab_size: int
    tied_embeddings: bool
    causal: bool
    context_length: int | None
    device: str
    dtype: str
    dtype_reason: str = ""
    device_plan: str = ""  # where the layers went when spread over devices
    # median, mean, std, min, max, percentiles and the mean direction's norm (`describe()`)
    embedding_norms: dict[str, float] | None = None

    def to_json(self) -> Json:
        document: Json = asdict(self)
        if self.embedding_norms:
            document["embedding_norms"] = {k: round(v, 4) for k, v in self.embedding_norms.items()}
        for key in ("device_plan", "embedding_norms"):
            if not document[key]:
                del document[key]
        return document


@dataclass(frozen=True)
class PromptToken:
    """One input position: the token's raw text and id, or a noken (no text, no id)."""

    token: str | None
    id: int | None
    label: str  # as shown: `␣sun`, `{x}` for a noken, `~␣sun` for a transformed input
    transformed: bool = False  # the token's input was replaced by a transform of it

    def to_json(self) -> Json:
        entry = token_json(self.token, self.id, self.label)
        if self.transformed:
            entry["transformed"] = True
        return entry


@dataclass(frozen=True)
class TokenScore:
    token: str  # raw text
    id: int
    score: float


@dataclass(frozen=True)
class Neighbors:
    model: str
    query: str  # the token's raw text
    id: int
    matrix: str
    metric: str
    top: list[TokenScore]  # nearest first, the query itself excluded
    bottom: list[TokenScore]  # farthest first

    def to_json(self) -> Json:
        def rows(items: list[TokenScore]) -> list[Json]:
            return [{"token": s.token, "id": s.id, self.metric: round(s.score, 6)} for s in items]

        return {
            "model": self.model,
            "query": self.query,
            "id": self.id,
            "matrix": self.matrix,
            "metric": self.metric,
            "top": rows(self.top),
            "bottom": rows(self.bottom),
        }


@dataclass(frozen=True)
class TokenProb:
    token: str  # raw text
    id: int
    prob: float


@dataclass(frozen=True)
class LensLayer:
    layer: int  # 0: the embedding output; the last: the model's own prediction
    norm: float
    final_rank: int  # how many tokens this layer ranks above the final prediction
    top: list[TokenProb]


@dataclass(frozen=True)
class Lens:
    """The logit lens at one position, and the top-1 of every (layer, position) for the
    heatmap."""

    model: str
    prompt: str
    position: int
    tokens: list[PromptToken]  # the prompt's positions
    layers: list[LensLayer]
    heat_ids: np.ndarray  # [L+1, T] top-1 token id
    heat_probs: np.ndarray  # [L+1, T] its probability
    heat_labels: list[list[str]]  # [L+1][T] the label of each top-1 token
    norms: np.ndarray  # [L+1, T] hidden-state norms

    @property
    def prediction(self) -> TokenProb:
        return self.layers[-1].top[0]

    @property
    def labels(self) -> list[str]:
        return [t.label for t in self.tokens]

    def to_json(self) -> Json:
        return {
            "model": self.model,
            "prompt": self.prompt,
            "position": self.position,
            "tokens": [t.to_json() for t in self.tokens],
            "prediction": self.prediction.token,
            "layers": [
                {
                    "layer": e.layer,
                    "norm": round(e.norm, 4),
                    "final_rank": e.final_rank,
                    "top": [
                        {"token": t.token, "id": t.id, "prob": round(t.prob, 6)} for t in e.top
                    ],
                }
                for e in self.layers
            ],
        }

    def figure(self, size: SizeName = "screen") -> Figure:
        """The app's logit-lens figure: the heatmap beside each position's norm per layer."""
        from nokenviz.core.figures.plots import lens_figure

        return lens_figure(
            self.heat_probs, self.heat_labels, self.norms, self.position, self.labels, SIZES[size]
        )


@dataclass(frozen=True)
class Attention:
    """A prompt's attention at every layer and head, and which tokens guide one position (how
    much it attends to each key, the last layers' heads averaged)."""

    model: str
    prompt: str
    position: int
    tokens: list[PromptToken]  # the prompt's positions
    weights: np.ndarray  # [layers, heads, query, key]
    guiding: np.ndarray  # [key] attention of `position` to each key

    @property
    def labels(self) -> list[str]:
        return [t.label for t in self.tokens]

    def to_json(self) -> Json:
        order = np.argsort(-self.guiding)
        return {
            "model": self.model,
            "prompt": self.prompt,
            "position": self.position,
            "tokens": [t.to_json() for t in self.tokens],
            "guiding": [
                {"position": int(i), **self.tokens[i].to_json(), "weight": round(float(w), 6)}
                for i, w in zip(order, self.guiding[order], strict=True)
            ],
        }

    def figure(self, layer: int = -1, head: int | None = None, size: SizeName = "screen") -> Figure:
        """One layer's attention (a head, or the mean of heads), with the top guiding tokens."""
        from nokenviz.core.figures.plots import attention_figure

        weights = self.weights[layer % len(self.weights)]
        head = None if head is None else head % len(weights)  # as the app's layer/head boxes
        shown = weights.mean(axis=0) if head is None else weights[head]
        which = "mean of heads" if head is None else f"head {head}"
        labels = self.labels
        top = [(labels[i], float(self.guiding[i])) for i in np.argsort(-self.guiding)[:3]]
        title = f"attention, layer {layer % len(self.weights)}, {which}"
        return attention_figure(shown, labels, title, top, SIZES[size])


@dataclass(frozen=True)
class Noken:
    """A noken's vector (float32) and the spec it was built from."""

    spec: Json
    vector: np.ndarray

    @property
    def norm(self) -> float:
        return float(np.linalg.norm(self.vector))

    def to_json(self) -> Json:
        return {"spec": self.spec, "norm": round(self.norm, 6), "vector": self.vector.tolist()}


@dataclass(frozen=True)
class Substitution:
    index: int  # which new token a rule followed with its noken
    token: str  # that token's raw text
    rule: str


@dataclass(frozen=True)
class GenerationResult:
    """A generation, and its baseline when there is one to compare with."""

    model: str
    request: Json  # the prompt, nokens, settings and experiment, as given
    tokens: list[PromptToken]  # the prompt as the model got it
    text: str
    token_ids: list[int]
    tokens_per_second: float
    stopped: bool
    baseline_text: str | None = None
    baseline_note: str = ""  # what the baseline is, or why there is none
    substituted: list[Substitution] = field(default_factory=list)
    marks: list[tuple[int, int, str]] = field(default_factory=list)  # substitutions' spans
    notes: list[str] = field(default_factory=list)  # settings that did nothing, and why
    noken_tokens: list[PromptToken] = field(default_factory=list)  # the tokens specs name
    soft: bool = False
    top_probs: list[float] = field(default_factory=list)  # soft: the argmax's probability
    vectors: np.ndarray | None = None  # soft: the inputs fed back [steps, d], float32

    @property
    def prompt(self) -> str:
        return str(self.request["prompt"])

    def to_json(self) -> Json:
        document: Json = {"model": self.model, **self.request}
        if self.noken_tokens:  # a spec's "#2644" read as a token: raw text, id and label
            document["noken_tokens"] = [t.to_json() for t in self.noken_tokens]
        document["tokens"] = [t.to_json() for t in self.tokens]
        document.update(text=self.text, token_ids=self.token_ids)
        if self.soft:
            document.update(mode="soft", top_probs=[round(p, 6) for p in self.top_probs])
        else:
            document["tokens_per_second"] = round(self.tokens_per_second, 2)
        if self.substituted:
            document["substituted"] = [asdict(s) for s in self.substituted]
        if self.baseline_text is not None or self.baseline_note:
            document.update(baseline_text=self.baseline_text, baseline_note=self.baseline_note)
        if self.notes:
            document["notes"] = self.notes
        document["stopped"] = self.stopped
        return document


@dataclass(frozen=True)
class Sweep:
    model: str
    request: Json
    rows: list[SweepRow]

    def to_json(self) -> Json:
        return {"model": self.model, **self.request, "rows": [r.to_json() for r in self.rows]}


@dataclass(frozen=True)
class Length:
    model: str
    prompt: str
    sweep: LengthSweep

    def to_json(self) -> Json:
        return {"model": self.model, "prompt": self.prompt, **self.sweep.to_json()}

    def figure(self, size: SizeName = "screen", title: str = "") -> Figure:
        from nokenviz.core.figures.length import length_figure

        return length_figure(self.sweep, SIZES[size], title)


@dataclass(frozen=True)
class Readouts:
    model: str
    prompt: str
    position: int
    token: PromptToken  # what sits at the read position
    target: str
    readouts: list[Readout]

    def to_json(self) -> Json:
        return {
            "model": self.model,
            "prompt": self.prompt,
            "position": self.position,
            **self.token.to_json(),
            "target": self.target,
            "readouts": [{"layer": r.layer, "text": r.text} for r in self.readouts],
        }


@dataclass(frozen=True)
class InversionResult:
    model: str
    prompt: str
    slot: str
    found: Inversion

    def to_json(self) -> Json:
        return {
            "model": self.model,
            "prompt": self.prompt,
            "slot": self.slot,
            **self.found.to_json(),
        }


@dataclass(frozen=True)
class Rendered:
    model: str
    scene: str
    out: str
    bytes: int
    caption: str = ""  # the titles taken off the figure (`titles=False`)

    def to_json(self) -> Json:
        document = asdict(self)
        if not self.caption:
            del document["caption"]
        return document
