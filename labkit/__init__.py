"""labkit: the helper package behind the pgtls-lab notebooks.

It starts a real PostgreSQL with TLS (local binaries or Docker), builds the lab PKI, applies the guide's
server layers, tries client connections and explains what the server and the client report.
"""
from .errors import InvalidValue, LabkitError
from .server import LabServer

__all__ = ["InvalidValue", "LabkitError", "LabServer", "__version__"]

try:
    from importlib.metadata import version as _version

    __version__ = _version("pgtls-lab")
except Exception:  # noqa: BLE001 - running from a source tree
    __version__ = "0.1.0.dev0"
