"""Jupyter kernels that talk to their client over Unix sockets, never over TCP ports.

jupyter_client's default transport picks five free TCP ports by binding and releasing them, then hands
them to the kernel, which binds them again. On a shared machine another process can take one in between
and the kernel dies before it answers (seen under load as "Kernel died before replying to kernel_info").
The ``ipc`` transport uses socket files instead; each kernel gets them in a private directory, so two
runs, two users or two suites cannot collide. Used by :mod:`labkit.runner` (papermill) and by the test
suite's nbval kernels.
"""
from __future__ import annotations

import shutil
import tempfile
from typing import Any

from jupyter_client.manager import AsyncKernelManager, KernelManager


class _PrivateIpcChannels:
    """Channels as Unix sockets under a private, absolute folder (the kernel runs in the notebook's
    folder and the client elsewhere, so a relative prefix would not meet), removed at shutdown."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[call-arg]
        self.transport = "ipc"
        self._socket_dir = tempfile.mkdtemp(prefix="labkit-kernel-")
        self.ip = f"{self._socket_dir}/k"

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)  # type: ignore[misc]
        if not restart:
            shutil.rmtree(self._socket_dir, ignore_errors=True)


class IpcKernelManager(_PrivateIpcChannels, KernelManager):
    """For synchronous callers (nbval)."""


class AsyncIpcKernelManager(_PrivateIpcChannels, AsyncKernelManager):
    """For nbclient and papermill."""


#: What nbclient/papermill take as ``kernel_manager_class`` (every notebook labkit executes uses it).
NOTEBOOK_KERNEL_MANAGER = f"{__name__}.AsyncIpcKernelManager"
