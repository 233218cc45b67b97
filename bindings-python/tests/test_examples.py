"""The typed tour (examples/tour.py) runs against the server and Client.local; the README's
Python example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO, Server

HERE = Path(__file__).resolve().parents[1]


def test_tour_runs(server: Server, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(HERE / "examples" / "tour.py"),
                          str(tmp_path / "tour.db"), server.base_url, server.root_key],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("tour ok")


def test_readme_python_example_runs(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    section = readme.split("## Python", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "README has no ```python example in its Python section"
    out = subprocess.run([sys.executable, "-c", blocks[0]], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "valid: True" in out.stdout
