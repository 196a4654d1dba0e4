"""Fixtures of the large-body suite: a private work dir (deleted after each test) and a real server in it.

Measured figures (throughput, peak RSS, durations) are collected with the ``figures`` fixture and printed in
the terminal summary, so a CI log shows them even when every test passes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from largekit import FIGURES, Figures, ServerProcess, start_server


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """``tmp_path``, removed after the test: pytest keeps old temp dirs, and these hold GiB-sized files."""
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.fixture
def server(workdir: Path) -> Iterator[ServerProcess]:
    """`smarts3 serve` with auth on and fsync on, storing under ``workdir/data``; stopped by PID afterwards."""
    process = start_server(workdir / "data", workdir)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    return Figures(request.node.name)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("tests/large measurements")
        for line in FIGURES:
            terminalreporter.write_line(line)
