"""``python -m helpers doctor``: is this machine ready for the workshop?

Each check gives one line: ``ok`` with what it found, or ``PROBLEM`` with what to do.
"""
from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass

from . import broker, clients
from .errors import WorkbookError


@dataclass
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "ok     " if self.ok else "PROBLEM"
        return f"{mark} {self.name:<18} {self.detail}" + (f" -> {self.fix}" if self.fix else "")


def run_checks(bootstrap: str | None = None, timeout: float = 10.0) -> list[Check]:
    """Run every check; ``bootstrap`` defaults to $KAFKA_BOOTSTRAP_SERVERS or the embedded broker."""
    checks = []
    v = sys.version_info
    checks.append(Check("python", v >= (3, 11), sys.version.split()[0],
                        "" if v >= (3, 11) else "use Python 3.11+ (make setup picks python3.11 when present)"))
    for name, version in clients.versions().items():
        if name == "pykafka rdkafka":
            checks.append(Check(name, True, version + ("" if version == "built" else " (optional: only the rdkafka variants need it)")))
        else:
            ok = version != "missing"
            checks.append(Check(name, ok, version, "" if ok else "run `make setup` (pip install -e .)"))
    try:
        java, major = broker.find_java()
        checks.append(Check("java", True, f"Java {major} at {java}"))
    except WorkbookError as exc:
        checks.append(Check("java", False, exc.what, exc.fix))
    if broker.jars_ok():
        checks.append(Check("kafka jars", True, f"Kafka {broker.DEFAULT_VERSION} cached in {broker.jar_dir()}"))
    elif shutil.which("mvn"):
        checks.append(Check("kafka jars", True, "not cached yet; Maven will fetch them at first start (make setup)"))
    else:
        checks.append(Check("kafka jars", False, "not cached and Maven is missing",
                            "install Maven (apt-get install maven / brew install maven), or use Docker"))
    address = bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or broker.bootstrap()
    try:
        info = broker.check_reachable(address, timeout=timeout)
        produce = info.api_versions.get(0, (0, 0))
        checks.append(Check("broker", True, f"Kafka answers at {address} (Produce v{produce[0]}-v{produce[1]}, "
                                            f"{info.seconds * 1000:.0f} ms)"))
    except WorkbookError as exc:
        embedded = not os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and not bootstrap
        fix = "start it: make broker (or python -m helpers broker start)" if embedded else exc.fix
        checks.append(Check("broker", False, exc.what, fix))
    return checks


def main(bootstrap: str | None = None) -> int:
    """Print the report; exit status 1 when any check found a problem."""
    checks = run_checks(bootstrap)
    for c in checks:
        print(c.line())
    bad = [c for c in checks if not c.ok]
    print(f"{len(bad)} problem(s) found." if bad else "All checks passed.")
    return 1 if bad else 0


def as_frame(checks: list[Check]):
    """The report as a pandas DataFrame (status, check, detail, fix) for a notebook."""
    import pandas as pd

    return pd.DataFrame([{"status": "ok" if c.ok else "PROBLEM", "check": c.name, "found": c.detail, "fix": c.fix}
                         for c in checks])
