"""The development SECRET_KEY generated into instance/: one key, readable by its owner only."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import skip_unless_available

from bench.server import PROJECT_ROOT
from tokenaudit.config import load_config

STRACE = shutil.which("strace")
LOAD_CONFIG = (
    "import os, pathlib; from tokenaudit.config import load_config; "
    "print(load_config(pathlib.Path(os.environ['INSTANCE_PATH']))['SECRET_KEY'])"
)

WORKERS = 4
ROUNDS = 10


@pytest.fixture(autouse=True)
def no_secret_key_in_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)


def _start_together(instance_path: str, barrier, keys) -> None:
    barrier.wait()
    keys.put(load_config(Path(instance_path))["SECRET_KEY"])


@pytest.mark.slow  # ROUNDS of WORKERS forked processes
def test_workers_starting_together_end_with_the_same_key(tmp_path):
    """As gunicorn's workers do on a first start: each must sign with the key the others use."""
    context = multiprocessing.get_context("fork")
    for round_number in range(ROUNDS):
        instance_path = tmp_path / f"instance{round_number}"
        barrier, keys = context.Barrier(WORKERS), context.Queue()
        workers = [
            context.Process(target=_start_together, args=(str(instance_path), barrier, keys))
            for _ in range(WORKERS)
        ]
        for worker in workers:
            worker.start()
        started = [keys.get(timeout=30) for _ in workers]
        for worker in workers:
            worker.join(30)
        assert [worker.exitcode for worker in workers] == [0] * WORKERS
        written = (instance_path / "secret_key").read_text()
        assert set(started) == {written}, f"round {round_number}"
        assert len(written) == 64


@pytest.mark.slow  # a real process under strace
def test_the_key_file_is_created_readable_by_its_owner_only(tmp_path):
    """Mode 0600 from the moment it exists (created so, not changed afterwards), and kept."""
    if not STRACE:
        skip_unless_available("strace is not installed (apt-get install strace)")
    trace = tmp_path / "trace"
    started = subprocess.run(
        [STRACE, "-f", "-e", "trace=openat", "-o", str(trace), sys.executable, "-c", LOAD_CONFIG],
        cwd=PROJECT_ROOT,
        env={name: value for name, value in os.environ.items() if name != "SECRET_KEY"}
        | {"INSTANCE_PATH": str(tmp_path / "instance")},
        capture_output=True,
        text=True,
    )
    if started.returncode != 0 and "ptrace" in started.stderr:
        skip_unless_available(f"strace cannot trace here: {started.stderr.strip()}")
    assert started.returncode == 0, started.stderr
    key_file = tmp_path / "instance" / "secret_key"
    creation = next(line for line in trace.read_text().splitlines() if str(key_file) in line)
    assert "O_CREAT|O_EXCL" in creation and creation.split(", ")[-1].startswith("0600)"), creation
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_config(key_file.parent)["SECRET_KEY"] == started.stdout.strip()
