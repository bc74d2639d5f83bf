"""Pages made while the site builds (a mkdocs hook), so they can never go stale:

- the gallery: every example scene in `resources/examples/` rendered by the API's `render`
  (what `nokenviz render` runs) on the default model;
- one page per worked script in `docs/examples/`: the script and what it printed, run now.

A scene that fails to render, or a script that fails, fails the build.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "resources" / "examples").glob("*.json"))
SCRIPTS = sorted((ROOT / "docs" / "examples").glob("*.py"))


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for file in _gallery(config) + _experiments(config):
        files.append(file)
    return files


def _gallery(config: MkDocsConfig) -> list[File]:
    import nokenviz as nv

    model = nv.load("default")
    made, sections = [], ["# Gallery", "", "Every example scene (Help > Examples in the app), as"]
    sections += ["`nokenviz render SCENE --out FILE.png` draws it on the default model.", ""]
    with tempfile.TemporaryDirectory() as folder:
        for scene in EXAMPLES:
            out = Path(folder) / f"{scene.stem}.png"
            model.render(scene, out)
            made.append(File.generated(config, f"gallery/{out.name}", content=out.read_bytes()))
            title = json.loads(scene.read_text()).get("title") or scene.stem
            sections += [f"## {title}", "", f"`resources/examples/{scene.name}`", ""]
            sections += [f"![{title}]({out.name})", ""]
    page = File.generated(config, "gallery/index.md", content="\n".join(sections))
    return [page, *made]


def _experiments(config: MkDocsConfig) -> list[File]:
    pages = []
    for script in SCRIPTS:
        with tempfile.TemporaryDirectory() as folder:  # a figure a script saves goes here
            done = subprocess.run(
                [sys.executable, str(script)], cwd=folder, capture_output=True, text=True
            )
        if done.returncode != 0:
            raise RuntimeError(f"docs/examples/{script.name} failed:\n{done.stderr}")
        source = script.read_text()
        doc = source.split('"""')[1].strip() if source.startswith('"""') else script.stem
        title = script.stem.replace("_", " ").capitalize()
        text = [f"# {title}", "", doc, "", f"`docs/examples/{script.name}`:", ""]
        text += ["```python", source.rstrip(), "```", "", "It prints (run as this page was built):"]
        text += ["", "```text", done.stdout.rstrip(), "```", ""]
        name = f"experiments/{script.stem}.md"
        pages.append(File.generated(config, name, content="\n".join(text)))
    return pages
