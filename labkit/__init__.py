"""labkit: the helper package behind the pgtls-lab notebooks -- one front door, ``import labkit as lk``.

It starts a real PostgreSQL with TLS (local binaries or Docker), builds the lab PKI, applies the guide's
server layers, tries client connections and explains what the server and the client report::

    import labkit as lk
    lesson = lk.begin()                                   # lab + PKI + course roles, parameters checked
    lk.apply(lesson.lab, lk.layers.layer_ssl_on(lesson.pki))
    result = lk.attempt(lesson.lab, sslmode="verify-full", sslrootcert=lesson.pki.paths.combined_crt)
    lk.tables.verdicts([result])

Names and topic modules are imported on first use (PEP 562), so ``import labkit`` stays cheap for a kernel
that only needs a few of them. See ARCHITECTURE.md for the rooms and the one-way arrows between them.
"""
from __future__ import annotations

import importlib
from typing import Any

from .errors import InvalidValue, LabkitError

#: Topic modules reachable as ``lk.<name>``.
MODULES: tuple[str, ...] = (
    "ca", "capture", "catalogue", "client", "client_files", "client_trust", "doctor", "enumeration", "environment", "errors",
    "exercises", "guide", "handshake", "hba", "i18n", "keylog", "layers", "lesson", "matrix", "messages", "mitm",
    "monitoring", "pki", "quoting", "roles", "scenarios",
    "server", "tables", "transaction",
)

#: The verbs and types a lesson uses most, by the module that owns them.
NAMES: dict[str, tuple[str, str]] = {
    "begin": ("lesson", "begin"), "Lesson": ("lesson", "Lesson"),
    "check_bool": ("lesson", "check_bool"), "check_choice": ("lesson", "check_choice"),
    "check_int": ("lesson", "check_int"), "TLS_VERSIONS": ("handshake", "VERSIONS"),
    "apply": ("transaction", "apply"), "revert": ("transaction", "revert"), "applied": ("transaction", "applied"),
    "attempt": ("client", "attempt"), "session": ("client", "session"), "SSLMODES": ("client", "SSLMODES"),
    "AttemptResult": ("client", "AttemptResult"), "LabServer": ("server", "LabServer"),
    "ReloadResult": ("server", "ReloadResult"), "LabPKI": ("pki", "LabPKI"), "CA": ("ca", "CA"),
}

__all__ = ["InvalidValue", "LabkitError", "MODULES", "NAMES", "__version__", *MODULES, *NAMES]


def __getattr__(name: str) -> Any:
    if name in MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in NAMES:
        module, attribute = NAMES[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(MODULES) | set(NAMES))


try:
    from importlib.metadata import version as _version

    __version__ = _version("pgtls-lab")
except Exception:  # noqa: BLE001 - running from a source tree
    __version__ = "0.1.0.dev0"
