"""Large temporaries are given back to the system when freed (core/heap.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PASS = r"""
import sys, torch
def anon_mb():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("RssAnon:")) / 1024
if sys.argv[1] == "fixed":
    from nokenviz.core.heap import return_large_frees
    assert return_large_frees()
before = anon_mb()
torch.empty(40 << 20, dtype=torch.uint8).fill_(1)  # a mapped block freed: the threshold rises
kept = []
for _ in range(40):  # what a pass over a vocabulary does: blocks, and small objects meanwhile
    block = torch.ones(7 << 20)
    kept.append([str(i) for i in range(2000)])
    del block
print(anon_mb() - before)
"""


def _retained_mb(mode: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", PASS, mode], capture_output=True, text=True, check=True
    )
    return float(done.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_blocks_freed_during_a_pass_are_not_kept_resident() -> None:
    assert _retained_mb("default") > 150  # glibc's own behaviour: 28 MB blocks pile up
    assert _retained_mb("fixed") < 40
