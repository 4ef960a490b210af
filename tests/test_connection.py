"""helpers.connection: the properties-file loader in both dialects, each client's dialect, the errors,
the broker handle's connection and KAFKA_CONFIG; and the import graph of helpers (no circle)."""
from __future__ import annotations

import ast
import ssl
from pathlib import Path

import pytest

from helpers import admin, broker, clients
from helpers.connection import Connection, as_connection, jaas_config, parse_jaas
from helpers.errors import ConfigError

JAAS = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="learner" password="s3cr\\"et";'


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    """A real PEM bundle of CA certificates (certifi's copy), so that ssl.create_default_context can load it."""
    import certifi

    path = tmp_path / "ca.pem"
    path.write_bytes(Path(certifi.where()).read_bytes())
    return path


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_java_and_librdkafka_dialects_load_to_the_same_connection(tmp_path: Path, ca: Path) -> None:
    java = _write(tmp_path, "java.properties", f"""# as Kafka's --command-config and managed consoles write it
bootstrap.servers=broker-1:9093,broker-2:9093
security.protocol=SASL_SSL
ssl.truststore.type=PEM
ssl.truststore.location={ca.name}
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config={JAAS}
""")
    rd = _write(tmp_path, "librdkafka.properties", f"""bootstrap.servers = broker-1:9093, broker-2:9093
security.protocol: sasl_ssl
ssl.ca.location={ca}
sasl.mechanisms=SCRAM-SHA-512
sasl.username=learner
sasl.password=s3cr"et
""")
    a, b = Connection.from_properties(java), Connection.from_properties(rd)
    for c in (a, b):
        assert c.bootstrap == "broker-1:9093,broker-2:9093" and c.security_protocol == "SASL_SSL"
        assert c.username == "learner" and c.ca_file == str(ca) and c.tls and c.sasl
    assert a.config("confluent-kafka") == b.config("confluent-kafka")
    assert a.config("kafka-python", "consumer") == b.config("kafka-python", "consumer")
    assert "s3cr" not in repr(a) and "<hidden>" in repr(a)
    assert Connection.from_properties(_write(tmp_path, "again.properties", a.properties())) == a
    # Kafka's Java tools (--command-config) get the Java-dialect file itself, or a private copy in Java's dialect
    assert a.command_config() == java.resolve()
    copy = b.command_config()
    assert copy != rd.resolve() and oct(copy.stat().st_mode & 0o777) == "0o600"
    assert Connection.from_properties(copy) == b and "sasl.username" not in copy.read_text()
    assert Connection("h:1").command_config() is None


def test_each_client_gets_its_own_dialect(ca: Path) -> None:
    tls = Connection("h:9093", {"security.protocol": "SSL", "ssl.truststore.location": str(ca)})
    assert tls.config("kafka-python") == {"bootstrap_servers": "h:9093", "security_protocol": "SSL",
                                          "ssl_cafile": str(ca)}
    assert tls.config("confluent-kafka") == {"bootstrap.servers": "h:9093", "security.protocol": "ssl",
                                             "ssl.ca.location": str(ca), "log_level": 4}
    pk = tls.config("pykafka")
    assert pk["hosts"] == "h:9093" and pk["ssl_config"].cafile == str(ca)
    aio = tls.config("aiokafka")
    assert isinstance(aio["ssl_context"], ssl.SSLContext) and aio["security_protocol"] == "SSL"
    sasl = Connection("h:9094", {"security.protocol": "SASL_SSL", "ssl.truststore.location": str(ca),
                                 "sasl.mechanism": "SCRAM-SHA-512", "sasl.jaas.config": JAAS,
                                 "ssl.endpoint.identification.algorithm": ""})
    kp = sasl.config("kafka-python")
    assert (kp["sasl_mechanism"], kp["sasl_plain_username"], kp["sasl_plain_password"]) == \
        ("SCRAM-SHA-512", "learner", 's3cr"et')
    assert kp["ssl_check_hostname"] is False
    ck = sasl.config("confluent-kafka")
    assert (ck["sasl.mechanism"], ck["sasl.username"], ck["sasl.password"]) == ("SCRAM-SHA-512", "learner", 's3cr"et')
    assert ck["ssl.endpoint.identification.algorithm"] == "none"
    plain = Connection("127.0.0.1:9092")
    assert plain.config("kafka-python") == {"bootstrap_servers": "127.0.0.1:9092"} and not plain.secured
    assert plain.config("confluent-kafka") == {"bootstrap.servers": "127.0.0.1:9092", "log_level": 4}
    conf = clients.ck_conf(plain, {"group.id": "g"})
    assert conf.pop("logger").name == "helpers.librdkafka"  # helpers' clients: failures counted, not printed
    assert conf == {"bootstrap.servers": "127.0.0.1:9092", "log_level": 4, "group.id": "g"}


def test_pykafka_has_no_sasl_and_says_so() -> None:
    sasl = Connection("h:9094", {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
                                 "sasl.jaas.config": jaas_config("u", "p", "PLAIN")})
    with pytest.raises(ConfigError, match="pykafka 2.8.0 has no SASL.*use kafka-python or confluent-kafka"):
        sasl.config("pykafka")
    with pytest.raises(ConfigError, match="pykafka 2.8.0 has no SASL"):
        clients.pk_conf(sasl)


@pytest.mark.parametrize("settings, match", [
    ({"security.protocol": "TLS"}, "not a Kafka protocol"),
    ({"security.protocol": "SSL", "ssl.truststore.type": "JKS"}, "PEM files only.*keytool"),
    ({"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.jaas.config": "nonsense"},
     "sasl.jaas.config is not"),
    ({"security.protocol": "SASL_SSL", "sasl.mechanism": "GSSAPI", "sasl.jaas.config": JAAS}, "GSSAPI"),
    ({"ssl.keystore.location": "k.jks"}, "not a connection setting"),
])
def test_bad_settings_are_one_clear_line(settings: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Connection("h:1", settings)


def test_properties_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the client properties file"):
        Connection.from_properties(tmp_path / "missing.properties")
    with pytest.raises(ConfigError, match="the CA file .* does not exist"):
        Connection.from_properties(_write(tmp_path, "a.properties", "bootstrap.servers=h:1\nsecurity.protocol=SSL\n"
                                          "ssl.ca.location=nope.pem\n"))
    with pytest.raises(ConfigError, match="b.properties: unknown setting 'acks.typo'"):
        Connection.from_properties(_write(tmp_path, "b.properties", "bootstrap.servers=h:1\nacks.typo=1\n"))
    with pytest.raises(ConfigError, match="no bootstrap.servers"):
        Connection.from_properties(_write(tmp_path, "c.properties", "security.protocol=PLAINTEXT\n"))


def test_tuning_settings_from_a_file_apply_by_role(tmp_path: Path) -> None:
    c = Connection.from_properties(_write(tmp_path, "t.properties", "bootstrap.servers=h:1\nacks=all\n"
                                          "session.timeout.ms=45000\nclient.dns.lookup=use_all_dns_ips\n"))
    assert c.config("confluent-kafka", "producer")["acks"] == "all"
    assert "acks" not in c.config("confluent-kafka", "consumer")
    assert c.config("kafka-python", "consumer")["session_timeout_ms"] == 45000


def test_as_connection_accepts_str_connection_and_handles(kafka: broker.Broker) -> None:
    assert as_connection("h:1 , h:2,") == Connection("h:1,h:2")
    c = Connection("h:1")
    assert as_connection(c) is c
    assert as_connection(kafka) == kafka.connection and kafka.connection.bootstrap == kafka.bootstrap
    with pytest.raises(ConfigError, match="is not a connection"):
        as_connection(42)
    assert parse_jaas(jaas_config('a"b', "c\\d")) == ('a"b', "c\\d")


def test_kafka_config_points_ensure_broker_at_a_properties_file(conn: Connection, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "client.properties", conn.properties())
    monkeypatch.setenv("KAFKA_CONFIG", str(path))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    b = broker.ensure_broker(quiet=True)
    assert not b.embedded and b.client_properties == path.resolve()
    assert b.connection.settings == conn.settings and b.connection.bootstrap == conn.bootstrap
    name = admin.create_topic(b.connection, admin.unique_topic("kafka-config"))  # a real request through it
    try:
        assert clients.confluent_roundtrip(b, name, [b"via KAFKA_CONFIG"], timeout=10) == [b"via KAFKA_CONFIG"]
    finally:
        admin.delete_topic(b, name)


def _imports(path: Path) -> set[str]:
    """helpers modules that ``path`` imports, at the top or inside functions (relative imports only)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(a.name for a in node.names)
    return out


def test_helpers_import_no_module_in_a_circle() -> None:
    root = Path(__file__).resolve().parent.parent / "helpers"
    mods = {p.stem for p in root.glob("*.py")}
    graph = {m: _imports(root / f"{m}.py") & mods for m in mods}
    cycles = []

    def visit(m: str, stack: list[str]) -> None:
        for dep in graph[m]:
            if dep in stack:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in done:
                visit(dep, stack + [dep])
        done.add(m)

    done: set[str] = set()
    for m in sorted(mods):
        if m not in done:
            visit(m, [m])
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles)
    # the ground floor imports nothing above it
    assert graph["settings"] <= {"errors"} and graph["connection"] <= {"settings", "errors"}
