"""The warm process lesson kernels are forked from (run as a script by :mod:`labkit.kernels`, never imported).

It runs in the kernel's own interpreter, imports once what every lesson imports (ipykernel's shell,
pandas, labkit, sslyze, cryptography, psycopg: about 0.8 s of CPU per kernel otherwise), then waits on
one Unix socket for launch requests. Each request is a kernel's arguments, folder and whole environment
plus its three standard streams (passed as file descriptors); the answer is the pid of a fork that has
taken all of those on and runs ipykernel exactly as ``python -m ipykernel_launcher`` would. When a kernel
exits, its exit code goes back on the same socket, since only a parent can collect it.

Standard library only until the preloads: a preload missing from this interpreter is skipped, not fatal.
The process ends when its manager closes the socket (the manager exited); its kernels then see their
parent go, as ipykernel kernels do, and stop.

Usage (by labkit.kernels): ``python [interpreter flags] kernel_zygote.py FD MODULE...``
"""
import sys

if __name__ == "__main__":
    del sys.path[0]  # this file's folder (labkit/) must not shadow anything a kernel imports

import gc  # noqa: E402 - after the path fix on purpose
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import runpy  # noqa: E402
import select  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402

#: The largest request: a kernel's environment as JSON, far below this.
MAX_MESSAGE = 1 << 20


class _KernelShellStandIn:
    """What ``get_ipython()`` returns inside a Jupyter kernel, as far as an import asks: pandas decides its
    display defaults when imported (``display.max_columns`` is 20 in a kernel, 0 in a terminal) by
    looking for a shell with a ``kernel``. The zygote imports it for kernels, so it answers as they will."""

    kernel = True


def _preload(modules: list[str]) -> tuple[list[str], list[str]]:
    import builtins

    loaded, failed = [], []
    builtins.get_ipython = _KernelShellStandIn  # type: ignore[attr-defined]
    try:
        for name in modules:
            try:
                importlib.import_module(name)
                loaded.append(name)
            except Exception as exc:  # noqa: BLE001 - a kernel imports it itself, or fails there as it would
                failed.append(f"{name}: {type(exc).__name__}: {exc}")
    finally:
        del builtins.get_ipython  # type: ignore[attr-defined]  # IPython's own arrives with the kernel's shell
    return loaded, failed


def _send(channel: socket.socket, message: dict) -> None:
    channel.send(json.dumps(message).encode())


def _reap(channel: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(channel, {"exited": pid, "code": os.waitstatus_to_exitcode(status)})


def _serve(channel: socket.socket) -> tuple[dict, list[int], list[int]] | None:
    """Fork a kernel per request. Returns only in a forked child (its request, its streams, and the zygote's
    own descriptors to close), or None once the manager has gone."""
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)  # wakes select() through the pipe
    while True:
        readable, _, _ = select.select([channel, wake_read], [], [])
        if wake_read in readable:
            while True:
                try:
                    if not os.read(wake_read, 512):
                        break
                except BlockingIOError:
                    break
            _reap(channel)
        if channel not in readable:
            continue
        data, fds, _flags, _address = socket.recv_fds(channel, MAX_MESSAGE, 3)
        if not data:
            return None
        try:
            request = json.loads(data)
            if len(fds) != 3:
                raise ValueError(f"3 standard streams expected, {len(fds)} received")
            pid = os.fork()
        except (ValueError, OSError) as exc:
            for fd in fds:
                os.close(fd)
            _send(channel, {"error": f"{type(exc).__name__}: {exc}"})
            continue
        if pid == 0:
            return request, fds, [channel.fileno(), wake_read, wake_write]
        for fd in fds:
            os.close(fd)
        _send(channel, {"pid": pid})


def _become_kernel(request: dict, streams: list[int], zygote_fds: list[int]) -> None:
    """In the fork: drop the zygote's signal set-up and descriptors, take on the kernel's session, streams,
    folder, environment and arguments, then run ipykernel's launcher as ``-m`` runs it."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in zygote_fds:
        os.close(fd)
    os.setsid()  # its own process group, as jupyter_client starts kernels: interrupts reach it and its children
    for target, fd in enumerate(streams):
        os.dup2(fd, target)
    for fd in set(streams) - {0, 1, 2}:
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    # ipykernel stops when its parent goes; it read JPY_PARENT_PID when the zygote imported it, so say it again
    os.environ["JPY_PARENT_PID"] = parent = str(os.getppid())
    sys.path.insert(0, os.getcwd())  # what `python -m` puts first
    sys.argv = ["ipykernel_launcher", *request["args"], f"--IPKernelApp.parent_handle={parent}"]
    runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)


def _freeze_preloaded() -> None:
    """Move what the preloads made out of the collector's reach, as :func:`gc.freeze` is meant for a
    process that forks without exec. Otherwise every kernel's full collections (one at least, when IPython
    resets at exit) walk and touch the whole inherited heap, about 125,000 objects: 0.11 s of CPU for a
    kernel's first collection measured here, 0.00005 s frozen; touching them also copies the pages forks
    share."""
    gc.collect()  # the imports' own garbage goes now rather than stay frozen in every kernel
    gc.freeze()


def main(fd: int, modules: list[str]) -> None:
    channel = socket.socket(fileno=fd)
    loaded, failed = _preload(modules)
    _freeze_preloaded()
    _send(channel, {"ready": os.getpid(), "loaded": loaded, "failed": failed})
    job = _serve(channel)
    if job is not None:
        _become_kernel(*job)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2:])
