"""The settings module run afresh under a chosen environment (the ``load`` fixture of
tests/conftest.py), and the FLEETWATCH_* variables it reads."""

from __future__ import annotations

import ast
import runpy
from pathlib import Path

SETTINGS = Path(__file__).resolve().parents[1] / "src" / "fleetwatch" / "settings.py"


def variables_read_in_settings() -> set[str]:
    """Every variable name settings.py passes to a typed reader (``env_*("FLEETWATCH_…")``)."""
    names = set()
    for node in ast.walk(ast.parse(SETTINGS.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.startswith("env_"):
            first = node.args[0]
            assert isinstance(first, ast.Constant), f"line {node.lineno}: a variable name must be a literal"
            names.add(first.value)
    return names


def load_settings(monkeypatch, data_dir: Path, env: dict[str, str]) -> dict:
    """settings.py's globals, run with only ``env`` of its variables set (and the data dir)."""
    for name in variables_read_in_settings():
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)
    monkeypatch.setenv("FLEETWATCH_DATA_DIR", str(data_dir))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))
