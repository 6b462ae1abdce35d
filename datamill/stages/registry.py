"""Find every registered stage: import each module of the stage-bearing packages once."""

from __future__ import annotations

import importlib
import pkgutil

from datamill.stages.base import STAGES, Stage

STAGE_PACKAGES = ("datamill.stages", "datamill.filters", "datamill.synth")


def all_stages() -> dict[str, type[Stage]]:
    """Stage modules keep heavy imports (torch, fasttext, vllm) inside functions, so this is cheap."""
    for package_name in STAGE_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{package_name}.{info.name}")
    return STAGES
