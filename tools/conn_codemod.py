"""Rewrite notebook code cells to the connection convention (helpers.connection); re-runnable.

    .venv/bin/python tools/conn_codemod.py [notebooks/NN_x.ipynb ...]   # default: every lesson
    .venv/bin/python tools/conn_codemod.py --check                        # exit 1 if anything would change

Only code-cell SOURCES change; outputs, metadata and markdown are left exactly as they are. The rules:

* ``bootstrap = kafka.bootstrap`` becomes ``conn = kafka.connection`` (a notebook without that line gets
  ``conn = kafka.connection`` right after ``kafka = ensure_broker()``);
* helpers are called with ``conn`` (the ``bootstrap`` variable, ``kafka.bootstrap`` as a helper's
  argument, and ``bootstrap=`` keywords);
* raw clients are built from ``conn.config(client, role)``: ``KafkaProducer(**conn.config("kafka-python"), ...)``,
  ``Consumer({**conn.config("confluent-kafka", "consumer"), ...})``, ``KafkaClient(**conn.config("pykafka"))``,
  and ``clients.ck_conf(bootstrap, {...})`` the same way;
* ``"--bootstrap-server", bootstrap`` in a tool's arguments becomes ``*tools.connection_args(conn)``;
* names that moved out of helpers.clients are called from their new modules (producing, consuming,
  partitioning), and those modules are added to the notebook's ``from helpers import ...`` line.

Anything that still names a plain address afterwards is reported, cell by cell, for a person to decide.
Running it twice changes nothing the second time.
"""
from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MOVED = {
    "producing": ["producer_defaults", "kafka_python_acks", "batching_experiment", "batching_chart",
                  "compression_chart", "compression_experiment", "producer_error", "error_table",
                  "pykafka_stop_loss", "ERROR_CASES", "ErrorReport"],
    "consuming": ["BackgroundConsumer", "rebalance_story", "pykafka_rdkafka_balanced_error"],
    "partitioning": ["key_partitions"],
}
HELPER_MODULES = {p.stem for p in (ROOT / "helpers").glob("*.py") if not p.stem.startswith("_")}
B = r"(?:kafka\.)?\bbootstrap\b"  # the address as lessons spelled it
ROLE = {"KafkaProducer": None, "KafkaConsumer": "consumer", "KafkaAdminClient": "admin",
        "Producer": None, "Consumer": "consumer", "AdminClient": "admin", "AIOProducer": None, "AIOConsumer": "consumer"}


def _config(client: str, role: str | None) -> str:
    return f'conn.config("{client}"' + (f', "{role}"' if role else "") + ")"


def _matching(src: str, open_at: int) -> int:
    """Index of the bracket closing the one at ``open_at`` (strings and comments skipped)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    depth, i, quote = 0, open_at, ""
    while i < len(src):
        ch = src[i]
        if quote:
            if ch == "\\":
                i += 1
            elif src.startswith(quote, i):
                i += len(quote) - 1
                quote = ""
        elif ch in "\"'":
            quote = src[i:i + 3] if src[i:i + 3] in ('"""', "'''") else ch
            i += len(quote) - 1
        elif ch == "#":
            i = src.find("\n", i)
            if i < 0:
                return -1
        elif ch in pairs:
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _ck_conf_calls(src: str) -> str:
    """``clients.ck_conf(B)`` -> ``conn.config("confluent-kafka", role)``; with a dict literal, spread it."""
    out, pos = [], 0
    for m in re.finditer(r"\bclients\.ck_conf\(", src):
        if m.start() < pos:
            continue
        close = _matching(src, m.end() - 1)
        if close < 0:
            continue
        args = src[m.end():close]
        am = re.match(r"\s*" + B + r"\s*(?:,\s*(\{.*\}))?\s*$", args, re.S)
        if not am:
            continue
        before = src[:m.start()]
        ctor = re.search(r"\b(\w+)\(\s*$", before)
        role = ROLE.get(ctor.group(1)) if ctor else None
        extra = am.group(1)
        if role is None and extra and '"group.id"' in extra:
            role = "consumer"
        call = _config("confluent-kafka", role)
        new = call if not extra else "{**" + call + ", " + extra.strip()[1:]
        if extra and "\n" in new:  # continuation lines: aligned just inside the new dict's brace
            shift = -(src.index("{", m.end()) - m.start())
            head, *rest = new.split("\n")
            new = "\n".join([head] + [(" " * shift + ln) if shift > 0 else ln[min(-shift, len(ln) - len(ln.lstrip())):]
                                       for ln in rest])
        out.append(src[pos:m.start()] + new)
        pos = close + 1
    return "".join(out) + src[pos:]


def _raw_clients(src: str) -> str:
    for name in ("KafkaProducer", "KafkaConsumer", "KafkaAdminClient"):
        role = ROLE[name]
        src = re.sub(r"\b(" + name + r"\((?:[^()]*?, )?)bootstrap_servers=" + B,
                     lambda m: m.group(1) + "**" + _config("kafka-python", role), src)
    src = re.sub(r"\bKafkaClient\(hosts=" + B, lambda m: "KafkaClient(**" + _config("pykafka", None), src)
    for name in ("Producer", "Consumer", "AdminClient", "AIOProducer", "AIOConsumer"):
        role = ROLE[name]
        src = re.sub(r"\b" + name + r"\(\{\s*\"bootstrap\.servers\": " + B + r"\s*\}\)",
                     lambda m: f"{name}({_config('confluent-kafka', role)})", src)
        src = re.sub(r"\b" + name + r"\(\{\s*\"bootstrap\.servers\": " + B + r",\s*",
                     lambda m: f"{name}({{**{_config('confluent-kafka', role)}, ", src)
    src = re.sub(r"\"--bootstrap-server\",\s*" + B, "*tools.connection_args(conn)", src)
    # protocol.probe speaks plaintext; check_reachable probes the connection (TLS too) and returns the same BrokerInfo
    if re.search(r"\bprotocol\.probe\(" + B + r"\)", src):
        src = re.sub(r"\bprotocol\.probe\(" + B + r"\)", "broker.check_reachable(conn)", src)
        names = "broker, protocol" if re.search(r"\bprotocol\.", src) else "broker"
        src = re.sub(r"^from helpers import protocol$", "from helpers import " + names, src, flags=re.M)
    return src


def _rename(src: str) -> str:
    """The remaining ``bootstrap`` names -> ``conn`` (``conn.bootstrap`` where a plain address is wanted);
    ``kafka.bootstrap`` passed to a helper -> ``conn``."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(src).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return src
    lines = src.splitlines(keepends=True)
    edits: list[tuple[tuple[int, int], tuple[int, int], str]] = []
    for i, t in enumerate(toks):
        if t.type == tokenize.STRING and re.match(r"(?i)[rb]?f", t.string) and t.start[0] == t.end[0]:
            new = _fstring(t.string)  # Python 3.11 tokenizes an f-string as one token: rename inside its {...}
            if new != t.string:
                edits.append((t.start, t.end, new))
            continue
        if t.type != tokenize.NAME or t.string != "bootstrap":
            continue
        prev = toks[i - 1].string if i else ""
        if prev == ".":
            if i >= 2 and toks[i - 2].string == "kafka" and _in_helper_call(toks, i - 2):
                edits.append((toks[i - 2].start, t.end, "conn"))
            continue
        nxt = toks[i + 1].string if i + 1 < len(toks) else ""
        before = toks[i - 2].string if i >= 2 else ""
        if prev == ":" and before in ('"bootstrap.servers"', '"bootstrap_servers"'):
            edits.append((t.start, t.end, "conn.bootstrap"))  # a settings dict: the address itself
        elif nxt == "=" and prev in ("(", ","):  # a keyword argument bootstrap=...
            edits.append((t.start, t.end, "conn"))
        else:
            edits.append((t.start, t.end, "conn"))
    for (r, c), (r2, c2), new in reversed(edits):
        if r != r2:
            continue
        lines[r - 1] = lines[r - 1][:c] + new + lines[r - 1][c2:]
    return "".join(lines)


def _fstring(text: str) -> str:
    """``bootstrap`` -> ``conn`` inside the replacement fields of one f-string literal."""
    def field(m: re.Match) -> str:
        return re.sub(r"(?<![.\w\"'])bootstrap\b", "conn", m.group(0))
    return re.sub(r"(?<!\{)\{[^{}]*\}", field, text)


def _in_helper_call(toks: list[tokenize.TokenInfo], i: int) -> bool:
    """True when token ``i`` is an argument of ``module.function(`` for a helpers module (not protocol)."""
    depth = 0
    for j in range(i - 1, 2, -1):
        s = toks[j].string
        if s in (")", "]", "}"):
            depth += 1
        elif s in ("[", "{"):
            if depth == 0:
                return False
            depth -= 1
        elif s == "(":
            if depth == 0:
                return (toks[j - 2].string == "." and toks[j - 3].string in HELPER_MODULES
                        and toks[j - 3].string != "protocol") or toks[j - 1].string in ("GroupRunner", "Feed")
            depth -= 1
        elif toks[j].type == tokenize.NEWLINE:
            return False
    return False


def _moved(src: str) -> str:
    for module, names in MOVED.items():
        for n in names:
            src = re.sub(r"\bclients\." + n + r"\b", f"{module}.{n}", src)
    return src


def convert_source(src: str) -> str:
    """One code cell's source in the new convention (idempotent)."""
    src = re.sub(r"^(\s*)bootstrap = kafka\.bootstrap\b[^\n]*$", r"\1conn = kafka.connection", src, flags=re.M)
    src = _ck_conf_calls(src)
    src = _raw_clients(src)
    src = re.sub(r"(\w+\([^()]*?)\bbootstrap=kafka\.bootstrap\b", r"\1conn=conn", src)
    src = _rename(src)
    return _moved(src)


def _add_imports(cells: list[dict]) -> None:
    """Add the modules the converted cells now use to the notebook's first ``from helpers import`` line."""
    code = "\n".join(_src(c) for c in cells)
    need = {m for m in (*MOVED, "tools") if re.search(rf"\b{m}\.", code)}
    for c in cells:
        src = _src(c)
        m = re.search(r"^from helpers import ([\w, ]+)$", src, re.M)
        if not m or "ensure_broker" in m.group(1):
            continue
        have = [n.strip() for n in m.group(1).split(",") if n.strip()]
        missing = sorted(need - set(have) - {n for n in need if re.search(rf"^from helpers import .*\b{n}\b", code, re.M)})
        if missing:
            upper = [n for n in have if n[:1].isupper()]
            names = upper + sorted({n for n in have if not n[:1].isupper()} | set(missing))
            _set(c, src[:m.start(1)] + ", ".join(names) + src[m.end(1):])
        return


def _ensure_conn(cells: list[dict]) -> None:
    """A notebook that never had ``bootstrap = kafka.bootstrap`` gets ``conn = kafka.connection`` after ensure_broker()."""
    code = "\n".join(_src(c) for c in cells)
    if re.search(r"^\s*conn = kafka\.connection\b", code, re.M) or not re.search(r"\bconn\b", code):
        return
    for c in cells:
        src = _src(c)
        m = re.search(r"^kafka = ensure_broker\([^\n]*\)[^\n]*$", src, re.M)
        if m:
            _set(c, src[:m.end()] + "\nconn = kafka.connection" + src[m.end():])
            return


def _src(cell: dict) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _set(cell: dict, text: str) -> None:
    cell["source"] = text.splitlines(keepends=True) if isinstance(cell.get("source"), list) else text


LEFT = [
    (r"\bkafka\.bootstrap\b", "kafka.bootstrap is a plain address: fine for display, plaintext-only as a client's address"),
    (r"\bprotocol\.probe\(", "protocol.probe speaks plaintext unless given ssl_context: use broker.check_reachable(conn) "
                             "on a secured cluster"),
    (r"bootstrap_servers=(?!conn)", "a kafka-python client built without conn.config(...)"),
    (r"hosts=(?!conn)", "a pykafka client built without conn.config(...)"),
    (r"\"bootstrap\.servers\":\s*(?!conn)", "a confluent-kafka config written by hand"),
    (r"\b\w+\.bootstrap\b(?<!conn\.bootstrap)(?<!kafka\.bootstrap)", "another handle's plain address"),
]


def _binds_bootstrap(line: str) -> bool:
    """True for an assignment to a variable ``bootstrap`` other than ``bootstrap = kafka.bootstrap``."""
    m = re.match(r"^\s*(?:for\s+)?([\w\s,()]*\bbootstrap\b[\w\s,()]*?)\s*(?:=(?!=)|\bin\b)(.*)$", line)
    return bool(m) and not re.match(r"^\s*kafka\.bootstrap\b", m.group(2)) and "(" not in m.group(1).split("bootstrap")[0][-1:]


def convert(path: Path, write: bool = True) -> tuple[bool, list[str]]:
    """Convert one notebook; returns (changed, report lines)."""
    raw = path.read_text()
    nb = json.loads(raw)
    cells = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    other = [line.strip() for c in cells for line in _src(c).splitlines() if _binds_bootstrap(line)]
    if other:  # its own variable named bootstrap (a string from elsewhere): renaming it would mislead
        return False, [f"{path.name}: left as it is, it binds bootstrap itself: {other[0][:80]}"]
    before = [_src(c) for c in cells]
    for c in cells:
        new = convert_source(_src(c))
        if new != _src(c):
            _set(c, new)
    _ensure_conn(cells)
    _add_imports(cells)
    changed = [_src(c) for c in cells] != before
    report = []
    for i, c in enumerate(nb.get("cells", [])):
        if c.get("cell_type") != "code":
            continue
        for n, line in enumerate(_src(c).splitlines(), 1):
            for pattern, why in LEFT:
                if re.search(pattern, line) and not re.search(r"#.*codemod: ok", line):
                    report.append(f"{path.name} cell {i} line {n}: {line.strip()[:90]}  <- {why}")
                    break
    if changed and write:
        path.write_text(_dump(nb))
    return changed, report


def _dump(nb: dict) -> str:
    """Serialised as Jupyter and tools/normalise.py write notebooks (nbformat), so nothing else sees a change."""
    try:
        import nbformat
    except ImportError:  # pragma: no cover - nbformat comes with jupyter
        return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    return nbformat.writes(nbformat.from_dict(nb)) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook would change")
    a = ap.parse_args(argv)
    paths = a.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    would = []
    for p in paths:
        changed, report = convert(p, write=not a.check)
        if changed:
            would.append(p.name)
            print(("would change " if a.check else "converted ") + p.name)
        for line in report:
            print("  not converted: " + line)
    if not would:
        print("nothing to convert")
    return 1 if a.check and would else 0


if __name__ == "__main__":
    sys.exit(main())
