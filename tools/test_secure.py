"""`make test-secure`: the whole suite (tests and every lesson) against an embedded broker that speaks TLS only.

Starts a second embedded broker with ``--security ssl`` on a free port (its own run directory), points
``KAFKA_CONFIG`` at the client properties file it writes, runs pytest exactly as ``make test`` does, and
stops that broker afterwards, pass or fail. Every helper, test and lesson then reaches Kafka through
``ensure_broker()`` -> ``kafka.connection``, so all three clients speak TLS. Tests that must stay on
plaintext (a second broker of their own, KAFKA_BOOTSTRAP_SERVERS semantics) skip with their reason.

    .venv/bin/python tools/test_secure.py [pytest args...]     # default: -n 3 --dist loadfile
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _properties_path(stdout: str) -> Path:
    """The client properties file named in ``broker start --security``'s output (its own line)."""
    for line in reversed(stdout.splitlines()):
        candidate = line.strip().split()[-1] if line.strip() else ""
        if candidate.endswith(".properties") and Path(candidate).is_file():
            return Path(candidate)
    raise SystemExit("broker start --security ssl printed no client properties file:\n" + stdout)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from helpers import broker

    port = broker.free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_CONFIG")}
    cli = [sys.executable, "-m", "helpers", "broker"]
    start = subprocess.run([*cli, "start", "--security", "ssl", "--port", str(port)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=180)
    if start.returncode != 0:
        print(start.stdout + start.stderr, file=sys.stderr)
        return start.returncode
    try:
        props = _properties_path(start.stdout)
        print(f"test-secure: TLS broker on 127.0.0.1:{port}, KAFKA_CONFIG={props}", flush=True)
        args = argv or ["-n", "3", "--dist", "loadfile"]
        return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=ROOT,
                              env={**env, "KAFKA_CONFIG": str(props)}).returncode
    finally:
        subprocess.run([*cli, "stop", "--port", str(port), "--wipe"], cwd=ROOT, env=env, timeout=60)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
