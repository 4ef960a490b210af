"""Security for the embedded broker and cluster: a per-run CA, TLS listeners, SCRAM users, ACLs.

:func:`prepare` writes everything a secured broker needs into ``<run dir>/security``: a CA made
for this run (``trustme``, built on ``cryptography``), a server certificate for 127.0.0.1 and
localhost, PEM files Kafka reads itself (KIP-651: ``ssl.keystore.type=PEM``, no keytool), SCRAM
passwords (an ``admin`` super user and a ``learner``) and the client properties file a learner
hands to a client or to Kafka's tools (``--command-config``). The returned :class:`Material`
gives the broker's listener settings and the StorageTool arguments that create the SCRAM users
when the storage is formatted (KIP-900, ``--add-scram``).

:func:`is_ready` is the readiness signal on a secured listener: a TLS handshake verified against
the CA, SCRAM authentication as ``admin``, then Metadata listing a live broker, all spoken
directly (no client library in between). :func:`explain` and :func:`diagnose` turn the errors a
learner meets (unknown CA, wrong host name, TLS vs plaintext port, wrong password, missing ACL)
into one-line :class:`SecurityError`s saying what to do.

Modes: ``plaintext`` (nothing), ``ssl`` (TLS listener, no authentication, no authorizer) and
``sasl_ssl`` (SCRAM-SHA-512 over TLS, KRaft ``StandardAuthorizer`` on, ``admin`` super user).
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import ssl
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import protocol
from .errors import WorkbookError

MODES = ("plaintext", "ssl", "sasl_ssl")
MECHANISM = "SCRAM-SHA-512"
ADMIN = "admin"
LEARNER = "learner"
SERVER_NAMES = ("127.0.0.1", "localhost")  # what the server certificate is valid for
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"  # KRaft's own ACL store


class SecurityError(WorkbookError):
    """A TLS, SASL or ACL problem: what happened and what to do, on one line."""


@dataclass(frozen=True)
class Material:
    """What :func:`prepare` wrote, and the broker settings that use it."""

    mode: str
    dir: Path
    ca_file: Path
    bootstrap: str
    client_properties: Path
    admin_properties: Path | None = None
    users: dict[str, str] = field(default_factory=dict)  # name -> password (sasl_ssl only)

    @property
    def listener(self) -> str:
        """The client listener's name (and security protocol): SSL or SASL_SSL."""
        return self.mode.upper()

    def server_config(self, host: str, port: int, controller_port: int) -> dict[str, str]:
        """Listener, TLS, SASL and authorizer settings for a node listening on ``host:port``.

        They override the plaintext ones of ``broker.server_properties`` (the controller quorum
        and node id stay the caller's).
        """
        d = self.dir
        tls = {
            # KIP-651: Kafka reads PEM itself, no keytool. The key goes in inline (unencrypted PKCS#8):
            # a file-based PEM keystore must hold an encrypted key, and Java 17 cannot decrypt the
            # PBES2 encryption that cryptography writes ("PBES2 SecretKeyFactory not available").
            # server.properties is therefore readable by its owner only.
            "ssl.keystore.type": "PEM",
            "ssl.keystore.certificate.chain": _one_line(d / "server-chain.pem"),
            "ssl.keystore.key": _one_line(d / "server-key.pem"),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.ca_file),
            # brokers verify each other's host names too (the default since Kafka 2.0, KIP-294)
            "ssl.endpoint.identification.algorithm": "https",
        }
        name = self.listener
        out = {
            "listeners": f"{name}://{host}:{port},CONTROLLER://{host}:{controller_port}",
            "advertised.listeners": f"{name}://{host}:{port}",
            "inter.broker.listener.name": name,
            **tls,
        }
        if self.mode == "ssl":
            out["listener.security.protocol.map"] = "CONTROLLER:PLAINTEXT,SSL:SSL"
            return out
        admin_pw = self.users[ADMIN]
        out.update({
            # the controller listener authenticates with SASL/PLAIN (SCRAM users live in the metadata
            # log the controller serves, so KRaft controllers cannot use SCRAM themselves); only
            # admin is known to it, and admin is a super user for the authorizer
            "listener.security.protocol.map": "CONTROLLER:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config":
                "org.apache.kafka.common.security.plain.PlainLoginModule required "
                f'username="{ADMIN}" password="{admin_pw}" user_{ADMIN}="{admin_pw}";',
            "sasl.enabled.mechanisms": MECHANISM,
            "listener.name.sasl_ssl.sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": _jaas(ADMIN, admin_pw),
            "authorizer.class.name": AUTHORIZER,
            "super.users": f"User:{ADMIN}",
            # no ACL means no access (the default, said out loud because lesson 08 teaches it)
            "allow.everyone.if.no.acl.found": "false",
        })
        return out

    def cluster_configs(self) -> tuple[dict[str, str], dict[str, str]]:
        """``(broker settings, controller settings)`` for a cluster whose controller is a node of its own.

        The listeners themselves are the cluster's; these add TLS and, for sasl_ssl, SCRAM, the
        SASL/PLAIN controller listener (admin only) and the authorizer on brokers and controller."""
        full = self.server_config("127.0.0.1", 1, 2)
        drop = ("listeners", "advertised.listeners", "inter.broker.listener.name")
        broker = {k: v for k, v in full.items() if k not in drop}
        if self.mode == "ssl":
            broker.pop("listener.security.protocol.map")  # the cluster's own: CONTROLLER:PLAINTEXT,SSL:SSL
            return broker, {}
        controller_keys = ("listener.security.protocol.map", "sasl.mechanism.controller.protocol",
                           "listener.name.controller.sasl.enabled.mechanisms",
                           "listener.name.controller.plain.sasl.jaas.config", "authorizer.class.name", "super.users",
                           "allow.everyone.if.no.acl.found")
        controller = {k: full[k] for k in controller_keys}
        controller["listener.security.protocol.map"] = "CONTROLLER:SASL_PLAINTEXT"
        return broker, controller

    def format_args(self) -> list[str]:
        """StorageTool ``format`` arguments that create the SCRAM users in the metadata log (KIP-900)."""
        args: list[str] = []
        for name, pw in self.users.items():
            args += ["--add-scram", f"{MECHANISM}=[name={name},password={pw}]"]
        return args

    def settings(self, user: str = LEARNER, password: str | None = None, *, ca_file: Path | None = None) -> dict[str, str]:
        """Java-style client settings (without ``bootstrap.servers``) for ``user``."""
        return client_settings(self.mode, ca_file or self.ca_file,
                               user if self.mode == "sasl_ssl" else None,
                               (password or self.users.get(user)) if self.mode == "sasl_ssl" else None)


# --------------------------------------------------------------------------- files


def _jaas(user: str, password: str) -> str:
    return f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{user}" password="{password}";'


def _one_line(path: Path) -> str:
    """A PEM file on one line for a .properties value (Kafka's PEM parser ignores whitespace)."""
    return " ".join(path.read_text().split())


def _write_private(path: Path, data: str | bytes) -> None:
    """Write a file only its owner can read (keys, passwords)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)


def client_settings(mode: str, ca_file: Path | str, user: str | None = None, password: str | None = None) -> dict[str, str]:
    """The Java-style settings a client needs for ``mode`` (contract 2 in the team brief)."""
    if mode == "plaintext":
        return {}
    out = {"security.protocol": mode.upper(), "ssl.truststore.type": "PEM",
           "ssl.truststore.location": str(ca_file)}
    if mode == "sasl_ssl":
        out["sasl.mechanism"] = MECHANISM
        out["sasl.jaas.config"] = _jaas(user or LEARNER, password or "")
    return out


def write_properties(path: Path, bootstrap: str, settings: dict[str, str], comment: str = "") -> Path:
    """A client properties file (Java dialect), usable as ``--command-config`` by Kafka's tools."""
    lines = [f"# {line}" for line in comment.splitlines() if line] if comment else []
    lines.append(f"bootstrap.servers={bootstrap}")
    lines += [f"{k}={v}" for k, v in settings.items()]
    secret = "sasl.jaas.config" in settings
    text = "\n".join(lines) + "\n"
    if secret:
        _write_private(path, text)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path


def _make_ca(d: Path, org: str) -> Any:
    import trustme

    return trustme.CA(organization_name=org)


def prepare(run_dir: Path | str, mode: str, bootstrap: str) -> Material:
    """Create (once per run directory) the CA, the server certificate, users and client properties.

    Files already there are reused, so a restarted broker keeps its certificate and passwords;
    ``<run dir>/security`` holds everything, and nothing is written outside ``run_dir``.
    """
    if mode not in MODES or mode == "plaintext":
        raise SecurityError(f"unknown security mode {mode!r}", "use ssl or sasl_ssl (or leave it out for plaintext)")
    d = Path(run_dir) / "security"
    d.mkdir(parents=True, exist_ok=True)
    ca_file = d / "ca.pem"
    if not (ca_file.exists() and (d / "server-chain.pem").exists() and (d / "server-key.pem").exists()):
        ca = _make_ca(d, "kafka-from-python workbook CA")
        leaf = ca.issue_cert(*SERVER_NAMES, common_name="kafka-broker",
                             not_after=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30))
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
        _write_private(d / "server-key.pem", key.private_bytes(  # Kafka wants PKCS#8, trustme writes SEC1
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (d / "server-chain.pem").write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        ca.cert_pem.write_to_path(str(ca_file))
        # a second, unrelated CA: what "the wrong CA file" looks like to a client (lesson 08)
        _make_ca(d, "some other CA").cert_pem.write_to_path(str(d / "other-ca.pem"))
    users: dict[str, str] = {}
    admin_props = None
    if mode == "sasl_ssl":
        pw_file = d / "users.json"
        try:
            users = json.loads(pw_file.read_text())
        except (OSError, ValueError):
            users = {ADMIN: secrets.token_urlsafe(18), LEARNER: secrets.token_urlsafe(12)}
            _write_private(pw_file, json.dumps(users, indent=1))
        admin_props = write_properties(d / "admin.properties", bootstrap,
                                       client_settings(mode, ca_file, ADMIN, users[ADMIN]),
                                       "the workbook's super user: for setting up ACLs, not for lessons' clients")
    note = (f"written by helpers.security for the embedded broker ({mode}); the CA below was made for this run\n"
            "use: KAFKA_CONFIG=<this file>, or Kafka's tools: --command-config <this file>")
    props = write_properties(d / "client.properties", bootstrap,
                             client_settings(mode, ca_file, LEARNER, users.get(LEARNER)), note)
    (d / "mode").write_text(mode)
    return Material(mode=mode, dir=d, ca_file=ca_file, bootstrap=bootstrap, client_properties=props,
                    admin_properties=admin_props, users=users)


def load(run_dir: Path | str) -> Material | None:
    """The material :func:`prepare` wrote into ``run_dir``, or None when the run is plaintext."""
    d = Path(run_dir) / "security"
    try:
        mode = (d / "mode").read_text().strip()
        bootstrap = _properties(d / "client.properties")["bootstrap.servers"]
    except (OSError, KeyError):
        return None
    users = json.loads((d / "users.json").read_text()) if mode == "sasl_ssl" else {}
    return Material(mode=mode, dir=d, ca_file=d / "ca.pem", bootstrap=bootstrap, client_properties=d / "client.properties",
                    admin_properties=(d / "admin.properties") if mode == "sasl_ssl" else None, users=users)


def _properties(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


# --------------------------------------------------------------------------- speaking TLS + SCRAM ourselves


def ssl_context(ca_file: Path | str | None, check_hostname: bool = True) -> ssl.SSLContext:
    """A client TLS context trusting ``ca_file`` (the system's CAs when None)."""
    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    ctx.check_hostname = check_hostname
    return ctx


def _scram_authenticate(sock: socket.socket, user: str, password: str) -> None:
    """SaslHandshake v1 + SaslAuthenticate v0 carrying SCRAM-SHA-512 (RFC 5802, RFC 7677)."""
    mech = MECHANISM.encode()
    data = protocol._request(sock, 17, 1, struct.pack(">h", len(mech)) + mech, 10)
    (err,) = struct.unpack_from(">h", data, 0)
    if err:
        raise SecurityError(f"the broker does not offer {MECHANISM} (SaslHandshake error {err})",
                            "check sasl.enabled.mechanisms on the listener")

    def authenticate(payload: bytes, cid: int) -> bytes:
        answer = protocol._request(sock, 36, 0, struct.pack(">i", len(payload)) + payload, cid)
        (code,) = struct.unpack_from(">h", answer, 0)
        msg, pos = protocol._string(answer, 2)
        if code:
            raise SecurityError(f"SASL authentication as {user!r} failed: {msg or code}", "check the user name and password")
        (n,) = struct.unpack_from(">i", answer, pos)
        return answer[pos + 4:pos + 4 + n]

    nonce = base64.b64encode(secrets.token_bytes(18)).decode()
    name = user.replace("=", "=3D").replace(",", "=2C")
    first_bare = f"n={name},r={nonce}"
    server_first = authenticate(f"n,,{first_bare}".encode(), 11).decode()
    fields = dict(item.split("=", 1) for item in server_first.split(","))
    if not fields.get("r", "").startswith(nonce):
        raise SecurityError("the broker's SCRAM answer does not echo our nonce", "is this really the Kafka broker?")
    salted = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
    client_key = hmac.digest(salted, b"Client Key", "sha512")
    without_proof = f"c=biws,r={fields['r']}"
    auth_message = f"{first_bare},{server_first},{without_proof}".encode()
    signature = hmac.digest(hashlib.sha512(client_key).digest(), auth_message, "sha512")
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature))).decode()
    server_final = authenticate(f"{without_proof},p={proof}".encode(), 12).decode()
    expected = hmac.digest(hmac.digest(salted, b"Server Key", "sha512"), auth_message, "sha512")
    if server_final != "v=" + base64.b64encode(expected).decode():
        raise SecurityError("the broker's SCRAM signature is wrong", "is this really the Kafka broker?")


def probe(address: str, mode: str, ca_file: Path | str | None, user: str | None = None, password: str | None = None,
          timeout: float = 3.0, topic: str | None = None) -> protocol.BrokerInfo:
    """ApiVersions + Metadata over TLS (and SCRAM for sasl_ssl) at ``address``; raises on any failure."""
    host, port = protocol.split_address(address)
    import time

    t0 = time.monotonic()
    raw = socket.create_connection((host, port), timeout=timeout)
    try:
        raw.settimeout(timeout)
        sock = ssl_context(ca_file).wrap_socket(raw, server_hostname=host)
    except BaseException:
        raw.close()
        raise
    with sock:
        versions = protocol._parse_api_versions(protocol._request(sock, 18, 0, b"", 1))
        if mode == "sasl_ssl":
            _scram_authenticate(sock, user or ADMIN, password or "")
        brokers, cluster_id, leaders = protocol._parse_metadata_v4(
            protocol._request(sock, 3, 4, protocol.metadata_body(topic), 2))
    return protocol.BrokerInfo(address, versions, brokers, cluster_id, time.monotonic() - t0, leaders)


def is_ready(address: str, material: Material, timeout: float = 2.0) -> bool:
    """True when the secured listener at ``address`` completes TLS (+ SCRAM as admin) and lists a live broker."""
    try:
        return bool(probe(address, material.mode, material.ca_file, ADMIN, material.users.get(ADMIN), timeout).brokers)
    except (OSError, ValueError, struct.error, ConnectionError, SecurityError):
        return False


# --------------------------------------------------------------------------- one-line answers

_JAAS_USER = re.compile(r'username\s*=\s*"([^"]*)"')
_JAAS_PASSWORD = re.compile(r'password\s*=\s*"([^"]*)"')


def _client_view(settings: dict[str, Any] | None) -> dict[str, Any]:
    """Protocol, CA file, host-name check, user and password from Java-style or librdkafka-style settings."""
    s = {str(k): v for k, v in (settings or {}).items()}
    jaas = str(s.get("sasl.jaas.config", ""))
    user = s.get("sasl.username") or (m.group(1) if (m := _JAAS_USER.search(jaas)) else None)
    password = s.get("sasl.password") or (m.group(1) if (m := _JAAS_PASSWORD.search(jaas)) else None)
    return {
        "protocol": str(s.get("security.protocol", "PLAINTEXT")).upper(),
        "ca": s.get("ssl.truststore.location") or s.get("ssl.ca.location") or None,
        "check_hostname": str(s.get("ssl.endpoint.identification.algorithm", "https")).lower() == "https",
        "user": user, "password": password,
    }


def _tls_answers(host: str, port: int, timeout: float) -> bool:
    """True when something at host:port completes a TLS handshake (certificate not checked)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            raw.settimeout(timeout)
            with ctx.wrap_socket(raw, server_hostname=host):
                return True
    except (OSError, ValueError):
        return False


def _plaintext_answers(address: str, timeout: float) -> bool:
    try:
        protocol.probe(address, timeout)
        return True
    except (OSError, ValueError, struct.error, ConnectionError):
        return False


def _names_on_certificate(host: str, port: int, timeout: float) -> str:
    """The subject alternative names of the server certificate at host:port ('' when unreadable)."""
    try:
        from cryptography import x509

        pem = ssl.get_server_certificate((host, port), timeout=timeout)
        cert = x509.load_pem_x509_certificate(pem.encode())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return ", ".join([str(n) for n in san.get_values_for_type(x509.DNSName)] +
                         [str(n) for n in san.get_values_for_type(x509.IPAddress)])
    except Exception:  # no SAN, not TLS, gone: the caller words the answer without the names
        return ""


def diagnose(bootstrap: str, settings: dict[str, Any] | None = None, timeout: float = 5.0) -> SecurityError | None:
    """Connect to the first bootstrap address the way ``settings`` say and name what fails, or None.

    Speaks TLS and SCRAM itself (Python's ``ssl`` and :func:`_scram_authenticate`), so the answer does
    not depend on which client hit the problem: unknown CA, host name not on the certificate, TLS
    client on a plaintext port, plaintext client on a TLS port, wrong user or password.
    """
    view = _client_view(settings)
    address = bootstrap.split(",")[0].strip()
    host, port = protocol.split_address(address)
    proto = view["protocol"]
    if proto in ("PLAINTEXT", "SASL_PLAINTEXT"):
        if _plaintext_answers(address, timeout):
            return None
        if _tls_answers(host, port, timeout):
            return SecurityError(f"{address} is a TLS listener, but the client speaks plaintext (security.protocol={proto})",
                                 "set security.protocol=SSL (or SASL_SSL) and the CA file, e.g. from the broker's client.properties")
        return None  # nothing answers at all: a reachability problem, not a security one
    if proto not in ("SSL", "SASL_SSL"):
        return SecurityError(f"security.protocol={proto} is not one Kafka knows",
                             "use PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
    try:
        probe(address, "sasl_ssl" if proto == "SASL_SSL" else "ssl", view["ca"],
              view["user"], view["password"] or "", timeout) if view["check_hostname"] else \
            _probe_no_hostname(address, proto, view, timeout)
        return None
    except ssl.SSLCertVerificationError as exc:
        code = exc.verify_code
        if code in (62, 64):  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
            names = _names_on_certificate(host, port, timeout)
            return SecurityError(f"the broker's certificate is not valid for {host!r}"
                                 + (f" (it names {names})" if names else "") + ": hostname verification failed",
                                 "connect with a name on the certificate (bootstrap.servers), or have the certificate "
                                 "reissued for this name; switching the check off removes TLS's protection")
        if view["ca"]:
            return SecurityError(f"the broker's certificate is not signed by the CA in {view['ca']} "
                                 f"(certificate verify failed: {exc.verify_message})",
                                 "use the CA file that belongs to this cluster (ssl.truststore.location / ssl.ca.location)")
        return SecurityError(f"no CA file was given, and the system's CAs do not vouch for the broker at {address} "
                             f"(certificate verify failed: {exc.verify_message})",
                             "give the cluster's CA: ssl.truststore.location (Java), ssl.ca.location (librdkafka), "
                             "ssl_cafile (kafka-python), SslConfig(cafile=...) (pykafka)")
    except SecurityError as exc:
        if "authentication" in exc.what:
            return SecurityError(f"the broker refused the login of {view['user']!r}: {exc.what.split(': ', 1)[-1]}",
                                 "check sasl.jaas.config (username and password) or sasl.username / sasl.password; "
                                 "the mechanism is " + MECHANISM)
        return exc
    except FileNotFoundError:
        return SecurityError(f"the CA file {view['ca']} does not exist", "point ssl.truststore.location at the cluster's CA (a PEM file)")
    except ssl.SSLError as exc:
        if "PEM" in str(exc) or "x509" in str(exc).lower() or "no certificate" in str(exc).lower():
            return SecurityError(f"the CA file {view['ca']} is not a PEM certificate ({exc.reason})",
                                 "use the PEM file of the cluster's CA")
        return _tls_on_plaintext(address, exc, timeout)
    except (ConnectionError, OSError) as exc:
        return _tls_on_plaintext(address, exc, timeout)
    return None


def _probe_no_hostname(address: str, proto: str, view: dict[str, Any], timeout: float) -> None:
    host, port = protocol.split_address(address)
    with socket.create_connection((host, port), timeout=timeout) as raw:
        raw.settimeout(timeout)
        with ssl_context(view["ca"], check_hostname=False).wrap_socket(raw, server_hostname=host) as sock:
            protocol._parse_api_versions(protocol._request(sock, 18, 0, b"", 1))
            if proto == "SASL_SSL":
                _scram_authenticate(sock, view["user"] or "", view["password"] or "")


def _tls_on_plaintext(address: str, exc: BaseException, timeout: float) -> SecurityError | None:
    if _plaintext_answers(address, timeout):
        return SecurityError(f"{address} is a plaintext listener, but the client speaks TLS",
                             "use the broker's TLS port, or security.protocol=PLAINTEXT for this port")
    return None


# Kafka error codes a client reports for a missing ACL
_AUTHZ = {29: "topic", 30: "group", 31: "cluster", 53: "transactional id"}
_AUTHZ_NAMES = {"TOPIC_AUTHORIZATION_FAILED": 29, "TopicAuthorizationFailed": 29,
                "GROUP_AUTHORIZATION_FAILED": 30, "GroupAuthorizationFailed": 30,
                "CLUSTER_AUTHORIZATION_FAILED": 31, "ClusterAuthorizationFailed": 31,
                "TRANSACTIONAL_ID_AUTHORIZATION_FAILED": 53, "TransactionalIdAuthorizationFailed": 53}
_GRANT = {29: "Write (to produce) or Read (to consume) on the topic", 30: "Read on the group",
          31: "Write on the topic (or IdempotentWrite on the cluster)",
          53: "Write on the transactional id"}


def _error_code(error: Any) -> int | None:
    """A Kafka error code from any client's error object, or None."""
    for attr in ("errno", "code"):  # kafka-python errors have .errno; confluent KafkaError .code()
        value = getattr(error, attr, None)
        value = value() if callable(value) else value
        if isinstance(value, int) and value in _AUTHZ:
            return value
    if error is not None and getattr(error, "args", None):  # confluent KafkaException(KafkaError)
        inner = error.args[0]
        if inner is not error and not isinstance(inner, (str, bytes)):
            return _error_code(inner)
    text = f"{type(error).__name__} {error}"
    for name, code in _AUTHZ_NAMES.items():
        if name in text:
            return code
    return None


def explain(error: Any, bootstrap: str | None = None, settings: dict[str, Any] | None = None, *,
            user: str | None = None, resource: str | None = None, timeout: float = 5.0) -> SecurityError | None:
    """The one-line answer for a client's TLS, SASL or ACL error (any of the three clients), or None.

    ``error`` is the exception, a confluent-kafka ``KafkaError`` or a message. Authorization errors
    are recognised from their Kafka error code; anything vague (a timeout, "no brokers available",
    a transport failure) is checked with :func:`diagnose` when ``bootstrap`` is given.
    """
    code = _error_code(error)
    if code is not None:
        who = user or _client_view(settings)["user"] or "this client"
        what = f"{_AUTHZ[code]} {resource!r}" if resource and code in (29, 30) else f"that {_AUTHZ[code]}"
        why = "no ACL grants it"
        if code == 31:
            what, why = "the cluster", ("an idempotent producer needs IdempotentWrite on the cluster "
                                        "or Write on at least one topic, KIP-679")
        return SecurityError(f"{who} may not use {what}: {_AUTHZ_NAMES_BY_CODE[code]} ({why})",
                             f"an admin grants {_GRANT[code]} to User:{who} (Admin API create_acls, or kafka-acls.sh)")
    text = str(error)
    view = _client_view(settings)
    if "SASL authentication error" in text or "SaslAuthenticationFailed" in f"{type(error).__name__} {text}" \
            or "invalid credentials" in text:
        return SecurityError(f"the broker refused the login of {view['user']!r}: invalid user name or password ({MECHANISM})",
                             "check sasl.jaas.config (username and password) or sasl.username / sasl.password")
    if bootstrap:
        return diagnose(bootstrap, settings, timeout)
    return None


_AUTHZ_NAMES_BY_CODE = {29: "TopicAuthorizationFailed", 30: "GroupAuthorizationFailed",
                        31: "ClusterAuthorizationFailed", 53: "TransactionalIdAuthorizationFailed"}
