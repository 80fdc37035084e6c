"""Shared helpers: the `tessel` tool built beside the module, run as the CLI user runs it."""

import json
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = "configs/experiments/lstm_sharp_tiny.yaml"


def tool() -> str:
    path = os.environ.get("TESSEL_TOOL", os.path.join(ROOT, "build", "tessel"))
    if not os.path.exists(path):
        pytest.fail(f"TESSEL_TOOL={path}: the tessel tool is not built")
    return path


def cli(*args: str, check_rc=None):
    """(exit code, stdout, stderr) of `tessel ARGS` run from the source folder."""
    p = subprocess.run([tool(), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    if check_rc is not None:
        assert p.returncode == check_rc, p.stderr
    return p.returncode, p.stdout, p.stderr


def cli_error(*args: str) -> str:
    """The tool's one-line error message without its "tessel: " prefix."""
    rc, _, err = cli(*args)
    assert rc != 0
    lines = [l for l in err.splitlines() if l.startswith("tessel: ")]
    assert lines, err
    return lines[-1][len("tessel: "):]


def cli_json(*args: str):
    rc, out, err = cli(*args, "--json")
    assert rc in (0, 1), err
    return json.loads(out)


@pytest.fixture(autouse=True)
def _in_source_folder(monkeypatch):
    # Config paths in the tests are relative to the source folder, as in the README.
    monkeypatch.chdir(ROOT)
