"""The Kafka jars: fetched once from Maven Central into a per-user cache, checked on every use.

One declaration says what a broker needs: ``helpers/jars/pom.xml`` (a profile per Kafka major
for its logging binding). Two routes read it and give the same jars:

* ``maven``: ``mvn dependency:copy-dependencies`` on the pom, when ``mvn`` is installed;
* ``python``: jgo's pure-Python Maven resolver (PyPI ``jgo``) on the same pom, otherwise.

Both share Maven's local repository (``~/.m2/repository``), copy into ``jars/<version>/libs``
under :func:`home`, and write ``MANIFEST.json``: each jar's size and SHA-1, checked against
Maven's published ``.sha1`` files at fetch time and against the manifest on every start.
After the first fetch nothing touches the network. One lock per version, shared by every
port and process, serialises fetching (two brokers starting at once with an empty cache).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Iterator

from . import disk
from .locking import flocked
from .errors import JarIntegrityError, JarResolutionError, WorkbookError

POM = Path(__file__).parent / "jars" / "pom.xml"
JGO_PIN = "jgo==3.2.0"  # the same pin as pyproject
# Maven gives up on a repository that accepts a connection and then says nothing for this long
# (its own default read timeout is 30 minutes); $KFP_MAVEN_TIMEOUT overrides it, in seconds.
NETWORK_TIMEOUT_S = 6
_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"  # pinned in the pom too
_NS = "http://maven.apache.org/POM/4.0.0"


def home() -> Path:
    """Where jars and run state live: ``$KFP_HOME``, else ``~/.cache/kafka-from-python``."""
    return Path(os.environ.get("KFP_HOME") or Path.home() / ".cache" / "kafka-from-python")


def jar_dir(version: str, name: str = "libs") -> Path:
    """The cache folder holding every jar the broker of ``version`` needs (``name``: another set, e.g. Connect's)."""
    return home() / "jars" / version / name


def manifest_path(version: str, name: str = "libs") -> Path:
    return jar_dir(version).parent / ("MANIFEST.json" if name == "libs" else f"MANIFEST-{name}.json")


def profile(version: str) -> str:
    """The pom profile for a Kafka version (its logging binding)."""
    return "kafka3" if version.startswith("3.") else "kafka4"


def maven_repo() -> Path:
    """Maven's local repository, shared by both routes (``$KFP_M2_REPO`` moves it)."""
    return Path(os.environ.get("KFP_M2_REPO") or Path.home() / ".m2" / "repository")


def route() -> str:
    """``maven`` when ``mvn`` is on PATH, else ``python``; ``$KFP_RESOLVER`` chooses explicitly."""
    chosen = os.environ.get("KFP_RESOLVER", "").strip().lower()
    if chosen in ("maven", "python"):
        return chosen
    return "maven" if shutil.which("mvn") else "python"


def _timeout() -> float:
    try:
        return float(os.environ.get("KFP_MAVEN_TIMEOUT") or NETWORK_TIMEOUT_S)
    except ValueError:
        return NETWORK_TIMEOUT_S


def refetch_command(version: str) -> str:
    return "python -m helpers broker jars" + ("" if version.startswith("3.9") else f" --version {version}")


# --------------------------------------------------------------------------- integrity


def sha1_of(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(version: str, name: str = "libs") -> dict | None:
    try:
        data = json.loads(manifest_path(version, name).read_text())
        return data if isinstance(data.get("jars"), dict) else None
    except (OSError, ValueError, AttributeError):
        return None


_VERIFIED: dict[Path, tuple] = {}  # per process: the stat of each jar when its SHA-1 last matched


def verify(version: str, name: str = "libs") -> list[str]:
    """What is wrong with the cached jars of ``version``: [] when every jar matches its recorded SHA-1.

    Each jar is hashed in full (about 0.1 s for a version's 56 MB); within one process a jar whose
    size, mtime and inode have not changed since it last matched is not hashed again.
    """
    data = read_manifest(version, name)
    if data is None:
        return [f"the Kafka {version} jars are not fetched yet"]
    libs = jar_dir(version, name)
    bad, stats = [], []
    for jar, entry in data["jars"].items():
        if not isinstance(entry, dict) or "sha1" not in entry:
            return [f"the Kafka {version} jar cache predates checksums"]
        try:
            st = (libs / jar).stat()
        except OSError:
            bad.append(f"{jar} is missing")
            continue
        stats.append((jar, st.st_size, st.st_mtime_ns, st.st_ino))
        if st.st_size != entry["size"]:
            bad.append(f"{jar} has {st.st_size} bytes, {entry['size']} expected")
    if bad or not data["jars"]:
        return bad or [f"the Kafka {version} jar list is empty"]
    fingerprint = tuple(stats)
    if _VERIFIED.get(libs) == fingerprint:
        return []
    bad = [f"{jar} is corrupted (its SHA-1 differs from the one checked at download)"
           for jar, entry in data["jars"].items() if sha1_of(libs / jar) != entry["sha1"]]
    if not bad:
        _VERIFIED[libs] = fingerprint
    return bad


def jars_ok(version: str, name: str = "libs") -> bool:
    """True when the cache for ``version`` is complete and every jar is intact."""
    return not verify(version, name)


def _published_sha1(jar_in_repo: Path) -> str | None:
    """The SHA-1 Maven Central published for a jar, as Maven saved it beside the jar (None if absent)."""
    try:
        text = (jar_in_repo.parent / (jar_in_repo.name + ".sha1")).read_text().strip()
    except OSError:
        return None
    return text.split()[0].lower() if text else None


def _check_fetched(artifacts: list[tuple[str, Path]], staging: Path) -> dict[str, dict]:
    """SHA-1 of each fetched jar, checked against the published checksum and the zip's own CRCs."""
    jars: dict[str, dict] = {}
    for gav, source in artifacts:
        staged = staging / source.name
        digest = sha1_of(staged)
        published = _published_sha1(source)
        if published and published != digest:
            raise JarIntegrityError(
                f"{source.name} ({gav}) in Maven's repository does not match the SHA-1 Maven Central publishes",
                f"delete {source.parent} and run `make jars` again to download it afresh",
            )
        try:
            with zipfile.ZipFile(staged) as zf:
                broken = zf.testzip()
        except (OSError, zipfile.BadZipFile):
            broken = "(not a zip)"
        if broken:
            raise JarIntegrityError(f"{source.name} ({gav}) is damaged: {broken} fails its CRC check",
                                    f"delete {source.parent} and run `make jars` again to download it afresh")
        jars[source.name] = {"size": staged.stat().st_size, "sha1": digest, "gav": gav,
                             "published_sha1": bool(published)}
    return jars


# --------------------------------------------------------------------------- progress


class _Progress:
    """One visible line about a slow fetch: rewritten in place on a terminal, every 10 s elsewhere."""

    def __init__(self, what: str, quiet: bool) -> None:
        self.what, self.quiet, self.t0 = what, quiet, time.monotonic()
        self.files, self.bytes, self.last = 0, 0, 0.0
        self.tty = sys.stdout.isatty() or "ipykernel" in sys.modules

    def update(self, files: int = 0, nbytes: int = 0, *, force: bool = False) -> None:
        self.files += files
        self.bytes += nbytes
        now = time.monotonic()
        if self.quiet or (not force and now - self.last < (0.5 if self.tty else 10)):
            return
        self.last = now
        line = f"  {self.what}: {self.files} files ({self.bytes / 1e6:.1f} MB downloaded), {now - self.t0:.0f} s"
        print("\r" + line if self.tty else line, end="" if self.tty else "\n", flush=True)

    def done(self) -> None:
        if self.last:  # something was shown: show the final count too
            self.update(force=True)
            if self.tty and not self.quiet:
                print(flush=True)


# --------------------------------------------------------------------------- the Maven route

_SIZE = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9}


def _maven_fetch(version: str, staging: Path, extra: list[str], quiet: bool, profiles: list[str]) -> list[tuple[str, Path]]:
    mvn = shutil.which("mvn")
    if not mvn:
        raise JarResolutionError(f"the Kafka {version} jars are not cached yet and Maven (`mvn`) is not installed",
                                 "install Maven, or let the pure-Python resolver fetch them: "
                                 f'pip install "{JGO_PIN}" and run `make setup` (KFP_RESOLVER=python)')
    listing = staging / "dependencies.txt"
    ms = str(int(_timeout() * 1000))
    repo = [f"-Dmaven.repo.local={os.environ['KFP_M2_REPO']}"] if os.environ.get("KFP_M2_REPO") else []
    cmd = [mvn, "-B", "-f", str(POM), f"-Dkafka.version={version}", f"-P{','.join(profiles)}",
           f"{_PLUGIN}:copy-dependencies", f"{_PLUGIN}:list", "-DincludeScope=runtime",
           f"-DoutputDirectory={staging}", "-DoutputAbsoluteArtifactFilename=true", f"-DoutputFile={listing}",
           # a mirror that accepts and never answers fails in seconds, not Maven's default 30 minutes
           f"-Daether.connector.connectTimeout={ms}", f"-Daether.connector.requestTimeout={ms}",
           f"-Dmaven.wagon.rto={ms}", *repo, *extra]
    progress = _Progress(f"Maven, Kafka {version}", quiet)
    tail: list[str] = []
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        raise JarResolutionError(f"could not run {mvn}: {exc}", "reinstall Maven, or remove it from PATH "
                                 "to use the pure-Python resolver") from None
    deadline = time.monotonic() + 900
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-80:]
            got = re.search(r"Downloaded from \S+: \S+ \(([\d.]+) (B|kB|KB|MB|GB)", line)
            progress.update(1 if got else 0, int(float(got.group(1)) * _SIZE[got.group(2)]) if got else 0)
            if time.monotonic() > deadline:
                raise JarResolutionError(f"Maven took over 15 minutes resolving Kafka {version}",
                                         "check the network and run `make setup` again")
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        progress.done()
    text = "\n".join(tail)
    if proc.returncode != 0 or not listing.exists():
        raise _maven_failure(version, text, staging, profiles)
    artifacts = []
    for line in listing.read_text().splitlines():
        m = re.match(r"\s+([^:\s]+):([^:\s]+):jar:(?:([^:\s]+):)?([^:\s]+):(compile|runtime):(\S+\.jar)", line)
        if m:
            group, artifact, _classifier, ver, _scope, path = m.groups()
            artifacts.append((f"{group}:{artifact}:{ver}", Path(path)))
    return artifacts


def _maven_failure(version: str, text: str, staging: Path, profiles: list[str]) -> WorkbookError:
    details = (f"mvn -f helpers/jars/pom.xml -Dkafka.version={version} -P{','.join(profiles)} "
               "dependency:copy-dependencies")
    if disk.mentions_full_disk(text):
        repo = maven_repo()
        fuller = staging if disk.free_mb(staging) <= disk.free_mb(repo) else repo
        return disk.full_disk_error(fuller, f"Maven fetched the Kafka {version} jars")
    url = re.search(r"from/to \S+ \((https?://[^)]+)\)", text)
    where = url.group(1) if url else "the Maven repository"
    if re.search(r"Read timed out|connect timed out|SocketTimeout|ConnectTimeout", text):
        return JarResolutionError(
            f"{where} accepted the connection but did not answer within {_timeout():.0f} s (a stalled mirror or proxy?)",
            "check the <mirror> in ~/.m2/settings.xml and the network, then run `make setup` again",
        )
    missing = re.search(r"(?:resolve|find artifact|dependencies for project)\s+([\w.\-]+:[\w.\-]+(?::[\w.\-]+)*)", text)
    what = missing.group(1) if missing else f"org.apache.kafka:kafka_2.13:{version}"
    offline = "offline" in text.lower() or "Could not transfer" in text or "UnknownHost" in text
    return JarResolutionError(
        f"Maven could not resolve {what}" + (" (offline or Maven Central unreachable)" if offline else ""),
        f"connect to the network (Maven Central) and run `make setup`; details: {details}",
    )


# --------------------------------------------------------------------------- the Python route


def pom_for(version: str, profiles: list[str]) -> bytes:
    """The pom with ``kafka.version`` set and only ``profiles`` active: what ``-D`` and ``-P`` do for mvn."""
    ET.register_namespace("", _NS)
    root = ET.fromstring(POM.read_bytes())
    prop = root.find(f"{{{_NS}}}properties/{{{_NS}}}kafka.version")
    if prop is not None:
        prop.text = version
    for prof in root.findall(f"{{{_NS}}}profiles/{{{_NS}}}profile"):
        for activation in prof.findall(f"{{{_NS}}}activation"):
            prof.remove(activation)
        pid = prof.find(f"{{{_NS}}}id")
        if pid is not None and pid.text in profiles:
            act = ET.SubElement(prof, f"{{{_NS}}}activation")
            ET.SubElement(act, f"{{{_NS}}}activeByDefault").text = "true"
    return ET.tostring(root)


class _ChecksumAlarm(logging.Handler):
    """jgo only logs a warning when a download does not match Maven Central's .sha1: remember it."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.mismatches: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "Checksum mismatch" in record.getMessage():
            self.mismatches.append(record.getMessage())


def python_artifacts(version: str, profiles: list[str], *, offline: bool = False) -> list:
    """jgo's dependency list for the pom (runtime and compile scope, as Maven's includeScope=runtime)."""
    try:
        from jgo.maven import POM as JgoPOM
        from jgo.maven import MavenContext
    except ImportError:
        raise JarResolutionError("neither Maven (`mvn`) nor the pure-Python resolver (jgo) is installed",
                                 f'run `make setup` (it installs "{JGO_PIN}"), or pip install "{JGO_PIN}"') from None
    ctx = MavenContext(repo_cache=maven_repo(), remote_repos=_remote_repos(), timeout=int(_timeout()), offline=offline)
    tmp = home() / "jars" / f".pom-{version}-{os.getpid()}.xml"
    tmp.write_bytes(pom_for(version, profiles))
    try:
        _root, nodes = ctx.pom_dependency_list(JgoPOM(tmp))
    finally:
        tmp.unlink(missing_ok=True)
    return [n.dep for n in nodes if n.dep.scope in ("compile", "runtime", None, "") and n.dep.type in ("jar", None, "")]


def _remote_repos() -> dict[str, str]:
    """Maven Central, or ``$KFP_MAVEN_REPOSITORY`` (a mirror URL) when set."""
    url = os.environ.get("KFP_MAVEN_REPOSITORY", "").strip()
    return {"central": url.rstrip("/") if url else CENTRAL}


def _python_fetch(version: str, staging: Path, quiet: bool, profiles: list[str]) -> list[tuple[str, Path]]:
    import requests

    progress = _Progress(f"Python resolver, Kafka {version}", quiet)
    alarm = _ChecksumAlarm()
    jgo_log = logging.getLogger("jgo")
    jgo_log.addHandler(alarm)
    current = ""
    try:
        deps = python_artifacts(version, profiles)
        out = []
        for dep in deps:
            current = f"{dep.groupId}:{dep.artifactId}:{dep.version}"
            cached = dep.artifact.cached_path
            fresh = cached is None or not cached.exists()
            try:
                path = Path(dep.artifact.resolve())
            except BaseException:
                if fresh and cached is not None:  # never leave a half-written jar for the next run to trust
                    cached.unlink(missing_ok=True)
                raise
            if alarm.mismatches:
                path.unlink(missing_ok=True)
                raise JarIntegrityError(f"{path.name} ({current}) does not match the SHA-1 Maven Central publishes",
                                        "run `make setup` again; if it repeats, the network or mirror alters downloads")
            shutil.copy2(path, staging / path.name)
            progress.update(1, path.stat().st_size if fresh else 0)
            out.append((current, path))
        return out
    except requests.Timeout:
        raise JarResolutionError(f"{_remote_repos()['central']} accepted the connection but did not answer within "
                                 f"{_timeout():.0f} s (fetching {current or 'the Kafka poms'})",
                                 "check the network (and KFP_MAVEN_REPOSITORY if set), then run `make setup` again") from None
    except requests.RequestException as exc:
        raise JarResolutionError(f"the Python resolver could not reach {_remote_repos()['central']} "
                                 f"({type(exc).__name__}, fetching {current or 'the Kafka poms'})",
                                 "connect to the network (Maven Central) and run `make setup` again") from None
    except (RuntimeError, ValueError, KeyError, AssertionError) as exc:
        raise JarResolutionError(f"the Python resolver could not resolve Kafka {version}: {str(exc)[:200]}",
                                 "connect to the network (Maven Central) and run `make setup` again") from None
    finally:
        jgo_log.removeHandler(alarm)
        progress.done()


# --------------------------------------------------------------------------- a stalled repository

CENTRAL = "https://repo.maven.apache.org/maven2"


def maven_mirror(maven_args: list[str]) -> str:
    """The repository Maven will ask: the first mirror of ``*``/``central`` in its settings, else Maven Central."""
    settings = Path.home() / ".m2" / "settings.xml"
    if "-s" in maven_args[:-1]:
        settings = Path(maven_args[maven_args.index("-s") + 1])
    try:
        root = ET.parse(settings).getroot()
    except (OSError, ET.ParseError):
        return CENTRAL
    for mirror in root.iter():
        if not mirror.tag.endswith("mirror"):
            continue
        fields = {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in mirror}
        if any(m in ("*", "central", "external:*") for m in fields.get("mirrorOf", "").split(",")) and fields.get("url"):
            return fields["url"]
    return CENTRAL


def _stalled(url: str, timeout: float) -> bool:
    """True when ``url``'s server accepts a connection but answers nothing within ``timeout`` seconds.

    Refused connections and unknown hosts are False: the resolver then says what it says (it may
    not need the network at all when Maven's repository already holds every jar).
    """
    import http.client
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("HEAD", (parts.path.rstrip("/") or "") + "/org/apache/kafka/kafka_2.13/maven-metadata.xml")
        conn.getresponse()
    except (TimeoutError, socket.timeout):
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
    return False


def _check_not_stalled(version: str, url: str, via: str) -> None:
    """Fail in seconds, not minutes, when the repository to fetch from accepts and never answers."""
    local = maven_repo() / "org" / "apache" / "kafka" / "kafka_2.13" / version / f"kafka_2.13-{version}.jar"
    if local.exists():  # Maven's repository already has the broker: the network may not be needed
        return
    if _stalled(url, _timeout()):
        fix = ("check the <mirror> in ~/.m2/settings.xml (or your proxy) and the network" if via == "maven"
               else "check the network (and KFP_MAVEN_REPOSITORY if set)")
        raise JarResolutionError(
            f"{url} accepted the connection but did not answer within {_timeout():.0f} s (a stalled mirror or proxy?)",
            f"{fix}, then run `make setup` again")


# --------------------------------------------------------------------------- fetching


@contextlib.contextmanager
def resolution_lock(version: str) -> Iterator[None]:
    """One fetcher per version at a time, across every port and process sharing this home."""
    root = home() / "jars"
    disk.check_writable(root, f"preparing the Kafka {version} jar cache")
    with flocked(root / f".{version}.lock"):
        yield


def resolve(version: str, *, quiet: bool = False, maven_args: list[str] | None = None,
            via: str | None = None, profiles: list[str] | None = None, name: str = "libs") -> Path:
    """The folder of the Kafka ``version`` jars, fetched first when the cache is missing or damaged.

    ``profiles`` (default: the version's logging profile) and ``name`` (default ``libs``) fetch
    another set from the same pom into ``jars/<version>/<name>``, e.g. ``["kafka3", "connect"]``.
    """
    if jars_ok(version, name):
        return jar_dir(version, name)
    with resolution_lock(version):
        problems = verify(version, name)
        if not problems:  # another process fetched them while we waited for the lock
            return jar_dir(version, name)
        if read_manifest(version, name) is not None:
            _log(f"Fetching the Kafka {version} jars again: {problems[0]}.", quiet)
        via = via or route()
        libs = jar_dir(version, name)
        staging = libs.parent / f"{name}.partial-{os.getpid()}"
        for stale in libs.parent.glob(f"{name}.partial*"):
            shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(libs, ignore_errors=True)
        manifest_path(version, name).unlink(missing_ok=True)
        doing = f"fetching the Kafka {version} jars"
        try:
            staging.mkdir(parents=True)
            if disk.free_mb(staging) < 10:
                raise disk.full_disk_error(staging, doing)
            extra = maven_args if maven_args is not None else os.environ.get("KFP_MAVEN_ARGS", "").split()
            how = "Maven" if via == "maven" else "the pure-Python resolver (jgo)"
            _log(f"Fetching the Apache Kafka {version} jars from Maven Central with {how} (once; about 60 MB)...", quiet)
            t0 = time.monotonic()
            profiles = profiles or [profile(version)]
            _check_not_stalled(version, maven_mirror(extra) if via == "maven" else _remote_repos()["central"], via)
            if via == "maven":
                artifacts = _maven_fetch(version, staging, extra, quiet, profiles)
            else:
                artifacts = _python_fetch(version, staging, quiet, profiles)
            if not any(gav.startswith("org.apache.kafka:kafka_2.13:") for gav, _ in artifacts):
                raise JarResolutionError(f"the {via} route listed no kafka_2.13 jar for Kafka {version}",
                                         f"run {refetch_command(version)} again; details in its output")
            jars = _check_fetched(artifacts, staging)
            for leftover in staging.iterdir():
                if leftover.name not in jars:
                    leftover.unlink()
            staging.rename(libs)
            manifest_path(version, name).write_text(json.dumps({"version": version, "route": via, "profiles": profiles,
                                                               "jars": jars}, indent=1))
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            # a write that filled a disk rarely names its file: blame the fuller of the cache and Maven's repository
            fuller = staging if disk.free_mb(staging) <= disk.free_mb(maven_repo()) else maven_repo()
            err = disk.storage_error(exc, fuller, doing)
            if err is None:
                raise
            raise err from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _log(f"Fetched {len(jars)} jars in {time.monotonic() - t0:.1f} s into {libs}", quiet)
        return libs


def artifact_list(version: str, name: str = "libs") -> list[str]:
    """``group:artifact:version`` of every cached jar, sorted (what the manifest recorded)."""
    data = read_manifest(version, name) or {"jars": {}}
    return sorted(e["gav"] for e in data["jars"].values() if isinstance(e, dict) and "gav" in e)


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, flush=True)
