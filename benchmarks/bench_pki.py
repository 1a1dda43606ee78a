"""How long the lab PKI takes to make and to reuse: ``python benchmarks/bench_pki.py``.

The course promises that ``LabPKI.ensure`` is cheap enough to call at the top of every notebook, and that a
full ECDSA PKI is made in at most 100 ms on a 2-core machine. This prints the median of 5 runs (ms) for a
full generation with ECDSA P-256 and RSA-2048 (over an existing tree with ``regenerate=True``, and into a
new directory), the reuse path, and describe().
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

try:
    import labkit.pki  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labkit.pki import LabPKI

RUNS = 5
BUDGET_ECDSA_MS = 100.0


def median_ms(action: Callable[[], object], runs: int = RUNS) -> float:
    """Median wall time of ``runs`` calls, in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-pki-") as tmp:
        results: dict[str, float] = {}
        for key_type in ("ecdsa-p256", "rsa-2048"):
            root = Path(tmp) / key_type
            LabPKI.ensure(root, key_type=key_type)  # warm up: imports, first directory creation
            results[f"generate {key_type}"] = median_ms(lambda: LabPKI.ensure(root, key_type=key_type, regenerate=True))
            fresh = iter(range(RUNS))
            results[f"generate {key_type}, new dir"] = median_ms(
                lambda: LabPKI.ensure(Path(tmp) / f"{key_type}-new-{next(fresh)}", key_type=key_type)
            )
            results[f"reuse {key_type}"] = median_ms(lambda: LabPKI.ensure(root, key_type=key_type))
        pki = LabPKI.ensure(Path(tmp) / "ecdsa-p256")
        pki.describe()  # warm up: the pandas import
        results["describe ecdsa-p256"] = median_ms(pki.describe)

    width = max(map(len, results))
    print(f"median of {RUNS} runs")
    for label, ms in results.items():
        print(f"  {label:<{width}}  {ms:9.2f} ms")
    within = results["generate ecdsa-p256"] <= BUDGET_ECDSA_MS
    print(f"ECDSA full generation {'within' if within else 'OVER'} the {BUDGET_ECDSA_MS:.0f} ms budget")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
