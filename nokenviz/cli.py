"""The `nokenviz` command line (DESIGN.md section 3): thin argument handling over the core.

Bad input ends with one line on stderr and a non-zero exit, never a traceback. Heavy imports
(torch, transformers) happen inside the commands so `nokenviz --help` is instant.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from nokenviz import __version__
from nokenviz.core.heap import return_large_frees
from nokenviz.errors import NokenvizError

EXIT_ERROR = 1
EXIT_USAGE = 2  # a malformed option value, as argparse exits for its own
EXIT_INTERRUPTED = 130
_MAX_MEMORY_ITEM = re.compile(r"(cpu|mps|disk|cuda:\d+)=(\d+|\d+(?:\.\d+)?[KMG]i?B)")


class UsageError(NokenvizError):
    """An option value the command line cannot read (exit code 2, still one line)."""


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    return_large_frees()
    try:
        return int(args.run(args) or 0)
    except UsageError as exc:
        print(f"nokenviz: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except NokenvizError as exc:
        print(f"nokenviz: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("nokenviz: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _quiet_libraries() -> None:
    """Progress bars and advice from transformers would bury our output; keep errors only."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.getLogger("accelerate").setLevel(logging.ERROR)  # offload notes: we print the plan


# ---------------------------------------------------------------- argument parsing


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nokenviz",
        description="See and play with the embedding geometry of causal language models.",
    )
    parser.add_argument("--version", action="version", version=f"nokenviz {__version__}")
    parser.set_defaults(
        run=_run_gui, model=None, scene=None, screenshot=None, exit_after_load=False
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    gui = _command(commands, "gui", "start the desktop app (the default command)", _run_gui)
    gui.add_argument("--scene", help="scene file to open")
    gui.add_argument(
        "--screenshot", metavar="PNG", help="save a screenshot of the window once drawn"
    )
    gui.add_argument("--exit-after-load", action="store_true", help="quit once the model is loaded")
    gui.set_defaults(model=None)  # the scene's model with --scene, else the default model

    _command(commands, "info", "the model's architecture, sizes and token norms", _run_info)

    neighbors = _command(
        commands, "neighbors", "nearest and farthest tokens of one token", _run_neighbors
    )
    neighbors.add_argument("token", help="the token's exact text (mind the leading space) or #id")
    neighbors.add_argument("-k", type=int, default=10, help="how many neighbours (default 10)")
    neighbors.add_argument("--metric", choices=("cosine", "dot"), default="cosine")
    neighbors.add_argument(
        "--matrix",
        choices=("embed", "unembed"),
        default="embed",
        help="compare input embeddings (W_E) or output vectors (W_U)",
    )

    lens = _command(commands, "lens", "logit lens: top tokens at every layer", _run_lens)
    lens.add_argument("prompt")
    lens.add_argument("--position", type=int, default=-1, help="token position (default -1: last)")
    lens.add_argument("--top", type=int, default=5, help="tokens per layer (default 5)")
    _noken_option(lens)

    generate = _command(
        commands, "generate", "generate text from a prompt with noken slots", _run_generate
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
        commands,
        "length",
        "next-token entropy and top-k probability as a vector is scaled",
        _run_length,
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
        commands,
        "readout",
        "Patchscopes: what the model reads a hidden state (every layer) or a noken as",
        _run_readout,
    )
    readout.add_argument("prompt")
    readout.add_argument("--position", type=int, default=-1, help="the position to read")
    readout.add_argument("--layer", type=int, help="only this layer (default: every layer)")
    readout.add_argument("--slot", help="read this slot's noken (at layer 0) instead")
    readout.add_argument("--target", help="the identity prompt, with '?' where the vector goes")
    readout.add_argument("--max-new-tokens", type=int, default=6)
    _noken_option(readout)

    invert = _command(
        commands,
        "invert",
        "the hard tokens (1-3) that predict most like a noken (KL), by embedding gradients",
        _run_invert,
    )
    invert.add_argument("prompt", help="a prompt with the noken's {slot}")
    invert.add_argument("--slot", default="x", help="the slot to invert (default x)")
    invert.add_argument("--length", type=int, default=2, help="hard tokens to find, 1-3")
    invert.add_argument("--candidates", type=int, default=64, help="swaps tried per position")
    invert.add_argument("--time-limit", type=float, default=60.0, help="seconds (default 60)")
    _noken_option(invert)

    sweep = _command(commands, "sweep", "one generation per t or per seed", None)
    kinds = sweep.add_subparsers(title="sweeps", metavar="KIND", required=True)
    lerp = _command(
        kinds, "lerp", "blend two prompts of equal token length over t", _run_sweep_lerp
    )
    lerp.add_argument("prompt_a")
    lerp.add_argument("prompt_b")
    lerp.add_argument("--steps", type=int, default=11)
    lerp.add_argument("--slerp", action="store_true", help="interpolate along great circles")
    _decoding_options(lerp)
    seeds = _command(kinds, "seeds", "a random noken per seed in one slot", _run_sweep_seeds)
    seeds.add_argument("prompt")
    seeds.add_argument("--slot", required=True, help="the slot that takes the random noken")
    seeds.add_argument("--seeds", required=True, help="e.g. 0-9 or 1,4,7")
    seeds.add_argument("--match-norm", action="store_true", help="scale to the typical token norm")
    _noken_option(seeds)
    _decoding_options(seeds)

    render = _command(
        commands, "render", "draw a scene's figure to a PNG, SVG or PDF file", _run_render
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
    render.set_defaults(model=None)  # the scene's own model unless --model says otherwise
    return parser


def _command(
    commands: Any, name: str, help_text: str, run: Callable[..., int] | None
) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=help_text, description=help_text)
    sub.add_argument(
        "--model", default="default", help="default | a directory | a .gguf file | a hub id"
    )
    sub.add_argument(
        "--device", default="auto", help="auto (CUDA > MPS > CPU), cpu, cuda, cuda:N, mps"
    )
    sub.add_argument("--dtype", default="auto", help="auto, float32, float16 or bfloat16")
    sub.add_argument(
        "--device-map",
        choices=("auto",),
        help="auto: spread the layers over every GPU, the CPU and the disk even when the model "
        "fits one device (without it they are spread only when it does not)",
    )
    sub.add_argument(
        "--max-memory",
        metavar="DEVICE=SIZE,...",
        help="cap what the weights may take per device, e.g. cpu=2GiB,cuda:0=10GiB "
        "(devices cpu, mps, cuda:N, disk); layers beyond the caps go to the next device",
    )
    sub.add_argument(
        "--offload-folder",
        metavar="DIR",
        help="where layers offloaded to disk are kept (default: in the nokenviz cache)",
    )
    sub.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow a model's own Python code to run (only for sources you trust)",
    )
    sub.add_argument("--json", action="store_true", help="print one JSON document")
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
        nargs="+",
        action="extend",
        default=[],
        metavar="TOKEN",
        help="texts the output may not contain, as written (mind leading spaces; ␣ = space)",
    )


# ---------------------------------------------------------------- shared helpers


def _load_options(args: argparse.Namespace) -> Any:
    """The loading options every command takes, `gui` included (defaults without one)."""
    from nokenviz.core.model_spec import LoadOptions

    return LoadOptions(
        device=getattr(args, "device", "auto"),
        dtype=getattr(args, "dtype", "auto"),
        device_map=getattr(args, "device_map", None),
        max_memory=_max_memory(getattr(args, "max_memory", None)),
        offload_folder=getattr(args, "offload_folder", None),
        trust_remote_code=getattr(args, "trust_remote_code", False),
    )


def _max_memory(text: str | None) -> dict[str, int] | None:
    """`cpu=2GiB,cuda:0=10GiB` as bytes per device, sizes read by accelerate (a bare number
    is bytes; units KiB, MiB, GiB, KB, MB, GB, with a capital B: accelerate reads `gb` as
    gigabits)."""
    from accelerate.utils import convert_file_size_to_int

    if text is None:
        return None
    limits: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        match = _MAX_MEMORY_ITEM.fullmatch(item)
        if match is None:
            raise UsageError(
                f"--max-memory takes DEVICE=SIZE pairs separated by commas, e.g. "
                f"cpu=2GiB,cuda:0=10GiB (devices cpu, mps, cuda:N, disk; sizes in bytes or "
                f"KiB, MiB, GiB, KB, MB, GB), not {item!r}"
            )
        device, size = match.groups()
        if device in limits:
            raise UsageError(f"--max-memory names {device} twice")
        limits[device] = convert_file_size_to_int(size if size.endswith("B") else int(size))
    return limits


def _load(args: argparse.Namespace, model: str | None = None) -> Any:
    from nokenviz.core.loading import load_model

    task = _task(args)
    if not args.json:  # a spread load's plan is its only partial: shown before the weights load
        task.on_partial = _print_plan
    loaded = load_model(model or args.model, _load_options(args), task)
    _clear_progress(args)
    return loaded


def _print_plan(plan: str) -> None:
    """The plan as a line of its own, kept above the progress line (which it clears)."""
    clear = "\r\033[K" if sys.stderr.isatty() else ""
    print(f"{clear}nokenviz: device plan: {plan}", file=sys.stderr)


def _task(args: argparse.Namespace) -> Any:
    from nokenviz.core.task import Task

    return Task(progress=_stderr_progress if sys.stderr.isatty() and not args.json else None)


def _clear_progress(args: argparse.Namespace) -> None:
    if sys.stderr.isatty() and not args.json:
        print("\r\033[K", end="", file=sys.stderr)


def _stderr_progress(fraction: float, message: str) -> None:
    print(f"\r\033[K{fraction:4.0%} {message}", end="", file=sys.stderr, flush=True)


def _parse_nokens(items: list[str]) -> dict[str, Any]:
    from nokenviz.core.nokens import parse_assignments

    return parse_assignments(items)


def _settings(args: argparse.Namespace) -> Any:
    from nokenviz.core.decoding import DecodingSettings

    return DecodingSettings(
        max_new_tokens=args.max_new_tokens,
        min_new_tokens=args.min_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        repetition_penalty=args.repetition_penalty,
        ban=tuple(args.ban),
    )


def _emit_json(document: dict[str, Any]) -> int:
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


# ---------------------------------------------------------------- commands


def _run_gui(args: argparse.Namespace) -> int:
    from nokenviz.gui.app import run_app

    return run_app(
        model=args.model,
        scene=args.scene,
        screenshot=args.screenshot,
        exit_after_load=args.exit_after_load,
        options=_load_options(args),
    )


def _run_info(args: argparse.Namespace) -> int:
    from nokenviz.core.geometry import norm_stats

    loaded = _load(args)
    info = loaded.info()
    stats = norm_stats(loaded.adapter.W_E)
    info["embedding_norms"] = {k: round(v, 4) for k, v in vars(stats).items()}
    if args.json:
        return _emit_json(info)
    print(_table([[key, str(value)] for key, value in info.items() if key != "embedding_norms"]))
    print(
        f"token norms: median {stats.median:.3f}, mean {stats.mean:.3f}, min {stats.min:.3f}, "
        f"max {stats.max:.3f}; mean unit direction has norm {stats.mean_direction_norm:.3f}"
    )
    return 0


def _run_neighbors(args: argparse.Namespace) -> int:
    from nokenviz.core.geometry import neighbours
    from nokenviz.core.tokens import parse_token_query

    loaded = _load(args)
    token_id = parse_token_query(loaded.tokenizer, args.token, loaded.vocab_size)
    if args.matrix == "unembed" and loaded.adapter.W_U is None:
        raise NokenvizError("this model has no unembedding matrix")
    matrix = loaded.adapter.W_E if args.matrix == "embed" else loaded.adapter.W_U
    found = neighbours(
        matrix, matrix[token_id], k=max(args.k, 0), metric=args.metric, exclude=(token_id,)
    )
    names = loaded.token_strings

    def rows(items: list[Any]) -> list[dict[str, Any]]:
        return [{"token": names[n.id], "id": n.id, args.metric: round(n.score, 6)} for n in items]

    document = {
        "query": names[token_id],
        "id": token_id,
        "matrix": args.matrix,
        "metric": args.metric,
        "top": rows(found.top),
        "bottom": rows(found.bottom),
    }
    if args.json:
        return _emit_json(document)
    shown = loaded.token_labels
    print(f"neighbours of {shown[token_id]} (#{token_id}) by {args.metric} in {args.matrix}:")
    for title in ("top", "bottom"):
        print(f"{title}:")
        print(
            _table(
                [[f"{r[args.metric]:+.4f}", f"#{r['id']}", shown[r["id"]]] for r in document[title]]
            )
        )
    return 0


def _run_lens(args: argparse.Namespace) -> int:
    from nokenviz.core.lens import logit_lens, residual_stream
    from nokenviz.core.prompts import prepare_prompt

    nokens = _parse_nokens(args.noken)
    loaded = _load(args)
    prepared = prepare_prompt(loaded, args.prompt, nokens)
    stream = residual_stream(loaded, prepared)
    try:
        position = stream.position_index(args.position)
    except IndexError as exc:
        raise NokenvizError(str(exc)) from exc
    entries = logit_lens(loaded, stream, position, k=max(1, args.top))
    names = loaded.token_strings
    document = {
        "prompt": args.prompt,
        "position": position,
        "tokens": prepared.labels,
        "prediction": names[entries[-1].top[0][0]],
        "layers": [
            {
                "layer": e.layer,
                "norm": round(e.norm, 4),
                "final_rank": e.final_rank,
                "top": [{"token": names[i], "id": i, "prob": round(p, 6)} for i, p in e.top],
            }
            for e in entries
        ],
    }
    if args.json:
        return _emit_json(document)
    shown = loaded.token_labels
    print(f"logit lens at position {position} ({prepared.labels[position]}): {prepared.labels}")
    header = ["layer", "norm", "rank", "top tokens"]
    body = [
        [
            str(e.layer),
            f"{e.norm:.2f}",
            str(e.final_rank),
            "  ".join(f"{shown[i]} {p:.2f}" for i, p in e.top),
        ]
        for e in entries
    ]
    print(_table([header, *body]))
    return 0


def _run_generate(args: argparse.Namespace) -> int:
    from nokenviz.core.experiment import parse_experiment, run_generation, soft_conflicts

    nokens = _parse_nokens(args.noken)
    settings = _settings(args)
    experiment = parse_experiment(args.transform, tuple(args.rule), tuple(args.inject))
    if args.soft and (conflict := soft_conflicts(settings, experiment)):
        raise NokenvizError(conflict)
    loaded = _load(args)
    document: dict[str, Any] = {
        "prompt": args.prompt,
        "nokens": {n: s.to_json() for n, s in nokens.items()},
        "settings": settings.to_json(),
        **({} if experiment.empty else experiment.to_json()),
    }
    if args.soft:
        return _run_soft(args, loaded, nokens, settings, document)
    echo = None if args.json else _Echo(args.prompt)
    run = run_generation(
        loaded, args.prompt, nokens, settings, experiment, args.compare, on_token=echo
    )
    if echo is not None:
        print()
    result = run.result
    document.update(
        tokens=run.labels,
        text=result.text,
        token_ids=result.token_ids,
        tokens_per_second=round(result.tokens_per_second, 2),
    )
    if result.substituted:
        document["substituted"] = [
            {"index": i, "token": loaded.token_strings[result.token_ids[i]], "rule": rule}
            for i, rule in result.substituted
        ]
    if run.baseline is not None or run.baseline_note:
        document["baseline_text"] = None if run.baseline is None else run.baseline.text
        document["baseline_note"] = run.baseline_note
    if args.json:
        return _emit_json(document)
    for index, rule in result.substituted:
        shown = loaded.token_labels[result.token_ids[index]]
        print(f"  new token {index + 1} ({shown}) was followed by the noken of rule {rule}")
    if experiment.rules and not result.substituted:
        print("  (no rule fired: the model never emitted a rule's token)")
    if "baseline_note" in document:
        print(f"{run.baseline_note}:" if run.baseline is not None else run.baseline_note)
        if run.baseline is not None:
            print(f"{args.prompt}{run.baseline.text}")
    return 0


def _run_length(args: argparse.Namespace) -> int:
    from nokenviz.core.figures import SIZES, check_output, save_figure
    from nokenviz.core.prompts import prepare_prompt
    from nokenviz.core.vector_length import DEFAULT_FACTORS, length_figure, scale_final, scale_noken

    if args.slot and args.position != -1:
        raise NokenvizError("--slot scales its noken: --position is for the final residual")
    factors = _floats(args.factors, "--factors") if args.factors else DEFAULT_FACTORS
    nokens = _parse_nokens(args.noken)
    if args.out:
        check_output(args.out, SIZES["screen"].dpi)
    loaded = _load(args)
    if args.slot:
        sweep = scale_noken(loaded, args.prompt, nokens, args.slot, factors, args.top)
    else:
        prepared = prepare_prompt(loaded, args.prompt, nokens)
        sweep = scale_final(loaded, prepared, factors, args.position, args.top)
    if args.out:
        save_figure(length_figure(sweep, SIZES["screen"]), args.out, SIZES["screen"].dpi)
    if args.json:
        return _emit_json({"prompt": args.prompt, **sweep.to_json()})
    print(sweep.what)
    rows = [["factor", "entropy (bits)", "top-1", f"top-{sweep.k} mass"]]
    rows += [
        [f"{f:g}", f"{e:.3f}", f"{p:.3f}", f"{m:.3f}"]
        for f, e, p, m in zip(
            sweep.factors, sweep.entropy, sweep.top1, sweep.topk_mass, strict=True
        )
    ]
    print(_table(rows))
    return 0


def _floats(text: str, option: str) -> list[float]:
    try:
        return [float(item) for item in text.split(",")]
    except ValueError:
        raise NokenvizError(f"{option} takes numbers separated by commas, e.g. 0.5,1,2") from None


def _run_readout(args: argparse.Namespace) -> int:
    from nokenviz.core.injection import check_layer
    from nokenviz.core.lens import residual_stream
    from nokenviz.core.nokens import build_noken
    from nokenviz.core.patchscope import DEFAULT_TARGET, read_noken, read_trajectory, read_vector
    from nokenviz.core.prompts import prepare_prompt

    if args.slot and (args.layer is not None or args.position != -1):
        raise NokenvizError("--slot reads its noken at layer 0: it takes no --layer or --position")
    target = args.target or DEFAULT_TARGET
    nokens = _parse_nokens(args.noken)
    loaded = _load(args)
    prepared = prepare_prompt(loaded, args.prompt, nokens)
    if args.slot:
        if args.slot not in nokens:
            raise NokenvizError(f"--slot {args.slot}: no noken of that name (give --noken)")
        vector = build_noken(nokens[args.slot], loaded.adapter.W_E, loaded.tokenizer)
        readouts = [read_noken(loaded, vector, target, args.max_new_tokens)]
        position = prepared.slot_positions[args.slot][0]
    else:
        stream = residual_stream(loaded, prepared)
        try:
            position = stream.position_index(args.position)
        except IndexError as exc:
            raise NokenvizError(str(exc)) from exc
        raw = stream.raw[:, position]
        if args.layer is None:
            readouts = read_trajectory(loaded, raw.numpy(), target, args.max_new_tokens)
        else:
            check_layer(loaded, args.layer)
            vector = raw[args.layer]
            readouts = [read_vector(loaded, vector, args.layer, target, args.max_new_tokens)]
    document = {
        "prompt": args.prompt,
        "position": position,
        "token": prepared.labels[position],
        "target": target,
        "readouts": [{"layer": r.layer, "text": r.text} for r in readouts],
    }
    if args.json:
        return _emit_json(document)
    print(f"{prepared.labels[position]} at position {position}, read in {target!r}:")
    print(_table([["layer", "reads as"], *[[str(r.layer), r.text] for r in readouts]]))
    return 0


def _run_invert(args: argparse.Namespace) -> int:
    from nokenviz.core.inversion import invert_noken
    from nokenviz.core.task import Task

    nokens = _parse_nokens(args.noken)
    loaded = _load(args)
    task = Task(progress=_stderr_progress if sys.stderr.isatty() and not args.json else None)
    found = invert_noken(
        loaded,
        args.prompt,
        nokens,
        args.slot,
        args.length,
        task,
        candidates=args.candidates,
        time_limit=args.time_limit,
    )
    _clear_progress(args)
    if args.json:
        return _emit_json({"prompt": args.prompt, "slot": args.slot, **found.to_json()})
    shown = args.prompt.replace("{" + args.slot + "}", "".join(found.labels))
    print(f"closest hard prompt: {shown}")
    print(
        f"KL {found.kl:.4f} nats (start {found.start_kl:.4f}), {found.steps} steps, "
        f"{found.evaluated} prompts tried, {found.seconds:.1f} s"
    )
    return 0


def _run_soft(
    args: argparse.Namespace,
    loaded: Any,
    nokens: dict[str, Any],
    settings: Any,
    document: dict[str, Any],
) -> int:
    """Soft feedback (and, with --compare, the plain-token baseline)."""
    from nokenviz.core.experiment import Experiment, baseline_input
    from nokenviz.core.generation import generate, soft_feedback
    from nokenviz.core.prompts import prepare_prompt

    prepared = prepare_prompt(loaded, args.prompt, nokens)
    run = soft_feedback(
        loaded, prepared, steps=settings.max_new_tokens, temperature=settings.temperature
    )
    document.update(
        tokens=prepared.labels,
        text=run.shadow_text,
        token_ids=run.shadow_ids,
        mode="soft",
        top_probs=[round(p, 6) for p in run.top_probs],
    )
    plain, note = baseline_input(loaded, args.prompt, nokens, prepared, Experiment(), args.compare)
    if note:
        document["baseline_note"] = note
        baseline = None if plain is None else generate(loaded, plain, settings)
        document["baseline_text"] = None if baseline is None else baseline.text
    if args.json:
        return _emit_json(document)
    print(f"{args.prompt}[soft] {document['text']}")
    if note:
        print(note + ("" if plain is None else f":\n{args.prompt}{document['baseline_text']}"))
    return 0


class _Echo:
    """Streams generated text after the prompt, printed with the first token (so bad input
    found before generation starts leaves stdout empty)."""

    def __init__(self, prompt: str) -> None:
        self.prompt: str | None = prompt

    def __call__(self, _id: int, text: str) -> None:
        if self.prompt is not None:
            print(self.prompt, end="")
            self.prompt = None
        print(text, end="", flush=True)


def _run_sweep_lerp(args: argparse.Namespace) -> int:
    from nokenviz.core.sweeps import lerp_sweep

    settings = _settings(args)
    loaded = _load(args)
    on_row = None if args.json else _print_row
    rows = lerp_sweep(
        loaded, args.prompt_a, args.prompt_b, args.steps, args.slerp, settings, on_row
    )
    if args.json:
        return _emit_json(
            {
                "prompt_a": args.prompt_a,
                "prompt_b": args.prompt_b,
                "mode": "slerp" if args.slerp else "lerp",
                "rows": [r.to_json() for r in rows],
            }
        )
    return 0


def _run_sweep_seeds(args: argparse.Namespace) -> int:
    from nokenviz.core.sweeps import parse_seed_range, seed_sweep

    seeds = parse_seed_range(args.seeds)
    nokens = _parse_nokens(args.noken)
    settings = _settings(args)
    loaded = _load(args)
    on_row = None if args.json else _print_row
    rows = seed_sweep(
        loaded, args.prompt, args.slot, seeds, nokens, args.match_norm, settings, on_row
    )
    if args.json:
        return _emit_json(
            {"prompt": args.prompt, "slot": args.slot, "rows": [r.to_json() for r in rows]}
        )
    return 0


def _print_row(row: Any) -> None:
    print(f"{row.key}={row.value:<8} {row.text!r}", flush=True)


def _run_render(args: argparse.Namespace) -> int:
    from nokenviz.core.figures import SIZES, check_output, png_dpi, save_figure
    from nokenviz.core.render import compute_scene, scene_figure
    from nokenviz.core.scene import load_scene

    scene = load_scene(args.scene)
    size = SIZES[args.size]
    dpi = png_dpi(size, args.scale, args.dpi)
    check_output(args.out, dpi)  # before loading anything
    loaded = _load(args, args.model or scene.model)
    task = _task(args)
    figure = scene_figure(scene, compute_scene(scene, loaded, task), size)
    path = save_figure(figure, args.out, dpi)
    _clear_progress(args)
    if args.json:
        return _emit_json({"scene": args.scene, "out": str(path), "bytes": path.stat().st_size})
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0
