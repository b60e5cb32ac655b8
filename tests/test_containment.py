"""Containment of a pod's process tree (issue 13 §2): children that try to outlive a run,
a run that kills its process group or its parent, a runner that dies or stalls, a run that
prints without bound. Each injects the fault with a work function from ``pod_faults``."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from saibench_core.execute import limits
from saibench_core.execute.isolate import isolated
from saibench_core.execute.logcap import TAIL_BYTES, LogTail

from . import pod_faults

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["cgroup", "no cgroup"])
def cgroups(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each tree test with the pod's cgroup (where this machine allows one) and without."""
    if request.param == "no cgroup":
        monkeypatch.setenv("SAIBENCH_CGROUPS", "off")
    return str(request.param)


def _token() -> str:
    return f"saibench-test-{uuid.uuid4().hex}"


def test_children_of_a_timed_out_run_are_killed_with_it(cgroups: str) -> None:
    token = _token()
    outcome = isolated(pod_faults.spawn_children, (token, "hang"), timeout=4)
    assert outcome.status == "failed"
    assert outcome.reason.startswith("timed out after 4 s (killed with ")  # how many depends on what was up at 4 s
    assert pod_faults.wait_until_gone(token) == []
    assert f"started 4 children for {token}" in outcome.details["log_tail"]


def test_children_left_by_a_finished_run_are_killed(cgroups: str) -> None:
    token = _token()
    outcome = isolated(pod_faults.spawn_children, (token, "return"), timeout=60)
    assert outcome.status == "ok", outcome.reason
    assert outcome.details["killed_processes"] == 4  # sleeper, burner, hog in its session, daemon
    assert pod_faults.wait_until_gone(token) == []


def test_killpg_zero_ends_only_the_run_and_a_run_beside_it_goes_on() -> None:
    with ThreadPoolExecutor(2) as pool:
        hostile = pool.submit(isolated, pod_faults.killpg_self, ("",), timeout=60)
        healthy = pool.submit(isolated, pod_faults.nap, (1.0,), timeout=60)
        # SIGTERM reaches the run's whole group, its keeper too, whose cleanup may SIGKILL the
        # worker before it handles its own SIGTERM: either way the run alone ended
        assert hostile.result().reason in ("crashed with signal SIGTERM", "crashed with signal SIGKILL")
        assert healthy.result().status == "ok"  # and this test's process, the runner, is alive


def test_killing_its_parent_ends_only_the_run() -> None:
    with ThreadPoolExecutor(2) as pool:
        hostile = pool.submit(isolated, pod_faults.kill_parent, ("",), timeout=60)
        healthy = pool.submit(isolated, pod_faults.nap, (1.0,), timeout=60)
        assert hostile.result().reason == "crashed with signal SIGKILL"
        assert healthy.result().status == "ok"


def test_killing_the_fork_server_spares_the_runs_in_flight_and_the_next() -> None:
    isolated(pod_faults.nap, (0.0,), timeout=60)  # the fork server is up
    with ThreadPoolExecutor(2) as pool:
        healthy = pool.submit(isolated, pod_faults.nap, (3.0,), timeout=60)
        time.sleep(0.5)
        hostile = pool.submit(isolated, pod_faults.kill_fork_server, ("",), timeout=60)
        assert hostile.result().status == "ok"
        assert healthy.result().details["slept"] == 3.0  # its pod was adopted by the runner
    assert isolated(pod_faults.nap, (0.0,), timeout=60).status == "ok"  # a new fork server


RUNNER = """
import os, sys
from saibench_core.execute.isolate import isolated
from tests import pod_faults
print(isolated(pod_faults.spawn_children, (os.environ["TOKEN"], "hang"), timeout=float(sys.argv[1])))
"""


def _runner_with_children(timeout: float) -> tuple[subprocess.Popen[bytes], str]:
    token = _token()
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, str(timeout)], cwd=ROOT, stdout=subprocess.DEVNULL,
                              env={**os.environ, "TOKEN": token})  # not in its command line: only the children's
    deadline = time.monotonic() + 60
    while len(pod_faults.survivors(token)) < 4 and runner.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(pod_faults.survivors(token)) == 4, "the pod did not start its children"
    return runner, token


@pytest.mark.slow
def test_a_run_dies_with_its_runner() -> None:
    runner, token = _runner_with_children(timeout=600)
    runner.kill()
    runner.wait()
    # the keeper sees the runner's end of the result pipe close and kills the tree
    assert pod_faults.wait_until_gone(token, bound=limits.GRACE_SECONDS) == []


@pytest.mark.slow
def test_a_run_keeps_its_timeout_when_the_runner_stalls() -> None:
    runner, token = _runner_with_children(timeout=8)
    os.kill(runner.pid, signal.SIGSTOP)  # the runner cannot enforce anything now
    try:
        assert pod_faults.wait_until_gone(token, bound=8 + limits.GRACE_SECONDS + 10) == []
    finally:
        runner.kill()
        runner.wait()


# the runner's peak from VmHWM, not ru_maxrss: a child started by vfork+exec (subprocess)
# inherits its parent's high-water mark in ru_maxrss, so under pytest it reads pytest's size
FLOOD = """
from saibench_core.execute.isolate import isolated
from tests import pod_faults
outcome = isolated(pod_faults.flood, (200,), timeout=120)
status = open("/proc/self/status").read()
print(int(status.split("VmHWM:")[1].split()[0]) // 1024)
print(len(outcome.details["log_tail"]), outcome.details["log_bytes"], len(outcome.reason))
print(outcome.details["log_tail"])
"""


@pytest.mark.slow
def test_200_mb_of_output_keeps_a_capped_tail_and_the_runner_flat() -> None:
    done = subprocess.run([sys.executable, "-c", FLOOD], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    peak_mib, sizes, tail = done.stdout.split("\n", 2)
    tail_chars, log_bytes, reason_chars = map(int, sizes.split())
    assert int(peak_mib) < 300  # the runner's own peak: 250 MB went through it
    assert tail_chars <= TAIL_BYTES and reason_chars < 2_100
    assert log_bytes > 250_000_000
    assert tail.startswith("[... ") and "earlier bytes of output not kept]" in tail
    assert tail.rstrip().endswith("zzzz [... line cut: 63,535 more characters]")  # the traceback's 10 MB message


def test_a_result_too_large_to_accept_fails_the_run() -> None:
    outcome = isolated(pod_faults.huge_result, (80,), timeout=60)
    assert outcome.reason == "its result was larger than 64 MiB"


def test_log_tail_keeps_the_end_within_its_cap() -> None:
    tail = LogTail(max_bytes=100)
    for i in range(1000):
        tail.feed(f"line {i}\n".encode())
    assert tail.total == sum(len(f"line {i}\n") for i in range(1000))
    text = tail.text(lines=3)
    assert text.splitlines()[1:] == ["line 997", "line 998", "line 999"]
    assert text.startswith("[... ") and "earlier bytes of output not kept" in text
    long = LogTail()
    long.feed(b"a" * 5000)
    assert long.text(line_chars=10) == "a" * 10 + " [... line cut: 4,990 more characters]"


def test_rlimits_of_a_pod() -> None:
    outcome = isolated(_rlimits, (), timeout=30, memory_limit_mb=1000)
    cpus = os.cpu_count() or 1
    assert outcome.details["cpu"][0] == math.ceil((30 + limits.GRACE_SECONDS) * cpus)  # a backstop: all cores busy
    assert outcome.details["data"][0] == (2 * 1000 + 1024) * 2**20
    assert outcome.details["core"][0] == 0
    assert outcome.details["session_leader"]


def _rlimits() -> dict[str, object]:
    import resource

    return {"cpu": list(resource.getrlimit(resource.RLIMIT_CPU)), "data": list(resource.getrlimit(resource.RLIMIT_DATA)),
            "core": list(resource.getrlimit(resource.RLIMIT_CORE)), "session_leader": os.getsid(0) == os.getppid()}


def test_a_cgroup_is_used_where_it_can_be_made() -> None:
    cgroup = limits.Cgroup.create()
    if cgroup is None:
        pytest.skip("no writable cgroup v2 here: the process group, subreaper and psutil contain the tree")
    cgroup.remove()
    assert not cgroup.path.exists()


def test_cgroups_left_by_a_dead_runner_are_swept(monkeypatch: pytest.MonkeyPatch) -> None:
    base = limits.Cgroup._find_base()
    probe = limits.Cgroup.create()
    if base is None or probe is None:
        pytest.skip("no writable cgroup v2 here")
    probe.remove()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    stale = base / f"saibench-pod-{dead}-0"
    stale.mkdir()
    monkeypatch.setattr(limits.Cgroup, "_base", False)  # as a new runner, which probes once
    fresh = limits.Cgroup.create()
    assert fresh is not None and not stale.exists()
    fresh.remove()
