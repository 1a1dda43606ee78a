"""Lesson kernels talk over Unix sockets in a private folder: nothing for another process to take first."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from labkit.kernels import IpcKernelManager


def _tcp_listeners_of(pid: int) -> list[str]:
    done = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True)
    return [line for line in done.stdout.splitlines() if f"pid={pid}," in line]


@pytest.mark.skipif(shutil.which("ss") is None, reason="ss (iproute2) is needed to list listening sockets")
def test_an_ipc_kernel_runs_code_with_its_channels_as_private_socket_files(tmp_path: Path) -> None:
    km = IpcKernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path))  # the kernel's folder differs from ours, as with papermill's cwd=
    client = km.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=120)
        reply = client.execute_interactive("import os; print(os.getcwd())", timeout=60)
        assert reply["content"]["status"] == "ok"
        socket_dir = Path(km.ip).parent
        sockets = sorted(p.name for p in socket_dir.iterdir())
        assert len(sockets) == 5 and all(stat.S_ISSOCK(os.stat(socket_dir / s).st_mode) for s in sockets)
        assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o700
        # The five channels are those files; what TCP the kernel still listens on it bound itself to a
        # random port (ipykernel's output pipe for forked children), so no other process can take it first.
        pid = km.provisioner.pid  # type: ignore[union-attr]
        assert km.get_connection_info()["transport"] == "ipc"
        assert len(_tcp_listeners_of(pid)) <= 1
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)
    assert not socket_dir.exists()


# -- warm kernels (forks of labkit.kernel_zygote) -----------------------------------------------------------

#: What a lesson can observe of the process it runs in, printed as JSON by the kernel itself.
PROBE = """
import gc, json, os, sys
first_cell_finds_pandas = "pandas" in sys.modules
import pandas as pd
print(json.dumps({
    "cwd": os.getcwd(), "path0": sys.path[0], "path": sys.path, "argv0": os.path.basename(sys.argv[0]),
    "flags": list(sys.flags), "xoptions": sys._xoptions, "probe_variable": os.environ.get("LABKIT_PROBE"),
    "own_process_group": os.getpgid(0) == os.getpid(), "own_session": os.getsid(0) == os.getpid(),
    "stdin_at_end": sys.__stdin__.read() == "" if sys.__stdin__ else None,
    "max_columns": pd.get_option("display.max_columns"), "width": pd.get_option("display.width"),
    "main": type(sys.modules["__main__"]).__name__, "ppid": os.getppid(),
    "parent_handle": get_ipython().kernel.parent.parent_handle if hasattr(get_ipython().kernel, "parent") else None,
    "preloaded": first_cell_finds_pandas, "frozen": gc.get_freeze_count(),
    "collector": [gc.isenabled(), gc.get_threshold()],
}))
"""


def _probe(folder: Path, warm: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, object], IpcKernelManager]:
    import json

    monkeypatch.setenv("LABKIT_WARM_KERNELS", "1" if warm else "0")
    km = IpcKernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(folder), env={**os.environ, "LABKIT_PROBE": "seen"})
    client = km.client()
    try:
        client.start_channels()
        client.wait_for_ready(timeout=120)
        lines: list[str] = []
        reply = client.execute_interactive(PROBE, timeout=60, output_hook=lambda msg: lines.append(
            msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None)
        assert reply["content"]["status"] == "ok", reply["content"]
        return json.loads("".join(lines)), km
    finally:
        client.stop_channels()


def test_a_warm_kernel_looks_to_a_lesson_exactly_like_one_started_the_ordinary_way(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    facts = {}
    for warm in (True, False):
        facts[warm], km = _probe(tmp_path, warm, monkeypatch)
        pid = km.provisioner.pid  # type: ignore[union-attr]
        km.shutdown_kernel(now=False)
        assert km.provisioner is None or not km.is_alive()
        facts[warm]["pid"] = pid
    warm, cold = facts[True], facts[False]
    assert warm["preloaded"] is True and cold["preloaded"] is False  # the warm one is a fork of the zygote
    assert warm["ppid"] != os.getpid() and cold["ppid"] == os.getpid()
    assert warm["parent_handle"] == warm["ppid"]  # it stops when the zygote (its real parent) goes
    # What the zygote imported is out of the collector's reach (kernel_zygote._freeze_preloaded); the rest of
    # the collector is as in any kernel (compared below).
    assert warm["frozen"] > 50_000 and cold["frozen"] == 0
    for name in ("ppid", "pid", "preloaded", "parent_handle", "frozen"):
        warm.pop(name), cold.pop(name)
    assert warm == cold  # folder, sys.path, flags, environment, own session, stdin, pandas' display defaults
    assert warm["cwd"] == str(tmp_path) and warm["probe_variable"] == "seen"
    assert warm["max_columns"] == 20  # what pandas chooses inside a kernel (0 in a terminal)


def test_a_warm_kernel_is_interrupted_and_reports_its_exit_code(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    facts, km = _probe(tmp_path, True, monkeypatch)
    assert facts["preloaded"] is True
    client = km.client()
    client.start_channels()
    try:
        msg_id = client.execute("import time; time.sleep(60)")
        time.sleep(1)
        started = time.monotonic()
        km.interrupt_kernel()
        reply = client.get_shell_msg(timeout=20)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
        assert time.monotonic() - started < 10
    finally:
        client.stop_channels()
    process = km.provisioner.process  # type: ignore[union-attr]
    km.shutdown_kernel(now=True)
    assert process.returncode is not None  # collected by the zygote and handed over


def test_a_notebook_folder_that_shadows_a_preloaded_package_gets_an_ordinary_kernel(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sslyze.py").write_text("SHADOW = True\n")
    facts, km = _probe(tmp_path, True, monkeypatch)
    client = km.client()
    client.start_channels()
    try:
        reply = client.execute_interactive("import sslyze; assert sslyze.SHADOW", timeout=60)
        assert reply["content"]["status"] == "ok"  # the folder's own module, as a fresh interpreter finds it
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)
    assert facts["preloaded"] is False and facts["ppid"] == os.getpid()


MANAGER_THAT_DIES = """
import os, sys, time
from labkit.kernels import IpcKernelManager
km = IpcKernelManager(kernel_name="python3")
km.start_kernel()
client = km.client(); client.start_channels(); client.wait_for_ready(timeout=120)
print(km.provisioner.pid, flush=True)
time.sleep(600)
"""


def test_warm_kernels_stop_when_the_process_that_started_them_is_killed(tmp_path: Path) -> None:
    import signal
    import sys
    import time

    manager = subprocess.Popen([sys.executable, "-c", MANAGER_THAT_DIES], stdout=subprocess.PIPE, text=True,
                               cwd=tmp_path, env={**os.environ, "LABKIT_WARM_KERNELS": "1"})
    try:
        kernel_pid = int(manager.stdout.readline())  # type: ignore[union-attr]
        assert Path(f"/proc/{kernel_pid}").exists()
        assert int(Path(f"/proc/{kernel_pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) != manager.pid
    finally:
        manager.send_signal(signal.SIGKILL)
        manager.wait()
    deadline = time.monotonic() + 15
    while Path(f"/proc/{kernel_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{kernel_pid}").exists(), "the kernel outlived the process that started it"
