"""The command line's arguments: one sub-command per operation, each option named once.

Loading options and `--json` are on every command; on `sweep` they may stand before or after
the sweep's kind (given in both places, the later one wins).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from nokenviz.cli import commands
from nokenviz.core.maps.map_kinds import MAP_KINDS
from nokenviz.remote.client import TOKEN_VARIABLE
from nokenviz.version import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nokenviz",
        description="See and play with the embedding geometry of causal language models.",
    )
    parser.add_argument("--version", action="version", version=f"nokenviz {__version__}")
    parser.set_defaults(
        run=commands.run_gui,
        model=None,
        scene=None,
        screenshot=None,
        exit_after_load=False,
        connect=None,
        auth_token=None,
    )
    subs = parser.add_subparsers(title="commands", metavar="COMMAND")

    gui = _command(subs, "gui", "start the desktop app (the default command)", commands.run_gui)
    gui.add_argument("--scene", help="scene file to open")
    gui.add_argument(
        "--screenshot", metavar="PNG", help="save a screenshot of the window once drawn"
    )
    gui.add_argument("--exit-after-load", action="store_true", help="quit once the model is loaded")
    gui.set_defaults(model=None)  # the scene's model with --scene, else the default model

    _command(subs, "info", "the model's architecture, sizes and token norms", commands.run_info)

    neighbors = _command(
        subs, "neighbors", "nearest and farthest tokens of one token", commands.run_neighbors
    )
    neighbors.add_argument(
        "token",
        help="the token's exact text (mind the leading space), its label (␣question) or #id",
    )
    neighbors.add_argument("-k", type=int, default=10, help="how many neighbours (default 10)")
    neighbors.add_argument("--metric", choices=("cosine", "dot"), default="cosine")
    neighbors.add_argument(
        "--matrix",
        choices=("embed", "unembed"),
        default="embed",
        help="compare input embeddings (W_E) or output vectors (W_U)",
    )

    lens = _command(subs, "lens", "logit lens: top tokens at every layer", commands.run_lens)
    lens.add_argument("prompt")
    lens.add_argument("--position", type=int, default=-1, help="token position (default -1: last)")
    lens.add_argument("--top", type=int, default=5, help="tokens per layer (default 5)")
    _noken_option(lens)

    generate = _command(
        subs, "generate", "generate text from a prompt with noken slots", commands.run_generate
    )
    generate.add_argument("prompt", help="text with {name} slots filled by --noken name=SPEC")
    _noken_option(generate)
    generate.add_argument(
        "--compare",
        action="store_true",
        help="also generate with each noken replaced by the plain token it names",
    )
    generate.add_argument(
        "--transform",
        metavar="SPEC",
        help="replace every token by a transform of itself, e.g. '{\"neighbors\": 5}', "
        '\'{"neighbors": 5, "t": 0.5}\', \'{"noise": 0.3, "seed": 1}\', \'{"scale": 1.5}\' '
        '(+ "range": [i, j]); the original prompt runs beside it',
    )
    generate.add_argument(
        "--rule",
        action="append",
        default=[],
        metavar="TOKEN=SPEC",
        help="when the model emits TOKEN (or #ID, or at step @N), the text shows it but the next "
        "input is SPEC's noken; the run without rules is the baseline",
    )
    generate.add_argument(
        "--inject",
        action="append",
        default=[],
        metavar="LAYER:POS:SPEC[:add|replace]",
        help="add or write a vector into the residual stream at a prompt position: layer 0 is "
        "the input embeddings, L the output of block L; SPEC is a noken spec or "
        '{"direction": [A, B], "scale": s} (default mode: add for a direction, else replace)',
    )
    generate.add_argument(
        "--soft",
        action="store_true",
        help="soft feedback: append the probability-weighted embedding each step, at "
        "--temperature (0, the default, is the one-hot limit: greedy through embeddings)",
    )
    _decoding_options(generate)

    length = _command(
        subs,
        "length",
        "next-token entropy and top-k probability as a vector is scaled",
        commands.run_length,
    )
    length.add_argument("prompt")
    length.add_argument(
        "--position",
        type=int,
        default=-1,
        help="scale this position's final residual (default -1: last)",
    )
    length.add_argument("--slot", help="scale this slot's noken instead of the final residual")
    length.add_argument("--factors", help="comma-separated factors (default 0.125 .. 8)")
    length.add_argument("--top", type=int, default=5, help="k of the top-k mass (default 5)")
    length.add_argument("--out", help="also draw the figure to FILE.png, .svg or .pdf")
    _noken_option(length)

    readout = _command(
        subs,
        "readout",
        "Patchscopes: what the model reads a hidden state (every layer) or a noken as",
        commands.run_readout,
    )
    readout.add_argument("prompt")
    readout.add_argument("--position", type=int, default=-1, help="the position to read")
    readout.add_argument("--layer", type=int, help="only this layer (default: every layer)")
    readout.add_argument("--slot", help="read this slot's noken (at layer 0) instead")
    readout.add_argument("--target", help="the identity prompt, with '?' where the vector goes")
    readout.add_argument("--max-new-tokens", type=int, default=6)
    _noken_option(readout)

    invert = _command(
        subs,
        "invert",
        "the hard tokens (1-3) that predict most like a noken (KL), by embedding gradients",
        commands.run_invert,
    )
    invert.add_argument("prompt", help="a prompt with the noken's {slot}")
    invert.add_argument("--slot", default="x", help="the slot to invert (default x)")
    invert.add_argument("--length", type=int, default=2, help="hard tokens to find, 1-3")
    invert.add_argument("--candidates", type=int, default=64, help="swaps tried per position")
    invert.add_argument("--time-limit", type=float, default=60.0, help="seconds (default 60)")
    _noken_option(invert)

    map_ = _command(
        subs,
        "map",
        "every token's place on the app's map, and how many of its neighbours the map keeps",
        commands.run_map,
    )
    map_.add_argument(
        "kind",
        choices=MAP_KINDS,
        help="the projection the app draws (neighbors: the neighbour map, t-SNE)",
    )
    map_.add_argument(
        "--out", metavar="FILE.npy", help="write the [vocab, 2] float32 coordinates, by token id"
    )
    map_.add_argument(
        "--matrix", choices=("embed", "unembed"), default="embed", help="W_E (default) or W_U"
    )
    map_.add_argument(
        "--uncentred", action="store_true", help="directions as they are (default: centred)"
    )
    map_.add_argument(
        "--exact", action="store_true", help="umap, neighbors: fit every token (slow)"
    )

    tokens = _command(
        subs,
        "tokens",
        "the tokens a query selects by kind, script, length, norm, id or text",
        commands.run_tokens,
    )
    tokens.add_argument(
        "query",
        help="e.g. 'script:Cyrillic and not kind:number', 'kind:word_start and len>8', "
        "'/^ [A-Z]/' (and, or, not, parentheses)",
    )
    tokens.add_argument("--limit", type=int, default=50, help="rows printed (JSON has all)")

    compare = _command(
        subs,
        "compare",
        "what changed between two models sharing a tokenizer: per token, direction after "
        "alignment, nearest tokens and norm",
        commands.run_compare,
    )
    compare.add_argument("a", help="the first model (loaded): default | a directory | a .gguf file")
    compare.add_argument(
        "b",
        help="the second model: a directory or a .gguf file (only its "
        "embedding and tokenizer are read)",
    )
    compare.add_argument("--top", type=int, default=50, help="the most changed tokens listed")
    compare.add_argument(
        "--matrix", choices=("embed", "unembed"), default="embed", help="W_E (default) or W_U"
    )

    sweep = _command(subs, "sweep", "one generation per t or per seed", None)
    kinds = sweep.add_subparsers(title="sweeps", metavar="KIND", required=True)
    lerp = _command(
        kinds,
        "lerp",
        "blend two prompts of equal token length over t",
        commands.run_sweep_lerp,
        inherit=True,
    )
    lerp.add_argument("prompt_a")
    lerp.add_argument("prompt_b")
    lerp.add_argument("--steps", type=int, default=11)
    lerp.add_argument("--slerp", action="store_true", help="interpolate along great circles")
    _decoding_options(lerp)
    seeds = _command(
        kinds,
        "seeds",
        "a random noken per seed in one slot",
        commands.run_sweep_seeds,
        inherit=True,
    )
    seeds.add_argument("prompt")
    seeds.add_argument("--slot", required=True, help="the slot that takes the random noken")
    seeds.add_argument("--seeds", required=True, help="e.g. 0-9 or 1,4,7")
    seeds.add_argument("--match-norm", action="store_true", help="scale to the typical token norm")
    _noken_option(seeds)
    _decoding_options(seeds)

    serve = _command(
        subs,
        "serve",
        "serve the model to other machines (on Ray): they reach it with --connect",
        commands.run_serve,
        served=False,
    )
    serve.add_argument(
        "--port",
        type=int,
        default=10001,
        help="the port clients connect to (Ray Client's; default 10001), on 127.0.0.1",
    )
    serve.add_argument(
        "--address",
        help="an existing Ray cluster to serve on ('auto': the one this machine is in); "
        "default: a cluster started here for this server alone",
    )
    serve.add_argument(
        "--token",
        dest="auth_token",
        metavar="TOKEN",
        help=f"the token clients must give (default: {TOKEN_VARIABLE}, else a new one)",
    )

    render = _command(
        subs, "render", "draw a scene's figure to a PNG, SVG or PDF file", commands.run_render
    )
    render.add_argument("scene", help="a scene file (.json)")
    render.add_argument("--out", required=True, help="FILE.png, FILE.svg or FILE.pdf")
    render.add_argument(
        "--size",
        choices=("screen", "column", "page"),
        default="screen",
        help="screen: 8 in wide; column: 3.5 in (one journal column); page: 7 in (two columns)",
    )
    render.add_argument(
        "--scale", type=float, default=1.0, help="PNG scale, 1-4 (x 100 dpi screen, x 300 print)"
    )
    render.add_argument(
        "--dpi", type=float, default=None, help="PNG resolution (overrides --scale)"
    )
    render.add_argument(
        "--no-titles",
        dest="titles",
        action="store_false",
        help="draw no titles (the figure for a paper, whose caption says it); they are printed",
    )
    render.set_defaults(model=None)  # the scene's own model unless --model says otherwise
    return parser


def _command(
    group: Any,
    name: str,
    help_text: str,
    run: Callable[[argparse.Namespace], int] | None,
    inherit: bool = False,
    served: bool = True,
) -> argparse.ArgumentParser:
    """A sub-command with the loading options and `--json`. With `inherit` (a sweep's kind)
    an option left out keeps the value given before the kind instead of resetting it."""
    sub = group.add_parser(name, help=help_text, description=help_text)

    def default(value: object) -> object:
        return argparse.SUPPRESS if inherit else value

    sub.add_argument(
        "--model",
        default=default("default"),
        help="default | a directory | a .gguf file | a hub id",
    )
    sub.add_argument(
        "--device", default=default("auto"), help="auto (CUDA > MPS > CPU), cpu, cuda, cuda:N, mps"
    )
    sub.add_argument("--dtype", default=default("auto"), help="auto, float32, float16 or bfloat16")
    sub.add_argument(
        "--device-map",
        default=default(None),
        choices=("auto",),
        help="auto: spread the layers over every GPU, the CPU and the disk even when the model "
        "fits one device (without it they are spread only when it does not)",
    )
    sub.add_argument(
        "--max-memory",
        default=default(None),
        metavar="DEVICE=SIZE,...",
        help="cap what the weights may take per device, e.g. cpu=2GiB,cuda:0=10GiB "
        "(devices cpu, mps, cuda:N, disk); layers beyond the caps go to the next device",
    )
    sub.add_argument(
        "--offload-folder",
        default=default(None),
        metavar="DIR",
        help="where layers offloaded to disk are kept (default: in the nokenviz cache)",
    )
    sub.add_argument(
        "--trust-remote-code",
        action="store_true",
        default=default(False),
        help="allow a model's own Python code to run (only for sources you trust)",
    )
    sub.add_argument(
        "--json", action="store_true", default=default(False), help="print one JSON document"
    )
    if served:
        sub.add_argument(
            "--connect",
            metavar="ADDRESS",
            default=default(None),
            help="use the model served at ADDRESS (host:port, printed by `nokenviz serve`) "
            "instead of loading one here",
        )
        sub.add_argument(
            "--token",
            dest="auth_token",
            metavar="TOKEN",
            default=default(None),
            help=f"the served model's token (default: the {TOKEN_VARIABLE} environment variable)",
        )
    if run is not None:
        sub.set_defaults(run=run)
    return sub


def _noken_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--noken",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help='fill slot {NAME}, e.g. x=\'{"mix": {" cat": 0.5, " dog": 0.5}}\'',
    )


def _decoding_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-new-tokens", type=int, default=30)
    parser.add_argument("--min-new-tokens", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--top-p", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--repetition-penalty",
        type=float,
        default=1.0,
        metavar="R",
        help="> 1 discourages tokens already in the prompt or output (1 = off)",
    )
    parser.add_argument(
        "--ban",
        action="append",
        default=[],
        metavar="TEXT",
        help="a text the output may not contain, as written (mind leading spaces; ␣ = space); "
        "repeat for several: --ban ' the' --ban ' a'",
    )
