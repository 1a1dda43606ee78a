"""Reading the small YAML files users hand to labkit (``labkit run -f params.yaml``, ``labkit audit -f
targets.yaml``), with errors that name the file and say what it should hold."""
from __future__ import annotations

from pathlib import Path

from .errors import LabkitError


def read_yaml_file(path: Path, what: str, shape_hint: str) -> object:
    """The parsed document (``None`` for an empty file); ``what`` names the file in errors ("parameter
    file"), ``shape_hint`` says what to write in it."""
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabkitError(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}",
                          "give an existing YAML file with -f") from exc
    except yaml.YAMLError as exc:
        raise LabkitError(f"{what} {str(path)!r} is not valid YAML: {exc}", shape_hint) from exc
