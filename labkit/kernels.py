"""Jupyter kernels that talk to their client over Unix sockets, never over TCP ports.

jupyter_client's default transport picks five free TCP ports by binding and releasing them, then hands
them to the kernel, which binds them again. On a shared machine another process can take one in between
and the kernel dies before it answers (seen under load as "Kernel died before replying to kernel_info").
The ``ipc`` transport uses socket files instead; each kernel gets them in a private directory, so two
runs, two users or two suites cannot collide. Used by :mod:`labkit.runner` (papermill) and by the test
suite's nbval kernels.

Kernels start warm: a kernel is a fork of a process that has already imported what lessons import
(:mod:`labkit.kernel_zygote`), one such process per interpreter and import environment, started with
the first kernel. Measured on 2 cores, that is about 0.8 s of CPU less per kernel; the suite starts over
200 of them. A kernel that cannot start that way (another interpreter's launcher, a notebook folder that
would shadow a preloaded package, a stream asked for as a pipe, a zygote that failed) starts the
ordinary way. ``LABKIT_WARM_KERNELS=0`` starts every kernel the ordinary way.
"""
from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from jupyter_client.manager import AsyncKernelManager, KernelManager
from jupyter_client.provisioning import LocalProvisioner

#: What a lesson kernel imports before its first cell does any work: the zygote imports these once.
#: Not matplotlib: it reads the backend ipykernel chooses at start-up when it is imported. The Docker SDK and
#: ipykernel's debugger were each kernel's largest imports left (0.16 s and 0.08 s, profiled in a kernel):
#: every new lab looks for a container of its workspace, and every kernel builds its debugger.
PRELOADED = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "pandas", "pandas.io.formats.style",
             "labkit.lesson", "labkit.client", "labkit.tables", "labkit.enumeration", "labkit.layers",
             "labkit.transaction", "sslyze", "cryptography.x509", "psycopg", "docker", "ipykernel.debugger")
#: A file or folder of these names beside a notebook would be imported instead of the preloaded one.
_SHADOWABLE = {name.split(".")[0] for name in PRELOADED} | {"ipykernel_launcher", "IPython", "numpy", "zmq",
                                                            "jupyter_client", "traitlets", "tornado"}
#: Variables that change what an interpreter imports: kernels share a zygote only when these agree.
_IMPORT_VARIABLES = re.compile(r"PYTHON|IPYTHON|LD_|OPENBLAS_|OMP_|MKL_")
_LAUNCHER = ["-m", "ipykernel_launcher"]
_ZYGOTE_SCRIPT = Path(__file__).with_name("kernel_zygote.py")


def warm_kernels_enabled() -> bool:
    """Off only when ``LABKIT_WARM_KERNELS`` is ``0`` (or ``false``/``no``/``off``)."""
    return os.environ.get("LABKIT_WARM_KERNELS", "1").strip().lower() not in ("0", "false", "no", "off")


class ForkedKernel:
    """What jupyter_client's LocalProvisioner uses of a ``Popen``, for a kernel a zygote forked: only the
    zygote can collect its exit code, and hands it over."""

    stdin = stdout = stderr = None

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote, self.pid = zygote, pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.zygote.exit_code(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout or 0)
            time.sleep(0.02)
        return code

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """One warm process (:mod:`labkit.kernel_zygote`) and the socket to it; forks kernels on request."""

    def __init__(self, interpreter: list[str], env: dict[str, str]) -> None:
        self._channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._lock = threading.Lock()
        self._exits: dict[int, int] = {}
        self.closed = False
        try:
            # Its own session: a Ctrl-C at the terminal is the runner's to handle, not a reason for the
            # zygote (and with it every kernel it forked) to go.
            self.process = subprocess.Popen([*interpreter, str(_ZYGOTE_SCRIPT), str(theirs.fileno()), *PRELOADED],
                                            pass_fds=[theirs.fileno()], env=env, cwd="/", stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                            start_new_session=True)
        finally:
            theirs.close()
        try:
            ready = self._next_reply(timeout=120)
            if "ready" not in ready:
                raise OSError(f"the kernel zygote did not start: {ready}")
        except OSError:
            self.process.kill()  # no half-started zygote left behind; kernels of this key start cold
            self._channel.close()
            raise
        self.loaded: list[str] = ready["loaded"]
        self.failed: list[str] = ready["failed"]

    def launch(self, args: list[str], env: dict[str, str], cwd: str, streams: list[int]) -> ForkedKernel:
        with self._lock:
            socket.send_fds(self._channel, [json.dumps({"args": args, "env": env, "cwd": cwd}).encode()], streams)
            reply = self._next_reply(timeout=60)
        if "pid" not in reply:
            raise OSError(f"the kernel zygote could not fork a kernel: {reply}")
        return ForkedKernel(self, reply["pid"])

    def exit_code(self, pid: int) -> int | None:
        """The kernel's exit code once the zygote has collected it, else None (still running)."""
        with self._lock:
            self._read_available()
        if pid in self._exits:
            return self._exits[pid]
        if self.closed:  # the zygote went before reporting: the kernel, with no parent left, stops too
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return -signal.SIGKILL
        return None

    def alive(self) -> bool:
        return not self.closed and self.process.poll() is None

    def _next_reply(self, timeout: float) -> dict[str, Any]:
        """The next message that is not an exit report (those are kept for :meth:`exit_code`)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._channel], [], [], remaining)[0]:
                raise OSError(f"the kernel zygote did not answer within {timeout:.0f} s")
            message = self._receive()
            if message is None:
                raise OSError("the kernel zygote exited")
            if "exited" not in message:
                return message

    def _read_available(self) -> None:
        while not self.closed and select.select([self._channel], [], [], 0)[0]:
            if self._receive() is None:
                return

    def _receive(self) -> dict[str, Any] | None:
        data = self._channel.recv(1 << 16)
        if not data:
            self.closed = True
            return None
        message = json.loads(data)
        if "exited" in message:
            self._exits[message["exited"]] = message["code"]
        return message


class WarmKernels:
    """The zygotes of this process, one per interpreter and import environment, made on first use."""

    def __init__(self) -> None:
        self._zygotes: dict[tuple[Any, ...], Zygote | None] = {}
        self._lock = threading.Lock()
        self._owner = os.getpid()

    def launch(self, kernel_cmd: list[str], options: dict[str, Any]) -> ForkedKernel | None:
        """A forked kernel for jupyter_client's launch command and options, or None to start it the
        ordinary way."""
        if not warm_kernels_enabled():
            return None
        parsed = _parse(kernel_cmd, options)
        if parsed is None:
            return None
        interpreter, args, env, cwd, streams = parsed
        zygote = self._zygote(interpreter, env)
        if zygote is None:
            return None
        try:
            return zygote.launch(args, env, cwd, streams)
        except OSError:
            return None
        finally:
            for fd in streams:
                os.close(fd)

    def _zygote(self, interpreter: list[str], env: dict[str, str]) -> Zygote | None:
        key = (tuple(interpreter), tuple(sorted((k, v) for k, v in env.items() if _IMPORT_VARIABLES.match(k))))
        with self._lock:
            if os.getpid() != self._owner:  # a forked copy of the manager: the zygotes are its parent's
                self._zygotes, self._owner = {}, os.getpid()
            known = self._zygotes.get(key)
            if key not in self._zygotes or (known is not None and not known.alive()):
                try:
                    known = Zygote(interpreter, env)
                except OSError:
                    known = None  # not tried again: every kernel of this key starts the ordinary way
                self._zygotes[key] = known
            return known


def _parse(kernel_cmd: list[str], options: dict[str, Any]
           ) -> tuple[list[str], list[str], dict[str, str], str, list[int]] | None:
    """(interpreter with its flags, launcher arguments, environment, folder, three stream descriptors of
    our own), or None when this launch is not one a zygote can make."""
    if set(options) - {"env", "cwd", "stdin", "stdout", "stderr", "independent"} or options.get("independent"):
        return None
    starts = [i for i in range(1, len(kernel_cmd) - 1) if kernel_cmd[i:i + 2] == _LAUNCHER]
    if not starts or not all(flag.startswith("-") for flag in kernel_cmd[1:starts[0]]):
        return None
    cwd = os.path.abspath(options.get("cwd") or os.getcwd())
    if any(os.path.exists(os.path.join(cwd, name)) or os.path.exists(os.path.join(cwd, f"{name}.py"))
           for name in _SHADOWABLE):
        return None
    streams = [_stream(options.get(name), index) for index, name in enumerate(("stdin", "stdout", "stderr"))]
    if None in streams:
        for fd in streams:
            if fd is not None:
                os.close(fd)
        return None
    env = dict(options.get("env") or os.environ)
    return kernel_cmd[:starts[0]], kernel_cmd[starts[0] + 2:], env, cwd, streams  # type: ignore[return-value]


def _stream(given: int | IO[Any] | None, index: int) -> int | None:
    """A descriptor of our own for a kernel's stdin/stdout/stderr as Popen would take it; None for a pipe
    (a caller that reads the kernel's output starts it the ordinary way)."""
    if given is None:
        # stdin: jupyter_client gives the kernel a pipe it closes at once; /dev/null reads the same
        return os.open(os.devnull, os.O_RDONLY) if index == 0 else os.dup(index)
    if given == subprocess.DEVNULL:
        return os.open(os.devnull, os.O_RDONLY if index == 0 else os.O_WRONLY)
    if isinstance(given, int):
        return os.dup(given) if given >= 0 else None
    try:
        return os.dup(given.fileno())
    except (AttributeError, OSError, ValueError):
        return None


_WARM = WarmKernels()


class _PrivateIpcChannels:
    """Channels as Unix sockets under a private, absolute folder (the kernel runs in the notebook's
    folder and the client elsewhere, so a relative prefix would not meet), removed at shutdown."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[call-arg]
        self.transport = "ipc"
        self._socket_dir = tempfile.mkdtemp(prefix="labkit-kernel-")
        self.ip = f"{self._socket_dir}/k"

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        """A warm kernel when it can be had (the module's docstring), else jupyter_client's own launch."""
        provisioner = self.provisioner  # type: ignore[attr-defined]
        process = _WARM.launch(kernel_cmd, kw) if type(provisioner) is LocalProvisioner else None
        if process is None:
            await super()._async_launch_kernel(kernel_cmd, **kw)  # type: ignore[misc]
            return
        provisioner.process, provisioner.pid, provisioner.pgid = process, process.pid, process.pid
        provisioner.cwd = kw.get("cwd") or os.getcwd()
        self._reconcile_connection_info(provisioner.connection_info)  # type: ignore[attr-defined]

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
