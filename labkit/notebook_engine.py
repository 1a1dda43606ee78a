"""The papermill engine labkit executes notebooks with: nbclient's, writing the executed notebook once.

Papermill's own engine writes the whole output notebook before and after every cell, so that someone
watching the file sees progress. Nobody watches a lesson's file while it runs: the runner reads it when
the lesson has ended. Each write serialises and schema-validates the notebook, outputs included, and
profiled over the 26 lessons of one ``labkit run`` those writes were about 6 s of the runner's 20 s of
CPU. This engine keeps the two writes that matter: the parameterised notebook before the first cell, and
the final one, which papermill's engine makes in a ``finally`` and so also after a timed-out cell or a
kernel that died (that is where the runner finds which cell it was).
"""
from __future__ import annotations

from typing import Any

from papermill.engines import NBClientEngine, papermill_engines

#: The name to pass as papermill's ``engine_name``.
ENGINE_NAME = "labkit"


class FinalWriteEngine(NBClientEngine):
    """nbclient's engine without the per-cell writes (the module's docstring says why)."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
        output_path, nb_man.output_path = nb_man.output_path, None  # no output path: save() writes nothing
        try:
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
        finally:
            nb_man.output_path = output_path  # for the final write, which follows in the caller's finally


papermill_engines.register(ENGINE_NAME, FinalWriteEngine)
