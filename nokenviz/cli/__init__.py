"""The `nokenviz` command line: thin argument handling over the Python API (`nokenviz.api`).

Bad input ends with one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from nokenviz.core.heap import return_large_frees
from nokenviz.errors import NokenvizError

EXIT_ERROR = 1
EXIT_USAGE = 2  # a malformed option value, as argparse exits for its own
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    from nokenviz.cli.options import UsageError
    from nokenviz.cli.parser import build_parser

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
