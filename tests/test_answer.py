"""Lesson 09's decision table: its throughput figures are the committed benchmark's medians, its checks are real."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from helpers import answer, bench
from helpers.connection import PYKAFKA_TLS_LIMITS, Connection


NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "09_the_answer.ipynb"
TRIPLE = re.compile(r"(\d[\d,]*) \[(\d[\d,]*)-(\d[\d,]*)\]")


def _outputs_text() -> str:
    nb = json.loads(NOTEBOOK.read_text())
    parts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            parts.append("".join(data.get("text/html", "")) + "".join(data.get("text/plain", "")) +
                         "".join(out.get("text", "")))
    return "\n".join(parts)


def test_every_throughput_figure_in_lesson_09_is_a_committed_median() -> None:
    """Each "median [min-max]" shown in 09's stored outputs is a median (with its min and max) of the reference run."""
    ref, _ = bench.load_reference()
    s = bench.summarise(ref).dropna(subset=["median"])
    known = {(f"{r.median:,.0f}", f"{r.min:,.0f}", f"{r.max:,.0f}") for r in s.itertuples()}
    shown = set(TRIPLE.findall(_outputs_text()))
    assert len(shown) >= 12, "the stored decision table shows the throughput rows"
    assert shown <= known, f"figures not in the committed data: {sorted(shown - known)[:5]}"


def test_throughput_cells_come_from_the_summary() -> None:
    ref, _ = bench.load_reference()
    s = bench.summarise(ref)
    cells = answer.throughput(s)
    med = bench.figure(s, "confluent-kafka", "tuned", "produce")
    assert cells["produce msgs/s, tuned"]["confluent-kafka"].startswith(f"{med:,.0f} [")


def _table() -> pd.DataFrame:
    rows = ["works on Kafka 3.9", "works on Kafka 4.x", "compiled parts", "produce msgs/s, tuned",
            "consume msgs/s, tuned", "transactions", "KIP-848 consumer protocol", "Rosetta coverage"]
    t = pd.DataFrame(index=rows, columns=list(answer.CLIENTS)).fillna("yes")
    t.loc["works on Kafka 4.x", ["pykafka", "pykafka+librdkafka"]] = "no: closed"
    t.loc["compiled parts"] = ["none (pure Python)"] + ["1 extension(s)"] * 5
    t.loc["produce msgs/s, tuned"] = ["10 [9-11]", "900 [800-990]", "5 [4-6]", "50 [40-60]", "20 [19-21]", "30 [29-31]"]
    t.loc["consume msgs/s, tuned"] = ["10 [9-11]", "900 [800-990]", "5 [4-6]", "50 [40-60]", "200 [190-210]",
                                      "300 [290-310]"]
    return t


def test_exercise_check_follows_the_table_not_a_fixed_answer() -> None:
    t = _table()
    good = {"A": ("kafka-python", "compiled parts"), "B": ("confluent-kafka", "produce msgs/s, tuned"),
            "C": ("confluent-kafka-aio", "consume msgs/s, tuned")}
    assert answer.check_choice(t, good).passed
    # change the table: aiokafka becomes the fastest asyncio consumer, and the check follows
    t.loc["consume msgs/s, tuned", "aiokafka"] = "400 [390-410]"
    assert not answer.check_choice(t, good).passed
    assert answer.check_choice(t, {**good, "C": ("aiokafka", "consume msgs/s, tuned")}).passed
    bad = answer.check_choice(t, {**good, "A": ("kafka-python", "wheel")})
    assert not bad.passed and "'wheel' is not a row" in bad.message
    wrong_row = answer.check_choice(t, {**good, "A": ("kafka-python", "transactions")})
    assert not wrong_row.passed and "does not decide it" in wrong_row.message
    assert not answer.check_choice(t, None).passed  # type: ignore[arg-type]


def test_feature_checks_are_live(conn) -> None:
    """kafka-python and confluent-kafka really commit a transaction and create a topic through the session's
    connection (TLS under make test-secure); pykafka's 'no' names what is missing, and its admin call is live."""
    out = answer.feature_checks(conn, clients=("kafka-python", "confluent-kafka", "pykafka"), progress=False)
    assert out["transactions"]["kafka-python"] == "yes" and out["transactions"]["confluent-kafka"] == "yes"
    assert out["admin API"]["kafka-python"] == "yes" and out["admin API"]["confluent-kafka"] == "yes"
    assert out["headers"]["pykafka"].startswith("no: produce() takes no headers")
    assert out["admin API"]["pykafka"].startswith("partly: Broker.create_topics"), out["admin API"]["pykafka"]


def test_works_on_reaches_the_broker_through_the_connection(conn) -> None:
    """The worker process gets the connection (--bootstrap [--config]); the broker counts what it stored."""
    assert answer.works_on(conn, clients=("kafka-python",)) == {"kafka-python": "yes"}


def test_pykafka_tls_limits_are_reported_with_pykafka_s_reason() -> None:
    """Over TLS, pykafka's C mode is 'no' with PYKAFKA_TLS_LIMITS' reason, never tried and never 'yes';
    over SASL, pykafka is 'no' with 'no SASL'. Nothing listens at the address: a check that tried would fail."""
    tls = Connection("127.0.0.1:9", {"security.protocol": "SSL"})
    out = answer.works_on(tls, clients=("pykafka+librdkafka",))["pykafka+librdkafka"]
    if out.startswith("not checked"):  # the C extension is not built on this machine
        pytest.skip(out)
    assert out == f"no over SSL: {PYKAFKA_TLS_LIMITS['rdkafka']}"
    sasl = Connection("127.0.0.1:9", {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                                      "sasl.jaas.config": 'org.apache.kafka.common.security.scram.ScramLoginModule '
                                                          'required username="u" password="p";'})
    out = answer.works_on(sasl, clients=("pykafka",))["pykafka"]
    assert out.startswith("no over SASL_SSL: pykafka 2.8.0 has no SASL"), out


def test_footprint_reads_installed_metadata() -> None:
    f = answer.footprint(("kafka-python", "confluent-kafka"))
    assert f.loc["compiled parts", "kafka-python"] == "none (pure Python)"
    assert "bundles librdkafka" in f.loc["compiled parts", "confluent-kafka"]
    assert f.loc["wheel", "kafka-python"] == "py3-none-any"


@pytest.mark.parametrize("row", ["TLS", "SASL (SCRAM)", "KIP-848 consumer protocol", "maintenance"])
def test_cited_rows_carry_a_source_for_every_client(row: str) -> None:
    assert set(answer.CITED[row]) == set(answer.CLIENTS)
    assert all(c.source for c in answer.CITED[row].values())


def test_a_table_where_nothing_works_picks_none() -> None:
    t = _table()
    t.loc[["works on Kafka 3.9", "works on Kafka 4.x"]] = "no: produce error: refused"
    picks = answer.which_client(t).set_index("job")["pick"]
    assert set(picks) == {"none"}
