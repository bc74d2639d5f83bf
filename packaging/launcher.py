"""Entry point of the packaged app (PyInstaller): the `nokenviz` command line and GUI.

A frozen app has no Python interpreter to start child processes with, so `sys.executable` is
this program. nokenviz starts one child, `sys.executable -m nokenviz.core.models.gguf_child ...`
(the one-time GGUF conversion), so that form is handled here by running the module.
"""

import runpy
import sys


def run() -> int:
    if sys.argv[1:2] == ["-m"] and len(sys.argv) > 2:
        module, sys.argv = sys.argv[2], [sys.argv[2], *sys.argv[3:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    from nokenviz.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(run())
