"""Shared by the Python tests (tests/python and tests/compat/python): where the built `keyshift`
binary is."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def keyshift_bin() -> str:
    path = os.environ.get("KEYSHIFT_BIN") or str(REPO / "target" / "debug" / "keyshift")
    if not Path(path).is_file():
        pytest.fail(f"keyshift binary not found at {path}: run `cargo build -p keyshift-cli` "
                    "or set KEYSHIFT_BIN")
    return path
