"""helpers.bench on the real broker: message accounting per variant, the CSV schema, the CLI's errors.

No test here asserts a speed: the machine is shared and noisy. They assert counts, columns and messages.
``bootstrap`` is the session's Connection (under make test-secure a TLS one: every worker, Java and kcat included,
must reach the broker through it).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from helpers import admin, bench, bench_profiles, bench_workers
from helpers.__main__ import main as cli_main
from helpers.connection import Connection, ck_conf

N = 3000  # enough for every client to need several fetches, small enough to stay quick


@pytest.mark.parametrize("client", bench.CLIENTS)
def test_every_variant_accounts_for_every_message(bootstrap: Connection, client: str) -> None:
    rows = bench.run_variant(client, bootstrap, N, 100, "tuned", timeout=60)
    assert [r["role"] for r in rows] == ["produce", "consume"]
    why = bench.unavailable(client, bootstrap)
    if why:  # e.g. pykafka's C extension not built: recorded as skipped, with the reason, never a figure
        assert all(r["status"] == "skipped" and r["error"] == why and r["msgs_per_s"] is None for r in rows)
        pytest.skip(why)
    for r in rows:
        assert r["status"] == "ok", r["error"]
        assert r["messages"] == N
        assert r["msgs_per_s"] > 0 and r["seconds"] > 0
        assert r["profile"] == "tuned" and json.loads(r["settings"]) == json.loads(bench_profiles.describe(
            bench_profiles.settings(client, r["role"], "tuned")))
        assert r["client_cpu_s"] > 0 and r["load_1m"] >= 0
        if bench.broker_pid(bootstrap) is not None:  # an embedded broker: its CPU is sampled
            assert r["broker_cpu_s"] is not None
    if client != "kcat":
        assert rows[1]["startup_s"] is not None and rows[1]["startup_s"] >= 0


def test_variant_topics_are_deleted(bootstrap: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    """The exact topic the variant created is gone afterwards (other runs on the broker do not matter)."""
    made: list[str] = []
    real = admin.unique_topic

    def recording(prefix: str = "lesson") -> str:
        made.append(real(prefix))
        return made[-1]

    monkeypatch.setattr(admin, "unique_topic", recording)
    rows = bench.run_variant("confluent-kafka", bootstrap, 500, 100, "defaults")
    assert [r["status"] for r in rows] == ["ok", "ok"] and rows[0]["settings"] == "{}"
    assert len(made) == 1 and made[0].startswith("bench-confluent-kafka-")
    assert made[0] not in admin.list_topics(bootstrap)


def test_a_short_count_is_lost_and_fails_the_run(bootstrap: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    """The broker 'holds' one message fewer than sent: produce is lost, consume skipped, run() raises."""
    monkeypatch.setattr(bench, "stored_count", lambda bootstrap, topic: 499)
    with pytest.raises(bench.MessageLossError, match="confluent-kafka tuned produce #1: sent 500 but the broker holds 499") as e:
        bench.run(["confluent-kafka"], messages=500, bootstrap=bootstrap, progress=False, profiles=["tuned"])
    rows = e.value.rows  # type: ignore[attr-defined]
    assert rows["status"].tolist() == ["lost", "skipped"]
    assert rows["msgs_per_s"].isna().all()


def test_a_row_without_a_time_is_an_error_not_ok() -> None:
    row = bench._row("confluent-kafka", "tuned", "consume", 1, 100, 1, {}, bench.Measurement("ok", 0.0, 10), 10,
                     "now", 0.5, 0)
    assert row["status"] == "error" and row["msgs_per_s"] is None and "no time measured" in row["error"]


def test_stored_count_and_warm_read_count_real_records(bootstrap: Connection, topic: str) -> None:
    from confluent_kafka import Producer

    p = Producer(ck_conf(bootstrap))
    for i in range(1234):
        p.produce(topic, b"x" * 10)
    assert p.flush(15) == 0
    assert bench.stored_count(bootstrap, topic) == 1234
    assert bench.warm_read(bootstrap, topic, 1234, timeout=15) == 1234


def _fill(bootstrap: Connection, topic: str, n: int) -> None:
    from confluent_kafka import Producer

    p = Producer(ck_conf(bootstrap))
    for _ in range(n):
        p.produce(topic, bench_workers.payload(100))
    assert p.flush(15) == 0


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka", "aiokafka"])
def test_consumer_asked_for_more_than_stored_reports_it(bootstrap: Connection, topic: str, client: str) -> None:
    """A read that cannot reach its count ends at the deadline as 'lost', with the count it reached."""
    _fill(bootstrap, topic, 700)
    r = bench_workers.measure(client, "consume", bootstrap, topic, 710, 100, {}, timeout=6)
    assert r["status"] == "lost" and r["messages"] == 700
    assert "read 700 of 710" in r["error"]


@pytest.mark.parametrize("client", sorted(bench_workers.CONSUMERS))
def test_consumers_start_where_they_are_told(bootstrap: Connection, topic: str, client: str) -> None:
    """Records before offset 200 are deleted (low watermark 200). Told to start at 300 and read 401, each consumer
    finds exactly the 400 records from 300 on and reports the read as lost: it neither started at the low
    watermark nor looked an offset up."""
    from confluent_kafka import TopicPartition

    why = bench.unavailable(client, bootstrap)
    if why:
        pytest.skip(why)
    _fill(bootstrap, topic, 700)
    ac = admin.admin_client(bootstrap)  # keep a reference: the future needs the client alive
    fut = ac.delete_records([TopicPartition(topic, 0, 200)])
    list(fut.values())[0].result(timeout=15)
    assert bench.stored_count(bootstrap, topic) == 500
    conf = bench_profiles.settings(client, "consume", "defaults")
    r = bench_workers.measure(client, "consume", bootstrap, topic, 401, 100, conf, timeout=4, starts=[300])
    assert r["status"] == "lost", r
    assert r["messages"] == 400 and "read 400 of 401" in r["error"]


def test_lost_rows_fail_loudly() -> None:
    df = pd.DataFrame([{"client": "pykafka", "profile": "defaults", "role": "produce", "repetition": 1,
                        "status": "lost", "error": "sent 1,000 but the broker holds 900"}])
    with pytest.raises(bench.MessageLossError, match="pykafka defaults produce #1: sent 1,000 but the broker holds 900"):
        bench.check_accounting(df)


def test_payload_is_the_2016_payload() -> None:
    assert bench_workers.payload(100) == (b"kafkatest" * 20)[:100]
    assert len(bench_workers.payload(10_000)) == 10_000


def test_cli_writes_tidy_csv_and_environment(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    chosen = ["confluent-kafka"]  # Java's worker is covered by the every-variant test; JVMs are slow to start
    proc = subprocess.run([sys.executable, "-m", "helpers", "bench", "--messages", "2000", "--repeat", "2",
                           "--clients", *chosen, "--profile", "tuned", "--no-progress", "--out", str(out)],
                          capture_output=True, text=True, timeout=180, cwd=Path(__file__).parent.parent)
    assert proc.returncode == 0, proc.stderr
    df = pd.read_csv(out)
    assert list(df.columns) == list(bench.COLUMNS)
    assert len(df) == len(chosen) * 2 * 2  # clients x roles x repetitions
    assert set(df["profile"]) == {"tuned"}
    assert set(df["role"]) == {"produce", "consume"}
    assert sorted(df["repetition"].unique()) == [1, 2]
    assert (df["status"] == "ok").all(), df["error"].tolist()
    assert (df["messages"] == 2000).all() and (df["message_bytes"] == 100).all()
    # MiB/s follows from msgs/s and the size
    assert ((df["mb_per_s"] - df["msgs_per_s"] * 100 / 2**20).abs() < 0.01).all()
    env = json.loads(out.with_suffix(".json").read_text())
    for key in ("date", "cpu_model", "cores_logical", "python", "kafka_broker", "clients", "profiles",
                "load_average_after"):
        assert key in env
    assert env["kafka_broker"].startswith("3.9") and "metadata.version level 21" in env["kafka_broker"]
    assert env["clients"]["kafka-python"] == bench.client_version("kafka-python")
    summary = bench.summarise(df)
    assert "x Java" in proc.stdout and "cpu" in proc.stdout
    assert summary["of_java"].isna().all()  # no Java in this run: no ratio is invented


def test_ratios_are_per_repetition() -> None:
    df = pd.DataFrame({"client": ["java", "ck", "java", "ck", "java", "ck"], "profile": ["tuned"] * 6,
                       "role": ["produce"] * 6, "repetition": [1, 1, 2, 2, 3, 3], "status": ["ok"] * 6,
                       "msgs_per_s": [100.0, 200.0, 50.0, 200.0, 100.0, 50.0]})
    r = bench.ratios(df).set_index("client")
    # per repetition: 2.0, 4.0, 0.5 -> median 2.0 (the ratio of medians would be 200/100 = 2.0 too, but min/max differ)
    assert r.loc["ck", "of_java"] == 2.0 and r.loc["ck", "of_java_min"] == 0.5 and r.loc["ck", "of_java_max"] == 4.0
    assert r.loc["java", "of_java"] == 1.0


def test_quick_prints_counts_and_rates_only(tmp_path: Path) -> None:
    out = tmp_path / "q.csv"
    proc = subprocess.run([sys.executable, "-m", "helpers", "bench", "--quick", "--messages", "1000", "--clients",
                           "confluent-kafka", "--no-progress", "--out", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent)
    assert proc.returncode == 0, proc.stderr
    assert "counts and rough rates only" in proc.stdout and "1,000 messages" in proc.stdout
    assert "Java" not in proc.stdout and "2016" not in proc.stdout


@pytest.mark.parametrize("argv, expected", [
    (["--messages", "-5"], "--messages must be between 1 and 50,000,000, got -5"),
    (["--messages", "many"], "--messages must be a whole number, got 'many'"),
    (["--size", "0"], "--size must be between 1 and 1,000,000, got 0"),
    (["--repeat", "0"], "--repeat must be between 1 and 50, got 0"),
    (["--clients", "kafka-pyton"], "unknown client 'kafka-pyton' -> did you mean 'kafka-python'?"),
    (["--clients", "confluent"], "did you mean 'confluent-kafka'?"),
    (["--profile", "tunned"], "unknown profile 'tunned' -> did you mean 'tuned'?"),
    (["--out", "results.txt"], "should end in .csv"),
    (["--out", "/no/such/dir/r.csv"], "does not exist"),
    (["--quick", "--sweep", "acks"], "--quick and --sweep do not go together"),
])
def test_cli_bad_arguments_give_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], expected: str) -> None:
    assert cli_main(["bench", *argv]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert expected in err


def test_unknown_sweep_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["bench", "--sweep", "compresion", "--clients", "java"]) == 1
    assert "did you mean 'compression'?" in capsys.readouterr().err


def test_reference_results_are_complete_and_consistent() -> None:
    """The committed reference run: every client, both profiles, both roles, every repetition, all counts ok,
    CPU and load on every row, the broker version read from the broker."""
    ref, env = bench.load_reference()
    assert list(ref.columns) == list(bench.COLUMNS)
    measured = ref[ref["status"] != "skipped"]
    assert set(measured["client"]) == set(bench.CLIENTS) - {c for c in bench.CLIENTS if bench.unavailable(c)} \
        or set(measured["client"]) == set(bench.CLIENTS)
    assert set(ref["profile"]) == set(bench.PROFILES)
    assert ref.groupby(["client", "profile", "role"]).size().eq(env["repeat"]).all()
    assert (measured["status"] == "ok").all()
    assert measured["client_cpu_s"].notna().all() and measured["load_1m"].notna().all()
    assert measured["broker_cpu_s"].notna().all()
    tuned = ref[ref["profile"] == "tuned"]
    for c in ("java", "confluent-kafka"):  # the headline pair: equal counts, millions of records
        assert (tuned[tuned["client"] == c]["messages"] == bench.REFERENCE_MESSAGES[c]["tuned"]).all()
    assert bench.REFERENCE_MESSAGES["java"]["tuned"] == bench.REFERENCE_MESSAGES["confluent-kafka"]["tuned"] >= 5_000_000
    java_tuned = ref[(ref["client"] == "java") & (ref["profile"] == "tuned")]
    assert (java_tuned["warmup"] > 0).all() and "batch.size" in java_tuned["settings"].iloc[0]
    assert env["repeat"] >= 5 and env["cpu_model"] and "metadata.version" in env["kafka_broker"]
    assert set(env["fixed_costs"]) == set(bench.CLIENTS)


def test_summary_ratios_are_per_repetition_and_exercise_check() -> None:
    ref, _ = bench.load_reference()
    s = bench.summarise(ref)
    ok = ref[ref["status"] == "ok"]
    med = ok.groupby(["client", "profile", "role"])["msgs_per_s"].median()
    right = med["kafka-python", "tuned", "consume"] / med["java", "tuned", "consume"]
    assert bench.check_fraction(s, "kafka-python", "consume", right).passed
    assert "percentage" in bench.check_fraction(s, "kafka-python", "consume", right * 100).message
    assert "upside down" in bench.check_fraction(s, "kafka-python", "consume", 1 / right).message
    assert not bench.check_fraction(s, "kafka-python", "consume", None).passed
    assert not bench.check_fraction(s, "kafka-pyton", "consume", right).passed
    # per-repetition ratios: recompute one by hand
    ck = ok[(ok["client"] == "confluent-kafka") & (ok["profile"] == "tuned") & (ok["role"] == "produce")]
    jv = ok[(ok["client"] == "java") & (ok["profile"] == "tuned") & (ok["role"] == "produce")]
    per = ck.set_index("repetition")["msgs_per_s"] / jv.set_index("repetition")["msgs_per_s"]
    row = s[(s["client"] == "confluent-kafka") & (s["profile"] == "tuned") & (s["role"] == "produce")].iloc[0]
    assert abs(row["of_java"] - per.median()) < 1e-9 and row["of_java_min"] == per.min()
    # the 2016 ratio: defaults profile only, the study's figure for the same client and role
    row = s[(s["client"] == "confluent-kafka") & (s["profile"] == "defaults") & (s["role"] == "produce")].iloc[0]
    assert row["msgs_per_s_2016"] == 183456 and abs(row["vs_2016"] - row["median"] / 183456) < 1e-9
    assert s[s["profile"] == "tuned"]["vs_2016"].isna().all()


def test_summary_table_has_no_nan_and_formats_numbers() -> None:
    ref, _ = bench.load_reference()
    t = bench.summary_table(bench.summarise(ref))
    text = t.to_string()
    assert "nan" not in text.lower() and "e+0" not in text
    assert "msgs/s (median)" in t.columns


def test_setting_effect_check() -> None:
    df = pd.DataFrame({"profile": ["tuned", "tuned", "tuned+setting", "tuned+setting"], "status": ["ok"] * 4,
                       "msgs_per_s": [100.0, 120.0, 50.0, 60.0]})
    assert bench.check_effect(df, 0.5, 0.5).passed
    assert "upside down" in str(bench.check_effect(df, 0.5, 2.0))
    assert not bench.check_effect(df, 0.5, 0.7).passed
    assert "factor of 4.0" in bench.check_effect(df, 2.0, 0.5).message
    assert not bench.check_effect(df.iloc[:2], 0.5, 0.5).passed


def test_broker_version_is_read_from_the_broker(bootstrap: Connection) -> None:
    from helpers import bench_env

    feats = bench_env.features(bootstrap)
    assert feats["supported"]["metadata.version"][1] == 21  # Kafka 3.9's latest production level (3.9-IV0)
    assert bench_env.broker_version(bootstrap).startswith("3.9")


def test_accounting_report_names_every_row() -> None:
    df = pd.DataFrame([
        {"client": "java", "profile": "tuned", "role": "produce", "repetition": 1, "status": "ok", "messages": 10,
         "error": ""},
        {"client": "pykafka+librdkafka", "profile": "defaults", "role": "consume", "repetition": 1,
         "status": "skipped", "messages": 10, "error": "not built"},
    ])
    report = bench.accounting_report(df).splitlines()
    assert report[0].startswith("java") and "all accounted for" in report[0]
    assert "skipped (not built)" in report[1]


def test_worker_errors_are_one_readable_line() -> None:
    def deep_inside_a_client() -> None:
        raise AssertionError()  # what a bare `assert` raises; pytest would rewrite a real one here

    try:
        deep_inside_a_client()
    except AssertionError as exc:
        text = bench_workers.describe(exc)
    assert text.startswith("AssertionError at ") and "tests/test_bench.py:" in text and "raise AssertionError()" in text
    assert bench_workers.describe(ValueError("first line\nsecond")) == "ValueError: first line"


def test_cli_exits_1_when_a_measurement_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """An error row (here: the consumer worker 'crashes') is kept in the CSV, and the CLI exits 1 naming it."""
    real = bench._python_worker

    def consumer_fails(client: str, role: str, *args: object, **kw: object) -> bench.Measurement:
        if role == "consume":
            return bench.Measurement("error", error="worker crashed: boom")
        return real(client, role, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(bench, "_python_worker", consumer_fails)
    out = tmp_path / "r.csv"
    assert cli_main(["bench", "--messages", "300", "--clients", "confluent-kafka", "--repeat", "1", "--profile",
                     "tuned", "--no-progress", "--out", str(out)]) == 1
    assert "1 measurement(s) failed: confluent-kafka tuned consume #1: worker crashed: boom" in capsys.readouterr().err
    assert pd.read_csv(out)["status"].tolist() == ["ok", "error"]


def test_a_busy_machine_is_named_before_a_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(bench.os, "getloadavg", lambda: (7.5, 6.0, 5.0))
    assert "load average 7.5 on 2 cores" in bench.busy_machine()
    monkeypatch.setattr(bench.os, "getloadavg", lambda: (1.2, 1.0, 1.0))
    assert bench.busy_machine() is None


def test_committed_sweeps_have_every_point_three_times() -> None:
    """Lesson 06's sweep charts: size and partitions, confluent-kafka and Java, both roles, 3 ok runs per point,
    matched batch.size, the environment beside them."""
    sweeps, env = bench.load_sweeps()
    for kind in ("size", "partitions"):
        rows = sweeps[sweeps["sweep"] == kind]
        assert set(rows["client"]) == set(bench.SWEEP_CLIENTS)
        assert set(rows["value"]) == {str(v) for v in bench.SWEEPS[kind][1]}
        counts = rows[rows["status"] == "ok"].groupby(["client", "role", "value"]).size()
        assert len(counts) == len(bench.SWEEP_CLIENTS) * 2 * len(bench.SWEEPS[kind][1]) and (counts >= 3).all()
    produced = sweeps[sweeps["role"] == "produce"]
    assert produced["settings"].str.contains(str(bench.SWEEP_BATCH)).all()
    assert env["repeat"] >= 3 and "metadata.version" in env["kafka_broker"]


def test_kcat_version_is_read_from_its_version_line() -> None:
    text = ("kcat - Apache Kafka producer and consumer tool\nhttps://github.com/edenhill/kcat\n"
            "Copyright (c) 2014-2021, Magnus Edenhill\nVersion 1.7.1 (JSON, Transactions, IncrementalAssign, "
            "librdkafka 2.0.2 builtin.features=gzip,snappy,ssl)\n")
    assert bench.parse_kcat_version(text) == "1.7.1 (librdkafka 2.0.2)"
    assert bench.parse_kcat_version("something else") == "? (librdkafka ?)"
