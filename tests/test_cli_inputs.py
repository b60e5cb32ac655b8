"""Every command-line input is checked before any work starts (real ``saibench``
subprocesses): a bad value is one line saying what, where and how to fix it, exit status 2,
and nothing is planned, trained, read or created first."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

WEIGHTS_FIX = "give an .npz that `saibench run --save-weights DIR` wrote"


def saibench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "saibench_core", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def assert_one_line(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("saibench: error: ")
    for needle in needles:
        assert needle in done.stderr, (needle, done.stderr)


def _files(tmp_path: Path) -> dict[str, str]:
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip at all")
    np.savez(tmp_path / "foreign.npz", weights=np.zeros(3))  # an npz, but not one saibench wrote
    np.save(tmp_path / "single.npy", np.zeros(3))
    (tmp_path / "a-file").write_text("")
    return {"garbage": str(garbage), "foreign": str(tmp_path / "foreign.npz"), "single": str(tmp_path / "single.npy"),
            "file": str(tmp_path / "a-file")}


RUN = ("run", "--problem", "wine", "--model", "linear")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        ((*RUN, "-j", "0"), ("'--jobs': 0 is not in the range x>=1", "see `")),
        ((*RUN, "-j", "-1"), ("'--jobs': -1 is not in the range x>=1",)),
        ((*RUN, "--timeout", "0"), ("'--timeout': '0' is not a finite number > 0",)),
        ((*RUN, "--timeout", "-5"), ("'--timeout': '-5' is not a finite number > 0",)),
        ((*RUN, "--timeout", "nan"), ("'--timeout': 'nan' is not a finite number > 0",)),
        ((*RUN, "--max-chain", "-1"), ("'--max-chain': -1 is not in the range x>=0",)),
        (("solve", "--max-chain", "-1"), ("'--max-chain': -1 is not in the range x>=0",)),
        (("explain", "--max-chain", "-1"), ("'--max-chain': -1 is not in the range x>=0",)),
        ((*RUN, "--memory-limit", "nan"), ("'--memory-limit': 'nan' is not a finite number >= 1",)),
        ((*RUN, "--memory-limit", "inf"), ("'--memory-limit': 'inf' is not a finite number >= 1",)),
        ((*RUN, "--address", "not a url"), ("--address 'not a url' is not a Dask scheduler address", "tcp://")),
        ((*RUN, "--address", "tcp://localhost:99999"), ("--address 'tcp://localhost:99999'", "Port out of range")),
        ((*RUN, "--address", "tcp://127.0.0.1:9"), ("cannot reach the Dask scheduler at tcp://127.0.0.1:9",)),
        ((*RUN, "--init-weights", "{garbage}"), ("not an .npz: no zip header", WEIGHTS_FIX)),
        ((*RUN, "--init-weights", "{foreign}"), ("array 'weights' is not named by a parameter path", WEIGHTS_FIX)),
        ((*RUN, "--init-weights", "{single}"), ("not a weights file saibench wrote",)),
        ((*RUN, "--save-weights", "/proc/saibench-weights"), ("--save-weights '/proc/saibench-weights' cannot be created",)),
        ((*RUN, "--save-weights", "{file}/sub"), ("--save-weights", "cannot be created or written")),
        (("rank", "--no-such-option"), ("No such option '--no-such-option'", "see `")),
        (("no-such-command",), ("No such command 'no-such-command'",)),
        (("results", "export", "--format", "csv", "-o", "/no/such/folder/runs.csv"),
         ("-o/--output '/no/such/folder/runs.csv': the folder '/no/such/folder' does not exist",)),
        (("results", "export", "--format", "csv", "-o", "/proc/runs.csv"), ("-o/--output '/proc/runs.csv' cannot be written",)),
        (("results", "export", "--format", "csv", "-o", "{file}/runs.csv"), ("is not a directory",)),
    ],
)
def test_bad_input_is_one_line_before_any_work(tmp_path: Path, args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    files = _files(tmp_path)
    db = tmp_path / "results.sqlite"
    # export reads a database that does not exist: checking the output first is what says "-o"
    done = saibench(*(a.format(**files) for a in args), *(("--db", str(db)) if args[0] in ("run", "results") else ()))
    assert_one_line(done, *needles)
    assert not db.exists()  # nothing was opened, so nothing planned or trained


@contextlib.contextmanager
def http_server(folder: Path) -> Iterator[int]:
    """A web server on a free local port: it accepts connections but speaks no Dask."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=folder,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:  # until it listens
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert server.poll() is None, "the web server did not start"
        yield port
    finally:
        server.kill()
        server.wait()


def test_an_address_that_is_a_web_server_is_one_line_not_a_hang(tmp_path: Path) -> None:
    with http_server(tmp_path) as port:
        done = saibench(*RUN, "--db", str(tmp_path / "r.sqlite"), "--address", f"tcp://127.0.0.1:{port}")
    assert_one_line(done, f"--address tcp://127.0.0.1:{port}", "did not answer as a Dask scheduler")
    assert not (tmp_path / "r.sqlite").exists()


def test_an_unwritable_export_is_found_before_the_database_is_read(tmp_path: Path) -> None:
    # the database is unreadable too: the output is what is checked first, and said
    done = saibench("results", "export", "--db", "/etc/passwd", "--format", "csv", "-o", str(tmp_path / "no" / "runs.csv"))
    assert_one_line(done, "-o/--output")


def test_help_and_version_still_work_and_no_arguments_shows_help() -> None:
    helped = saibench("--help")
    assert helped.returncode == 0 and "Usage:" in helped.stdout and "solve" in helped.stdout
    run_help = saibench("run", "-h")
    assert run_help.returncode == 0 and "--timeout" in run_help.stdout
    assert saibench("--version").returncode == 0
    bare = saibench()
    assert "Commands:" in bare.stdout + bare.stderr
