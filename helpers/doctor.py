"""``python -m helpers doctor``: is this machine ready for the workshop?

Each check gives one line: ``ok`` with what it found, ``PROBLEM`` with what to do, or ``note``
for something missing that only some lessons need (Java and the jars, when an external broker
such as the Docker one is configured).
"""
from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from . import broker, clients
from .errors import WorkbookError


@dataclass
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    optional: bool = False

    @property
    def problem(self) -> bool:
        """True when this check failed and the workshop cannot run without it."""
        return not self.ok and not self.optional

    def line(self) -> str:
        mark = "ok     " if self.ok else "note   " if self.optional else "PROBLEM"
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
    # with an external broker, Java and the jars serve only kafka-topics (02), Kafka 4 (05) and Java's benchmark (06)
    external = bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    only_some = " (needed for the embedded broker, kafka-topics in 02, Kafka 4 in 05, the Java baseline in 06)"
    try:
        java, major = broker.find_java()
        checks.append(Check("java", True, f"Java {major} at {java}"))
    except WorkbookError as exc:
        checks.append(Check("java", False, exc.what + (only_some if external else ""), exc.fix, optional=external))
    if broker.jars_ok():
        checks.append(Check("kafka jars", True, f"Kafka {broker.DEFAULT_VERSION} cached in {broker.jar_dir()}"))
    elif shutil.which("mvn"):
        checks.append(Check("kafka jars", True, "not cached yet; Maven will fetch them at first start (make setup)"))
    else:
        checks.append(Check("kafka jars", False, "not cached and Maven is missing" + (only_some if external else ""),
                            "install Maven (apt-get install maven / brew install maven), or use Docker",
                            optional=external))
    address = bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or broker.bootstrap()
    try:
        info = broker.check_reachable(address, timeout=timeout)
        produce = info.api_versions.get(0)
        speaks = f"Produce v{produce[0]}-v{produce[1]}" if produce else "no Produce API"
        checks.append(Check("broker", True, f"Kafka answers at {info.address} ({speaks}, {info.seconds * 1000:.0f} ms)"))
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
    bad = [c for c in checks if c.problem]
    print(f"{len(bad)} problem(s) found." if bad else "All checks passed.")
    return 1 if bad else 0


def as_frame(checks: list[Check]) -> "pd.DataFrame":
    """The report as a pandas DataFrame (status, check, detail, fix) for a notebook."""
    import pandas as pd

    return pd.DataFrame([{"status": c.line().split()[0], "check": c.name, "found": c.detail, "fix": c.fix}
                         for c in checks])
