"""The layout holds: apps import only downward (pyproject's import-linter contracts), each
app says what it holds and may import, and modules stay small enough to read."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ["callauto", "tenants", "webhooks", "carrier", "calls", "recordings", "usage",
        "reminders", "portal", "campaigns", "notifications"]  # fmt: skip
# A module past this many lines is split along its seams (STYLE.md: "~500").
MAX_LINES = 520


def test_no_app_imports_upward():
    linter = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("app", APPS)
def test_each_app_says_what_lives_there_and_what_it_may_import(app):
    docstring = ast.get_docstring(ast.parse((ROOT / app / "__init__.py").read_text()))

    assert docstring, f"{app}/__init__.py has no docstring"
    assert "import" in docstring.lower(), f"{app}'s docstring does not say what it may import"


def test_no_module_is_longer_than_a_reader_can_hold():
    long = sorted(
        f"{path.relative_to(ROOT)}: {count} lines"
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
        and (count := len(path.read_text().splitlines())) > MAX_LINES
    )

    assert not long, long
