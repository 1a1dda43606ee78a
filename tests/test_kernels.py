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
