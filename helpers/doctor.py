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

    from .connection import ConnLike

from . import broker, clients, connection, disk, jarcache, java
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


def run_checks(bootstrap: "ConnLike | None" = None, timeout: float = 10.0, port: int | None = None) -> list[Check]:
    """Run every check; the broker checked is ``bootstrap`` (a connection or an address), else
    127.0.0.1:``port``, else $KAFKA_CONFIG, $KAFKA_BOOTSTRAP_SERVERS or the embedded one on the default port."""
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
    external = bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or os.environ.get("KAFKA_CONFIG"))
    only_some = " (needed for the embedded broker, kafka-topics in 02, Kafka 4 in 05, the Java baseline in 06)"
    try:
        found = java.find_java()
        checks.append(Check("java", True, f"{found.describe()} runs the brokers (3.9 and 4.x)"))
    except WorkbookError as exc:
        checks.append(Check("java", False, exc.what + (only_some if external else ""), exc.fix, optional=external))
    checks.extend(_jar_checks(external, only_some))
    checks.append(_disk_check())
    if port is not None and not bootstrap:
        bootstrap = f"{broker.HOST}:{port}"
    address = bootstrap or connection.from_env() or broker.bootstrap()
    try:
        info = broker.check_reachable(address, timeout=timeout)
        produce = info.api_versions.get(0)
        speaks = f"Produce v{produce[0]}-v{produce[1]}" if produce else "no Produce API"
        checks.append(Check("broker", True, f"Kafka answers at {info.address} ({speaks}, {info.seconds * 1000:.0f} ms)"))
    except WorkbookError as exc:
        embedded = not external and (not bootstrap or port is not None)
        what, fix = exc.what, exc.fix
        if embedded:
            p = port if port is not None else broker.DEFAULT_PORT
            st = broker.status(p)
            fix = f"start it: make broker (or python -m helpers broker start --port {p})"
            if "reason" in st:  # our broker was running there and died: say why, from its log
                what, fix = f"{what}; the embedded broker on port {p} stopped: {st['reason']}", str(st["fix"])
        checks.append(Check("broker", False, what, fix))
    return checks


def _jar_checks(external: bool, only_some: str) -> list[Check]:
    """The jar cache of each Kafka version the lessons run: complete and every jar's SHA-1 intact."""
    from .compat import KAFKA4_VERSION

    out = []
    via = jarcache.route()
    if via == "maven":
        how = f"Maven ({shutil.which('mvn')})"
    else:
        try:
            from importlib.metadata import version as _v

            how = f"the pure-Python resolver (jgo {_v('jgo')}), no Maven on PATH"
        except Exception:  # jgo not installed
            how = ""
    for version in (broker.DEFAULT_VERSION, KAFKA4_VERSION):
        name = f"kafka {version} jars"
        problems = jarcache.verify(version)
        data = jarcache.read_manifest(version)
        if not problems:
            assert data is not None
            checked = sum(1 for e in data["jars"].values() if e.get("published_sha1"))
            out.append(Check(name, True, f"{len(data['jars'])} jars intact in {jarcache.jar_dir(version)} "
                                         f"(SHA-1: {checked} checked against Maven Central's at download, all against the manifest)"))
        elif data is None and how:
            out.append(Check(name, True, f"not fetched yet; {how} fetches them at first start (make setup)"))
        elif data is None:
            out.append(Check(name, False, "not fetched, and neither Maven nor jgo is installed" + (only_some if external else ""),
                             "run `make setup` (it installs jgo), or install Maven", optional=external))
        else:
            out.append(Check(name, False, f"{problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
                             f"fetch them again: {jarcache.refetch_command(version)}" + (f" (via {how})" if how else "")))
    return out


def _disk_check() -> Check:
    """Free space and write access where the jars and the broker's data live."""
    where = jarcache.home()
    try:
        disk.check_writable(where, "checking the workbook's home")
    except WorkbookError as exc:
        return Check("disk", False, exc.what, exc.fix)
    free = disk.free_mb(where)
    if free < disk.NEEDED_MB:
        return Check("disk", False, f"only {free:.0f} MB free on the disk holding {disk.existing_parent(where)}",
                     f"free some space (the jars and a broker need about {disk.NEEDED_MB} MB), "
                     "or point KFP_HOME at a disk with room")
    return Check("disk", True, f"{free / 1000:.1f} GB free for {where} (jars and broker data need about {disk.NEEDED_MB} MB)")


def main(bootstrap: str | None = None, port: int | None = None) -> int:
    """Print the report; exit status 1 when any check found a problem."""
    checks = run_checks(bootstrap, port=port)
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
