"""One connection value: where the cluster is and how to prove who you are, for every client.

A :class:`Connection` holds a bootstrap list and security settings in Java-style names
(``security.protocol``, ``ssl.truststore.location``, ``sasl.jaas.config`` ...), the names Kafka's
docs, its Java tools and managed-cluster consoles use. :meth:`Connection.config` turns it into one
client's own dialect through the settings translator (:mod:`helpers.settings`), so a lesson written
once runs unchanged against the embedded plaintext broker, a TLS one, or a remote SASL_SSL cluster.
A setting a client cannot honour raises :class:`~helpers.errors.ConfigError`; it is never dropped.

Every helper that talks to Kafka takes a ``conn`` (a :class:`Connection`, a plain ``"host:port"``
string meaning plaintext, or anything with a ``.connection`` such as the broker handle) and builds
its clients here: :func:`ck_conf`, :func:`kp_conf`, :func:`pk_client`, :func:`aio_conf`.
"""
from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Union

from . import settings
from .errors import ConfigError

if TYPE_CHECKING:
    from pykafka import KafkaClient

# librdkafka logs at syslog level 6 (info) by default, straight to stderr: lines such as
# "%6|...|BGQUEUE| Purging 1 unserved events" when a client is destroyed late by the garbage collector.
# Level 4 keeps warnings and errors and drops the chatter.
CK_LOG_LEVEL = 4

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

#: the security settings a Connection carries (Java names); anything else in a properties file is a
#: client tuning setting (acks, session.timeout.ms ...), kept in ``Connection.tuning``
SECURITY_KEYS = ("security.protocol", "ssl.truststore.location", "ssl.truststore.type",
                 "ssl.endpoint.identification.algorithm", "sasl.mechanism", "sasl.jaas.config")

# librdkafka's spelling -> Java's, for properties files in the librdkafka dialect
_LIBRDKAFKA_DIALECT = {"ssl.ca.location": "ssl.truststore.location", "sasl.mechanisms": "sasl.mechanism"}

_RD_ONLY = {"ssl.ca.location", "sasl.mechanisms", "sasl.username", "sasl.password"}  # keys Java's tools reject

_JAAS = re.compile(r'^\s*(?P<module>[\w.$]+)\s+(?:required|requisite|sufficient|optional)\s*(?P<opts>.*?);?\s*$', re.S)
_JAAS_OPT = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|(\S+?))(?=\s|;|$)')
_JAAS_MODULES = {"PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
                 "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
                 "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule"}


def jaas_config(username: str, password: str, mechanism: str = "SCRAM-SHA-512") -> str:
    """The ``sasl.jaas.config`` value Java clients expect for ``username`` / ``password``."""
    module = _JAAS_MODULES.get(mechanism.upper())
    if module is None:
        raise ConfigError(f"unknown SASL mechanism {mechanism!r}", f"one of {', '.join(MECHANISMS)}")
    esc = lambda s: s.replace("\\", "\\\\").replace('"', '\\"')  # noqa: E731
    return f'{module} required username="{esc(username)}" password="{esc(password)}";'


def parse_jaas(value: str) -> tuple[str, str]:
    """``(username, password)`` from a ``sasl.jaas.config`` value (PLAIN or SCRAM login module)."""
    m = _JAAS.match(value or "")
    if not m:
        raise ConfigError("sasl.jaas.config is not '<LoginModule> required username=\"...\" password=\"...\";'",
                          "copy the line exactly as your cluster's console gives it")
    if not m["module"].endswith(("PlainLoginModule", "ScramLoginModule")):
        raise ConfigError(f"sasl.jaas.config uses {m['module'].rsplit('.', 1)[-1]}, which the Python clients cannot use",
                          "use a PLAIN or SCRAM user (PlainLoginModule / ScramLoginModule)")
    opts = {k: (q.replace('\\"', '"').replace("\\\\", "\\") if q is not None else bare)
            for k, q, bare in _JAAS_OPT.findall(m["opts"])}
    if "username" not in opts or "password" not in opts:
        raise ConfigError("sasl.jaas.config has no username or no password", 'add username="..." password="..."')
    return opts["username"], opts["password"]


def read_properties(path: str | os.PathLike[str]) -> dict[str, str]:
    """A Java ``.properties`` file as a dict (``key=value`` or ``key: value``, ``#``/``!`` comments,
    backslash line continuations); enough for client configs."""
    p = Path(path).expanduser()
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read the client properties file {str(p)!r}: {exc.strerror or exc}",
                          "check the path in KAFKA_CONFIG (or the argument)") from None
    out: dict[str, str] = {}
    logical = ""
    for raw in text.splitlines():
        line = raw.strip() if not logical else raw.lstrip()
        if not logical and (not line or line[0] in "#!"):
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            logical += line[:-1]
            continue
        logical += line
        key, _sep, value = _split_property(logical)
        logical = ""
        if key:
            out[key] = value
    return out


def _split_property(line: str) -> tuple[str, str, str]:
    m = re.match(r"^([^=:\s]+)\s*(?:[=:]\s*|\s+)?(.*)$", line)
    return (m[1], "=", m[2].strip()) if m else ("", "", "")


@dataclass(frozen=True)
class Connection:
    """A bootstrap list plus security settings in Java-style names (frozen).

    ``Connection("127.0.0.1:9092")`` is plaintext. ``tuning`` holds client settings that came with
    a properties file (``acks``, ``session.timeout.ms`` ...); they are applied, by role, in
    :meth:`config`. ``source`` is the properties file it was read from, if any.
    """

    bootstrap: str
    settings: Mapping[str, str] = field(default_factory=dict)
    tuning: Mapping[str, str] = field(default_factory=dict)
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        addresses = [a.strip() for a in str(self.bootstrap or "").split(",") if a.strip()]
        if not addresses:
            raise ConfigError("the bootstrap address is empty", "set it to host:port, e.g. 127.0.0.1:9092")
        object.__setattr__(self, "bootstrap", ",".join(addresses))
        settings_ = dict(self.settings)
        if "ssl.truststore.location" in settings_:  # the Python clients read PEM; Java's tools must be told
            settings_.setdefault("ssl.truststore.type", "PEM")
        object.__setattr__(self, "settings", settings_)
        object.__setattr__(self, "tuning", dict(self.tuning))
        for key in self.settings:
            if key not in SECURITY_KEYS:
                close = [k for k in SECURITY_KEYS if k.split(".")[0] == key.split(".")[0]]
                raise ConfigError(f"{key!r} is not a connection setting this workbook knows",
                                  f"use one of {', '.join(close or SECURITY_KEYS)}; "
                                  "client settings such as acks belong to the client you build")
        proto = self.security_protocol
        if proto not in PROTOCOLS:
            raise ConfigError(f"security.protocol={self.settings['security.protocol']!r} is not a Kafka protocol",
                              f"one of {', '.join(PROTOCOLS)}")
        ttype = self.settings.get("ssl.truststore.type", "PEM").upper()
        if ttype != "PEM":
            raise ConfigError(f"ssl.truststore.type={ttype}: the Python clients read PEM files only",
                              "convert it: keytool -exportcert -rfc -keystore <truststore> -file ca.pem, then "
                              "ssl.truststore.type=PEM and ssl.truststore.location=ca.pem")
        if self.sasl:
            mech = self.mechanism
            if mech not in MECHANISMS:
                raise ConfigError(f"sasl.mechanism={mech!r} is not one the workbook's clients share",
                                  f"one of {', '.join(MECHANISMS)}")
            parse_jaas(self.settings.get("sasl.jaas.config", ""))  # fails now, with the reason, not at connect
        alg = self.settings.get("ssl.endpoint.identification.algorithm", "https").lower()
        if alg not in ("https", ""):
            raise ConfigError(f"ssl.endpoint.identification.algorithm={alg!r}", "use https (check the host name) or empty (don't)")

    # ------------------------------------------------------------------ what it is
    @property
    def security_protocol(self) -> str:
        """PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (Java's default is PLAINTEXT)."""
        return str(self.settings.get("security.protocol", "PLAINTEXT")).upper()

    @property
    def tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL")

    @property
    def secured(self) -> bool:
        """True unless plaintext without authentication."""
        return self.security_protocol != "PLAINTEXT"

    @property
    def mechanism(self) -> str:
        return str(self.settings.get("sasl.mechanism", "GSSAPI")).upper()  # Java's default: GSSAPI

    @property
    def username(self) -> str | None:
        return parse_jaas(self.settings["sasl.jaas.config"])[0] if self.sasl else None

    @property
    def ca_file(self) -> str | None:
        return self.settings.get("ssl.truststore.location") or None

    @property
    def check_hostname(self) -> bool:
        return self.settings.get("ssl.endpoint.identification.algorithm", "https").lower() == "https"

    @property
    def addresses(self) -> list[str]:
        return self.bootstrap.split(",")

    def __str__(self) -> str:
        return self.bootstrap

    def __repr__(self) -> str:  # never prints a password
        shown = {k: ("<hidden>" if k == "sasl.jaas.config" else v) for k, v in self.settings.items()}
        return f"Connection({self.bootstrap!r}" + (f", {shown!r}" if shown else "") + ")"

    def describe(self) -> str:
        """One line: address, protocol, user."""
        who = f" as {self.username!r} ({self.mechanism})" if self.sasl else ""
        ca = f", CA {Path(self.ca_file).name}" if self.tls and self.ca_file else ""
        return f"{self.bootstrap} over {self.security_protocol}{who}{ca}"

    # ------------------------------------------------------------------ each client's dialect
    def config(self, client: str, role: str = "producer") -> dict[str, Any]:
        """This connection in ``client``'s own dialect, bootstrap included.

        ``client`` is one of settings.CLIENTS (``"kafka-python"``, ``"confluent-kafka"``, ``"pykafka"``)
        or ``"aiokafka"``; ``role`` is ``"producer"``, ``"consumer"`` or ``"admin"`` (it selects which
        of the ``tuning`` settings apply). For pykafka the result is ``KafkaClient(**...)`` keywords
        (``hosts``, ``ssl_config``); pykafka 2.8.0 has no SASL, which raises ConfigError.
        """
        if role not in ("producer", "consumer", "admin", "any"):
            raise ConfigError(f"unknown role {role!r}", "use 'producer', 'consumer' or 'admin'")
        if client == "aiokafka":
            return self._aiokafka(role)
        java: dict[str, Any] = {"bootstrap.servers": self.bootstrap}
        java.update({k: v for k, v in self.settings.items() if k not in ("sasl.jaas.config", "ssl.truststore.type")})
        if not self.tls:  # no TLS: the TLS settings have no effect in any client
            java.pop("ssl.truststore.location", None)
            java.pop("ssl.endpoint.identification.algorithm", None)
        if not self.sasl:
            java.pop("sasl.mechanism", None)
        if client == "pykafka" and self.sasl:
            raise ConfigError(f"pykafka 2.8.0 has no SASL, so it cannot log in to {self.bootstrap} "
                              f"({self.security_protocol}, {self.mechanism})",
                              "use kafka-python or confluent-kafka for this cluster, or a TLS-only (SSL) listener")
        tuning = {k: v for k, v in self.tuning.items()
                  if role in ("any", "admin") and settings.lookup(k).role == "any"
                  or role not in ("any", "admin") and settings.lookup(k).role in ("any", role)}
        out = settings.translate({**java, **tuning}, client, "any" if role == "admin" else role)
        if client == "pykafka":  # KafkaClient keywords (ssl_config included); producer/consumer ones: pykafka_split
            return settings.pykafka_split({**java, **tuning}, "any" if role == "admin" else role)[0]
        if self.sasl:
            user, password = parse_jaas(self.settings["sasl.jaas.config"])
            if client == "kafka-python":
                out.update(sasl_plain_username=user, sasl_plain_password=password)
            else:
                out.update({"sasl.username": user, "sasl.password": password})
        if client == "confluent-kafka":
            out.setdefault("log_level", CK_LOG_LEVEL)
        return out

    def _aiokafka(self, role: str) -> dict[str, Any]:
        kp = self.config("kafka-python", role)
        cafile = kp.pop("ssl_cafile", None)
        check = kp.pop("ssl_check_hostname", True)
        if self.tls:
            from aiokafka.helpers import create_ssl_context

            ctx = create_ssl_context(cafile=cafile)
            ctx.check_hostname = bool(check)
            kp["ssl_context"] = ctx
        return kp

    # ------------------------------------------------------------------ files
    @classmethod
    def from_properties(cls, path: str | os.PathLike[str], bootstrap: str | None = None) -> "Connection":
        """Read a client properties file in the Java dialect (``sasl.jaas.config``, ``ssl.truststore.*``)
        or the librdkafka one (``sasl.username`` / ``sasl.password``, ``ssl.ca.location``).

        Relative CA paths are taken relative to the file. ``bootstrap`` overrides ``bootstrap.servers``.
        """
        props = read_properties(path)
        base = Path(path).expanduser().resolve().parent
        sec: dict[str, str] = {}
        tuning: dict[str, str] = {}
        user = props.pop("sasl.username", None)
        password = props.pop("sasl.password", None)
        servers = props.pop("bootstrap.servers", None)
        for key, value in props.items():
            key = _LIBRDKAFKA_DIALECT.get(key, key)
            if key in SECURITY_KEYS:
                sec[key] = value
            elif key in ("client.dns.lookup",):
                continue  # Java-only DNS behaviour; librdkafka and kafka-python resolve every address anyway
            else:
                try:
                    settings.lookup(key)
                except ConfigError as exc:
                    raise ConfigError(f"{Path(path).name}: {exc.what}",
                                      exc.fix + "; or remove the line if your clients do not need it") from None
                tuning[key] = value
        if (user is None) != (password is None):
            raise ConfigError(f"{Path(path).name} has sasl.username or sasl.password but not both", "add the missing one")
        if user is not None:
            if "sasl.jaas.config" in sec:
                raise ConfigError(f"{Path(path).name} has both sasl.jaas.config and sasl.username", "keep one of them")
            sec["sasl.jaas.config"] = jaas_config(user, password or "", sec.get("sasl.mechanism", "SCRAM-SHA-512"))
        if "ssl.truststore.location" in sec:
            loc = Path(sec["ssl.truststore.location"]).expanduser()
            sec["ssl.truststore.location"] = str(loc if loc.is_absolute() else base / loc)
        if sec.get("ssl.truststore.location") and not Path(sec["ssl.truststore.location"]).is_file():
            raise ConfigError(f"{Path(path).name}: the CA file {sec['ssl.truststore.location']} does not exist",
                              "fix ssl.truststore.location (or ssl.ca.location)")
        servers = bootstrap or servers
        if not servers:
            raise ConfigError(f"{Path(path).name} has no bootstrap.servers", "add bootstrap.servers=host:port")
        return cls(servers, sec, tuning, source=str(Path(path).expanduser().resolve()))

    def properties(self) -> str:
        """This connection as a Java client properties file's text (for ``--command-config``)."""
        lines = [f"bootstrap.servers={self.bootstrap}"]
        lines += [f"{k}={v}" for k, v in self.settings.items()]
        return "\n".join(lines) + "\n"

    def command_config(self) -> Path | None:
        """A Java-dialect properties file for Kafka's tools (``--command-config``), or None when plaintext.

        The file the connection was read from when that is in the Java dialect; otherwise written once per
        connection into a private temporary file (mode 0600: it may hold a password).
        """
        if not self.secured:
            return None
        if self.source and Path(self.source).is_file() and not set(read_properties(self.source)) & _RD_ONLY:
            return Path(self.source)
        key = abs(hash((self.bootstrap, tuple(sorted(self.settings.items())))))
        path = Path(tempfile.gettempdir()) / f"kfp-command-config-{os.getuid()}-{key:x}.properties"
        text = self.properties()
        if not path.exists() or path.read_text() != text:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
        return path


#: what pykafka 2.8.0 cannot do over TLS (found by make test-secure; both are pykafka's own code, not settings)
PYKAFKA_TLS_LIMITS = {
    "balanced": "pykafka 2.8.0's managed balanced consumer opens its group connection without the ssl_config "
                "(Broker._get_unique_req_handler), so over TLS it fails with SocketDisconnectedError",
    "rdkafka": "pykafka 2.8.0's rdkafka extension sets an ssl.cipher.suites list that OpenSSL 3 rejects "
               "(RdKafkaException: no cipher match)",
}


def pykafka_tls_check(conn: "ConnLike", balanced: bool = False, use_rdkafka: bool = False) -> None:
    """ConfigError, with pykafka's real reason, for what pykafka cannot do over this (TLS) connection."""
    if not as_connection(conn).tls:
        return
    for flag, key in ((balanced, "balanced"), (use_rdkafka, "rdkafka")):
        if flag:
            raise ConfigError(PYKAFKA_TLS_LIMITS[key], "over TLS use pykafka's simple consumer without use_rdkafka, "
                              "or kafka-python / confluent-kafka")


ConnLike = Union[str, Connection, Any]  # a "host:port[,...]" string, a Connection, or something with .connection


def as_connection(conn: ConnLike) -> Connection:
    """A :class:`Connection` from a Connection, a plain bootstrap string (plaintext), or anything with
    a ``.connection`` attribute (the broker handle, the cluster handle)."""
    if isinstance(conn, Connection):
        return conn
    if isinstance(conn, str):
        return Connection(conn)
    inner = getattr(conn, "connection", None)
    if isinstance(inner, Connection):
        return inner
    raise ConfigError(f"{type(conn).__name__} is not a connection",
                      "pass kafka.connection (from ensure_broker()), a Connection, or a 'host:port' string")


def from_env() -> Connection | None:
    """The connection named by ``$KAFKA_CONFIG`` (a client properties file; ``$KAFKA_BOOTSTRAP_SERVERS``,
    when also set, overrides its bootstrap.servers), or ``$KAFKA_BOOTSTRAP_SERVERS`` alone; None if neither."""
    path = os.environ.get("KAFKA_CONFIG", "").strip()
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if path:
        return Connection.from_properties(path, bootstrap=servers or None)
    if servers:
        return Connection(servers)
    return None


def cli_args(conn: ConnLike) -> list[str]:
    """``["--bootstrap", host:port]`` plus ``["--config", file]`` when secured: how a connection travels to a
    worker subprocess (read back with :func:`from_cli`)."""
    c = as_connection(conn)
    cfg = c.command_config()
    return ["--bootstrap", c.bootstrap, *(["--config", str(cfg)] if cfg else [])]


def from_cli(bootstrap: str, config: str | None) -> Connection:
    """The connection a worker subprocess was given by :func:`cli_args`."""
    return Connection.from_properties(config, bootstrap=bootstrap) if config else Connection(bootstrap)


# ---------------------------------------------------------------------- librdkafka's log, kept out of cells


class _LibrdkafkaLog(logging.Handler):
    """librdkafka's log for the clients the helpers build. A broker that cannot be reached makes librdkafka
    log a ``%3|...|FAIL|`` line per reconnect attempt (about 190 in ten seconds): those are counted, and
    the helper that gave up says so in its one-line error (:func:`connection_failures`). Anything else is
    printed as librdkafka would print it."""

    QUIET = ("FAIL", "BROKERFAIL", "ERROR")

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count, self.last = 0, ""
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        fac = record.args[0] if isinstance(record.args, tuple) and record.args else ""
        text = record.args[2] if isinstance(record.args, tuple) and len(record.args) > 2 else record.getMessage()
        if fac in self.QUIET:
            with self._guard:
                self.count += 1
                self.last = re.sub(r"^\[thrd:[^\]]*\]: ", "", str(text))
            return
        level = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4}.get(record.levelno, 6)
        print(f"%{level}|{fac}|{text}", file=sys.stderr)


_RD_HANDLER = _LibrdkafkaLog()
LIBRDKAFKA_LOG = logging.getLogger("helpers.librdkafka")
LIBRDKAFKA_LOG.addHandler(_RD_HANDLER)
LIBRDKAFKA_LOG.propagate = False
LIBRDKAFKA_LOG.setLevel(logging.DEBUG)


def connection_failures() -> tuple[int, str]:
    """How many connection-failure lines librdkafka has logged for helpers' clients, and the last one."""
    return _RD_HANDLER.count, _RD_HANDLER.last


# ---------------------------------------------------------------------- the builders every module uses


def bootstrap_of(conn: ConnLike) -> str:
    """Just the ``host:port[,...]`` list."""
    return as_connection(conn).bootstrap


def ck_conf(conn: ConnLike, extra: dict[str, Any] | None = None, role: str = "any") -> dict[str, Any]:
    """A confluent-kafka (librdkafka) config: the connection, warnings only, connection failures counted
    rather than printed (:class:`_LibrdkafkaLog`), plus ``extra``.

    Every confluent ``Producer``, ``Consumer`` and ``AdminClient`` the helpers build starts here.
    """
    return {**as_connection(conn).config("confluent-kafka", role), "logger": LIBRDKAFKA_LOG, **(extra or {})}


def kp_conf(conn: ConnLike, role: str = "any", **extra: Any) -> dict[str, Any]:
    """kafka-python keyword arguments for the connection, plus ``extra``: ``KafkaConsumer(**kp_conf(conn))``."""
    return {**as_connection(conn).config("kafka-python", role), **extra}


def aio_conf(conn: ConnLike, role: str = "any", **extra: Any) -> dict[str, Any]:
    """aiokafka keyword arguments for the connection, plus ``extra``."""
    return {**as_connection(conn).config("aiokafka", role), **extra}


def pk_conf(conn: ConnLike) -> dict[str, Any]:
    """pykafka ``KafkaClient`` keyword arguments (``hosts``, ``ssl_config``): ``KafkaClient(**pk_conf(conn))``.
    A SASL connection raises ConfigError (pykafka 2.8.0 has none)."""
    return as_connection(conn).config("pykafka", "any")


def pk_client(conn: ConnLike, **kwargs: Any) -> "KafkaClient":
    """A pykafka ``KafkaClient`` for the connection (TLS through ``SslConfig``); ``kwargs`` such as
    ``socket_timeout_ms`` pass through. A SASL connection raises ConfigError (pykafka 2.8.0 has none)."""
    from pykafka import KafkaClient

    return KafkaClient(**as_connection(conn).config("pykafka", "any"), **kwargs)
