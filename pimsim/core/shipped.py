"""Where the descriptions shipped inside the package lie: hardware systems in
`pimsim/data/hw_configs/`, models in `pimsim/data/workloads/` (Hugging Face `config.json`
examples in its `hf/`). A source checkout's top-level `hw_configs/` and `workloads/` are links
to these folders, so each file has one home; a path found through a name reads the way the
checkout names it (`<repository>/hw_configs/hbm_pim.yaml`), or the package's path when
installed.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
DATA_DIR = PACKAGE_DIR / "data"


def shipped_dir(name: str) -> Path:
    """The shipped folder `name` ("hw_configs" or "workloads"): the checkout's top-level link to
    it when pimsim runs from a source checkout, else the package's own folder."""
    folder = DATA_DIR / name
    link = PACKAGE_DIR.parent / name
    if link.is_dir() and link.resolve() == folder.resolve():
        return link
    return folder
