"""PyInstaller runtime hook: caches go to writable user folders, never inside the bundle.

numba (used by UMAP) writes compiled functions next to the code by default, which is
read-only in an installed app; Hugging Face writes to HF_HOME. Both are pointed at the user's
cache folder unless the user already set them. Runs before any of the app's imports.
"""

import os
from pathlib import Path

from platformdirs import user_cache_dir

_cache = Path(user_cache_dir("nokenviz", appauthor=False))
os.environ.setdefault("NUMBA_CACHE_DIR", str(_cache / "numba"))
os.environ.setdefault("HF_HOME", str(_cache / "huggingface"))
