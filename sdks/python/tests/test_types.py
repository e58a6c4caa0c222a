"""The package type-checks under mypy --strict, and so does typical use of both clients
(return types are the models, pages and awaitables users expect)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def test_mypy_strict_on_typical_use() -> None:
    pytest.importorskip("mypy")
    base = [sys.executable, "-m", "mypy", "--strict", "--no-warn-return-any", "--cache-dir", "/dev/null"]
    for args in (["-p", "caseforge"], [str(HERE / "typing_usage.py")]):
        result = subprocess.run(base + args, capture_output=True, text=True, cwd=HERE)
        assert result.returncode == 0, result.stdout + result.stderr
