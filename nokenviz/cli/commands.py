"""One function per sub-command: build the typed request from the arguments, run it through
the API, then print the result's `to_json()` (`--json`) or a short text for people.

Heavy imports (torch, transformers) happen inside the commands so `nokenviz --help` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Literal

from nokenviz.cli import options
from nokenviz.cli.output import (
    Echo,
    clear_progress,
    emit_json,
    print_plan,
    progress,
    show_progress,
    table,
)

if TYPE_CHECKING:
    from nokenviz.api import Model
    from nokenviz.api.requests import SweepKind, SweepRequest
    from nokenviz.api.results import GenerationResult
    from nokenviz.core.generation.sweeps import SweepRow
    from nokenviz.core.task import Task


def open_model(args: argparse.Namespace, spec: str | None = None) -> Model:
    """Load the command's model, with progress on a terminal and the device plan noted; or,
    with `--connect`, reach the model served there."""
    from nokenviz.api import Model, connect
    from nokenviz.core.models.loading import load_model

    if args.connect:
        return connect(args.connect, args.auth_token)
    task = _task(args)
    if not args.json:  # a spread load's plan is its only partial: shown before the weights load
        task.on_partial = print_plan
    loaded = load_model(spec or args.model, options.load_options(args), task)
    clear_progress(args.json)
    return Model(loaded)


def _task(args: argparse.Namespace) -> Task:
    from nokenviz.core.task import Task

    return Task(progress=progress if show_progress(args.json) else None)


def run_gui(args: argparse.Namespace) -> int:
    from nokenviz.gui.app import run_app
    from nokenviz.remote.client import TOKEN_VARIABLE

    if args.auth_token:  # the app's worker connects with it (see nokenviz/remote/client.py)
        os.environ[TOKEN_VARIABLE] = args.auth_token
    return run_app(
        model=f"ray://{args.connect}" if args.connect else args.model,
        scene=args.scene,
        screenshot=args.screenshot,
        exit_after_load=args.exit_after_load,
        options=options.load_options(args),
    )


def run_info(args: argparse.Namespace) -> int:
    info = open_model(args).describe()
    if args.json:
        return emit_json(info.to_json())
    rows = [[k, str(v)] for k, v in info.to_json().items() if k != "embedding_norms"]
    print(table(rows))
    n = info.embedding_norms
    assert n is not None  # asked for above
    print(
        f"token norms: median {n['median']:.3f}, mean {n['mean']:.3f}, min {n['min']:.3f}, "
        f"max {n['max']:.3f}; mean unit direction has norm {n['mean_direction_norm']:.3f}"
    )
    return 0


def run_neighbors(args: argparse.Namespace) -> int:
    from nokenviz.api import jobs, operations
    from nokenviz.api.requests import NeighborsRequest

    request = NeighborsRequest(args.token, max(args.k, 0), args.metric, args.matrix)
    model = open_model(args)
    found = model.run(jobs.call(operations.neighbors, request))
    if args.json:
        return emit_json(found.to_json())
    shown = model.token_labels
    print(f"neighbours of {shown[found.id]} (#{found.id}) by {found.metric} in {found.matrix}:")
    for title, items in (("top", found.top), ("bottom", found.bottom)):
        print(f"{title}:")
        print(table([[f"{s.score:+.4f}", f"#{s.id}", shown[s.id]] for s in items]))
    return 0


def run_lens(args: argparse.Namespace) -> int:
    from nokenviz.api import jobs, operations
    from nokenviz.api.requests import LensRequest

    request = LensRequest(args.prompt, args.position, max(1, args.top), options.nokens(args))
    model = open_model(args)
    lens = model.run(jobs.call(operations.lens, request))
    if args.json:
        return emit_json(lens.to_json())
    shown = model.token_labels
    labels = lens.labels
    print(f"logit lens at position {lens.position} ({labels[lens.position]}): {labels}")
    body = [
        [
            str(e.layer),
            f"{e.norm:.2f}",
            str(e.final_rank),
            "  ".join(f"{shown[t.id]} {t.prob:.2f}" for t in e.top),
        ]
        for e in lens.layers
    ]
    print(table([["layer", "norm", "rank", "top tokens"], *body]))
    final = shown[lens.prediction.id]
    print(f"rank: where this layer ranks the final prediction {final} (0 = top)")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    from nokenviz.api import jobs
    from nokenviz.api.requests import GenerateRequest
    from nokenviz.core.generation.experiment import parse_experiment

    request = GenerateRequest(
        prompt=args.prompt,
        nokens=options.nokens(args),
        decoding=options.decoding(args),
        experiment=parse_experiment(args.transform, tuple(args.rule), tuple(args.inject)),
        compare=args.compare,
        soft=args.soft,
    )
    model = open_model(args)
    task = _task(args)
    task.on_partial = jobs.streamed(None if args.json or args.soft else Echo(args.prompt), True)
    run = model.run(jobs.generate(request), task)
    if args.json:
        return emit_json(run.to_json())
    if run.soft:
        print(f"{run.prompt}[soft] {run.text}")
    else:
        print()
        _print_rules(model, run)
    if run.baseline_note:
        baseline = run.baseline_text
        print(run.baseline_note + ("" if baseline is None else f":\n{run.prompt}{baseline}"))
    for note in run.notes:
        print(f"nokenviz: note: {note}", file=sys.stderr)
    return 0


def _print_rules(model: Model, run: GenerationResult) -> None:
    for s in run.substituted:
        shown = model.token_labels[run.token_ids[s.index]]
        print(f"  new token {s.index + 1} ({shown}) was followed by the noken of rule {s.rule}")


def run_length(args: argparse.Namespace) -> int:
    from nokenviz.api import jobs, operations
    from nokenviz.api.requests import LengthRequest
    from nokenviz.core.figures.plots import SIZES, check_output, save_figure

    factors = options.floats(args.factors, "--factors")
    request = LengthRequest(
        args.prompt, args.position, args.slot, factors, args.top, options.nokens(args)
    )
    if args.out:
        check_output(args.out, SIZES["screen"].dpi)
    found = open_model(args).run(jobs.call(operations.length, request))
    if args.out:
        save_figure(found.figure("screen"), args.out, SIZES["screen"].dpi)
    if args.json:
        return emit_json(found.to_json())
    sweep = found.sweep
    rows = [["factor", "entropy (bits)", "top-1", f"top-{sweep.k} mass"]]
    rows += [
        [f"{f:.4g}", f"{e:.3f}", f"{p:.3f}", f"{m:.3f}"]
        for f, e, p, m in zip(
            sweep.factors, sweep.entropy, sweep.top1, sweep.topk_mass, strict=True
        )
    ]
    print(sweep.what)
    print(table(rows))
    return 0


def run_readout(args: argparse.Namespace) -> int:
    from nokenviz.api import jobs, operations
    from nokenviz.api.requests import ReadoutRequest

    request = ReadoutRequest(
        args.prompt,
        args.position,
        args.layer,
        args.slot,
        args.target,
        args.max_new_tokens,
        options.nokens(args),
    )
    found = open_model(args).run(jobs.call(operations.readout, request))
    if args.json:
        return emit_json(found.to_json())
    print(f"{found.token.label} at position {found.position}, read in {found.target!r}:")
    rows = [[str(r.layer), r.text] for r in found.readouts]
    print(table([["layer", "reads as"], *rows]))
    return 0


def run_invert(args: argparse.Namespace) -> int:
    from nokenviz.api import jobs, operations
    from nokenviz.api.requests import InvertRequest

    request = InvertRequest(
        args.prompt,
        options.nokens(args),
        args.slot,
        args.length,
        args.candidates,
        args.time_limit,
    )
    result = open_model(args).run(jobs.call_with_task(operations.invert, request), _task(args))
    clear_progress(args.json)
    if args.json:
        return emit_json(result.to_json())
    found = result.found
    shown = args.prompt.replace("{" + args.slot + "}", "".join(found.labels))
    print(f"closest hard prompt: {shown}")
    print(
        f"KL {found.kl:.4f} nats (start {found.start_kl:.4f}), {found.steps} steps, "
        f"{found.evaluated} prompts tried, {found.seconds:.1f} s"
    )
    return 0


def run_map(args: argparse.Namespace) -> int:
    import numpy as np

    from nokenviz.api import jobs, vocabulary_operations
    from nokenviz.api.requests import MapRequest
    from nokenviz.core.files import write_atomic

    matrix: Literal["W_E", "W_U"] = "W_U" if args.matrix == "unembed" else "W_E"
    request = MapRequest(args.kind, not args.uncentred, matrix, args.exact)
    if args.out and not args.out.endswith(".npy"):
        raise options.UsageError(f"--out writes a .npy file, not {args.out!r}")
    job = jobs.call_with_task(vocabulary_operations.project, request)
    found = open_model(args).run(job, _task(args))
    clear_progress(args.json)
    if args.out:
        write_atomic(args.out, lambda file: np.save(file, found.coords.astype(np.float32)))
    if args.json:
        return emit_json(found.to_json())
    print(f"{found.title}")
    print(
        f"kNN recall@10 {found.recall_at_10:.3f} over {len(found.coords):,} tokens, "
        f"{found.seconds:.1f} s" + (f"; coordinates in {args.out}" if args.out else "")
    )
    return 0


def run_tokens(args: argparse.Namespace) -> int:
    from nokenviz.api import jobs, vocabulary_operations

    found = open_model(args).run(jobs.call(vocabulary_operations.tokens, args.query))
    if args.json:
        return emit_json(found.to_json())
    print(f"{len(found.tokens):,} tokens match {args.query!r}")
    shown = found.tokens[: max(args.limit, 0)]
    rows = [[f"#{t.id}", t.label, f"{t.norm:.3f}", t.kind, t.case, t.script] for t in shown]
    if rows:
        print(table([["id", "token", "norm", "kind", "case", "script"], *rows]))
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from nokenviz.api import jobs, vocabulary_operations
    from nokenviz.api.requests import CompareRequest

    if args.model != "default":
        raise options.UsageError("compare names its two models itself: compare A B (no --model)")
    if args.connect:
        raise options.UsageError(
            "compare reads A and B from checkpoints here: run it where they are (no --connect)"
        )
    matrix: Literal["W_E", "W_U"] = "W_U" if args.matrix == "unembed" else "W_E"
    request = CompareRequest(args.b, args.top, matrix)
    job = jobs.call_with_task(vocabulary_operations.compare, request)
    found = open_model(args, args.a).run(job, _task(args))
    clear_progress(args.json)
    if args.json:
        return emit_json(found.to_json())
    c = found.comparison
    print(f"{len(c.ids_a):,} shared tokens ({c.tokens_a:,} in A, {c.tokens_b:,} in B); {c.note}")
    print(
        f"mean overlap of the 10 nearest tokens: {c.mean_knn_overlap:.3f} "
        f"(over {len(c.sampled):,} tokens)"
    )
    rows = [
        [
            f"#{m.id}",
            m.label,
            "-" if m.cosine is None else f"{m.cosine:.3f}",
            f"{m.knn_overlap:.2f}",
            f"{m.norm_ratio:.3f}",
        ]
        for m in found.moved
    ]
    if rows:
        print("most changed first:")
        print(table([["id", "token", "cosine", "kNN overlap", "norm B/A"], *rows]))
    return 0


def run_sweep_lerp(args: argparse.Namespace) -> int:
    from nokenviz.api.requests import SweepRequest

    kind: SweepKind = "slerp" if args.slerp else "lerp"
    request = SweepRequest(
        kind, args.prompt_a, args.prompt_b, args.steps, decoding=options.decoding(args)
    )
    return _sweep(args, request)


def run_sweep_seeds(args: argparse.Namespace) -> int:
    from nokenviz.api.requests import SweepRequest
    from nokenviz.core.generation.sweeps import parse_seed_range

    request = SweepRequest(
        "seeds",
        args.prompt,
        slot=args.slot,
        seeds=tuple(parse_seed_range(args.seeds)),
        match_norm=args.match_norm,
        nokens=options.nokens(args),
        decoding=options.decoding(args),
    )
    return _sweep(args, request)


def _sweep(args: argparse.Namespace, request: SweepRequest) -> int:
    from nokenviz.api import jobs

    task = _task(args)
    task.on_partial = jobs.streamed(None if args.json else _print_row)
    found = open_model(args).run(jobs.sweep(request), task)
    return emit_json(found.to_json()) if args.json else 0


def _print_row(row: SweepRow) -> None:
    print(f"{row.key}={row.value:<8} {row.text!r}", flush=True)


def run_serve(args: argparse.Namespace) -> int:
    from nokenviz.remote.serving import serve

    return serve(args.model, options.load_options(args), args.port, args.address, args.auth_token)


def run_render(args: argparse.Namespace) -> int:
    from nokenviz.api.render import render
    from nokenviz.core.figures.plots import SIZES, check_output, png_dpi
    from nokenviz.core.scenes.scene import load_scene

    scene = load_scene(args.scene)
    check_output(args.out, png_dpi(SIZES[args.size], args.scale, args.dpi))  # before loading
    model = open_model(args, args.model or scene.model)
    done = render(
        model, args.scene, args.out, args.size, args.scale, args.dpi, _task(args), args.titles
    )
    clear_progress(args.json)
    if args.json:
        return emit_json(done.to_json())
    print(f"wrote {done.out} ({done.bytes / 1e6:.2f} MB)")
    if done.caption:
        print(f"titles left out: {done.caption}")
    return 0
