"""`make reliability`: faults survived, bad input refused, secrets kept out of the logs — a suite
anyone can rerun (a few minutes; not part of `make test`). It writes docs/reliability.md.

1. Schema fuzzing of every operation of /openapi.json with the credential each declares, on
   both databases (server/tests/api/test_fuzz.py with many more examples than `make test` runs).
2. Database faults: PostgreSQL connections dropped and refused under concurrent writers, SQLite's
   disk full (server/tests/api/test_database_outage.py).
3. Attempts across tenants and agents, forged and replayed credentials, tampered cookies
   (the suite's tests named so, API and pages).
4. SIGKILL durability: a real server in a child process, six concurrent writers, `kill -9` in
   the middle, a restart, and a count of acknowledged writes against what is stored, three
   rounds per database.
5. A real PostgreSQL restart: a private cluster (initdb, as the ``postgres`` system user) under
   `memoryos serve` and four writers, stopped for a few seconds and started again: what the
   writers were answered, how long the server took to recover by itself, and acknowledged
   writes against stored ones. (The shared PostgreSQL of the machine is never restarted.)
6. A scan of every log the server wrote in (4) and (5) for every secret the run created or used.

    .venv/bin/python bench/reliability.py [--rounds 3] [--fuzz-examples 30] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, code_version, command_line, machine_line, stamp  # noqa: E402
from stack import BENCH_MASTER_KEY, Stack, open_stack, postgres_problem  # noqa: E402

DOC = ROOT / "docs" / "reliability.md"
PYTHON = sys.executable
ATTACK_WORDS = (
    "other_tenant or another_tenant or wrong_tenant or cross or another_agent or other_agent or forged or replay or tamper"
)


# --- 1–3: the suite's own tests, run long ----------------------------------------------------------


@dataclass
class SuiteResult:
    name: str
    tests: int
    failed: int
    skipped: int
    seconds: float
    extra: str = ""


def run_pytest(name: str, args: list[str], env: dict[str, str] | None = None) -> SuiteResult:
    report = Path(tempfile.mkstemp(suffix=".xml")[1])
    # The long runs take longer than the suite's per-test limit (pytest.ini) allows one test.
    command = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout=3000", f"--junitxml={report}", *args]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env={**os.environ, "MEMORYOS_REQUIRE_POSTGRES": "1", **(env or {})},
                          capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if not report.stat().st_size:
        raise SystemExit(f"{name}: pytest wrote no report\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    if failed:
        print(done.stdout[-5000:], file=sys.stderr)
    return SuiteResult(name, int(suite.get("tests", 0)), failed, int(suite.get("skipped", 0)), elapsed)


def fuzz(examples: int, only_sqlite: bool) -> SuiteResult:
    counts = Path(tempfile.mkstemp(suffix=".jsonl")[1])
    args = ["server/tests/api/test_fuzz.py", *(["-k", "sqlite"] if only_sqlite else [])]
    result = run_pytest(
        "Schema fuzzing", args, {"MEMORYOS_FUZZ_EXAMPLES": str(examples), "MEMORYOS_FUZZ_REPORT": str(counts)}
    )
    totals: dict[str, dict[str, int]] = {}
    for line in counts.read_text().splitlines():
        row = json.loads(line)
        totals[row["backend"]] = row["statuses"]
    parts = []
    for backend, statuses in sorted(totals.items()):
        total = sum(statuses.values())
        server_errors = sum(n for status, n in statuses.items() if int(status) >= 500)
        by_class = ", ".join(f"{str(status)[0]}xx: {n}" for status, n in sorted(statuses.items()))
        parts.append(f"{backend}: {total} requests ({by_class}); 5xx: {server_errors}")
    result.extra = "; ".join(parts)
    return result


# --- 4: SIGKILL durability ------------------------------------------------------------------------


@dataclass
class Round:
    backend: str
    acknowledged: int
    stored: int
    lost: int
    in_flight_stored: int
    errors_before_kill: int


@dataclass
class Server:
    stack: Stack
    log_path: Path
    child: subprocess.Popen[bytes] | None = None
    base: str = ""
    logs: list[Path] = field(default_factory=list)

    def start(self) -> str:
        port = _free_port()
        env = {
            **os.environ,
            "MEMORYOS_DATABASE_URL": self.stack.url,
            "MEMORYOS_DATA_DIR": str(self.stack.data_dir / "server"),
            "MEMORYOS_MASTER_KEY": BENCH_MASTER_KEY,
            "MEMORYOS_EMBEDDER": "hashing",
            "MEMORYOS_EMAIL_BACKEND": "outbox",
            "MEMORYOS_LOG_LEVEL": "DEBUG",
            "MEMORYOS_PORT": str(port),
        }
        log = self.log_path.with_name(f"{self.log_path.stem}-{len(self.logs)}.log")
        self.logs.append(log)
        with open(log, "wb") as sink:
            self.child = subprocess.Popen(
                [PYTHON, "-m", "uvicorn", "memoryos_server.app:create_app", "--factory", "--host", "127.0.0.1",
                 "--port", str(port), "--log-level", "debug"],
                env=env, stdout=sink, stderr=subprocess.STDOUT,
            )
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if self.child.poll() is not None:
                raise RuntimeError(f"the server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return self.base
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start within 60 s")
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.child is not None
        os.kill(self.child.pid, signal.SIGKILL)
        self.child.wait()

    def stop(self) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.terminate()
            self.child.wait(timeout=15)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def durability_round(server: Server, number: int, writers: int = 6, seconds: float = 3.0) -> Round:
    base = server.start()
    headers = server.stack.headers
    acknowledged: dict[str, set[str]] = {}
    sent: dict[str, set[str]] = {}
    errors = [0]
    stop = threading.Event()
    lock = threading.Lock()

    def writer(index: int) -> None:
        user = f"durable-{number}-{index}"
        with httpx.Client(base_url=base, timeout=10) as http:
            n = 0
            while not stop.is_set():
                text = f"Round {number} writer {index} note {n} {secrets.token_hex(4)}"
                n += 1
                with lock:
                    sent.setdefault(user, set()).add(text)
                try:
                    response = http.post("/v1/memories/add", headers=headers(user),
                                         json={"messages": [{"role": "user", "content": text}], "infer": False})
                except httpx.HTTPError:
                    return  # the server is gone
                with lock:
                    if response.status_code == 200:
                        acknowledged.setdefault(user, set()).add(text)
                    else:
                        errors[0] += 1

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    base = server.start()
    stored: dict[str, set[str]] = {}
    with httpx.Client(base_url=base, timeout=30) as http:
        for user in sent:
            cursor: str | None = None
            while True:
                params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                page = http.get("/v1/memories", params=params, headers=headers(user))
                if page.status_code == 404:
                    break  # the end-user's first write never committed
                page.raise_for_status()
                body = page.json()
                stored.setdefault(user, set()).update(item["content"] for item in body["data"])
                cursor = body["pagination"]["next_cursor"]
                if not cursor:
                    break
    server.stop()
    all_acknowledged = set().union(*acknowledged.values()) if acknowledged else set()
    all_stored = set().union(*stored.values()) if stored else set()
    all_sent = set().union(*sent.values())
    return Round(
        backend=server.stack.backend,
        acknowledged=len(all_acknowledged),
        stored=len(all_stored & all_sent),
        lost=len(all_acknowledged - all_stored),
        in_flight_stored=len((all_stored & all_sent) - all_acknowledged),
        errors_before_kill=errors[0],
    )


def exercise_secrets(base: str) -> list[str]:
    """Create, through the running server, every kind of secret a deployment handles: an
    account's password, its token, an API key, an agent key. Returns them for the log scan."""
    password = f"pw-{secrets.token_urlsafe(12)}"
    with httpx.Client(base_url=base, timeout=30) as http:
        signup = http.post("/v1/auth/signup", json={"email": f"scan-{secrets.token_hex(4)}@example.com",
                                                    "password": password, "organization_name": "Log scan"})
        signup.raise_for_status()
        jwt = signup.json()["data"]["access_token"]
        bearer = {"Authorization": f"Bearer {jwt}"}
        key = http.post("/v1/tenant/api-keys", json={"name": "scan"}, headers=bearer).json()["data"]["raw_api_key"]
        agent = http.post("/v1/agents/global", json={"name": "Scanner", "redirect_uris": ["https://example.com/cb"]},
                          headers=bearer)
        agent.raise_for_status()
        agent_key = agent.json()["data"]["raw_agent_api_key"]
        # Wrong credentials too: a failed login must not log the password it was given.
        http.post("/v1/auth/login", json={"email": "nobody@example.com", "password": password + "x"})
        http.get("/v1/memories", headers={"Authorization": f"ApiKey {key}x", "X-End-User-ID": "u"})
    return [password, password + "x", jwt, key, agent_key]


def scan_logs(logs: list[Path], found_secrets: list[str]) -> tuple[int, int, list[str]]:
    leaks = []
    size = 0
    for log in logs:
        text = log.read_text(errors="replace")
        size += len(text)
        for value in found_secrets:
            if value and value in text:
                leaks.append(f"{log.name}: {value[:6]}…")
    return len(logs), size, leaks


# --- 5: a real PostgreSQL restart ------------------------------------------------------------------


@dataclass
class Restart:
    acknowledged: int
    stored: int
    lost: int
    answers: dict[int, int]
    other_errors: int
    outage_seconds: float
    recovered_after_seconds: float


class PrivateCluster:
    """A PostgreSQL cluster of our own in a temporary directory, run as the ``postgres`` user."""

    def __init__(self) -> None:
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not binaries:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = Path(binaries[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="memoryos-pg-"))
        shutil.chown(self.root, user="postgres")
        self.port = _free_port()
        self._as_postgres([str(self.bin / "initdb"), "-D", str(self.root / "data"), "-A", "trust", "-U", "postgres"])
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, command: list[str]) -> None:
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True)

    def start(self) -> None:
        self._as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-l", str(self.root / "log"), "-w",
                           "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1", "start"])

    def stop(self) -> None:
        self._as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop"])

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def can_run_private_cluster() -> str | None:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "there is no postgres system user"
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != "postgres":
        return "starting a private PostgreSQL cluster needs root or the postgres user"
    return None


def postgres_restart(down_seconds: float = 4.0) -> tuple[Restart, list[Path], list[str]]:
    cluster = PrivateCluster()
    data_dir = Path(tempfile.mkdtemp(prefix="memoryos-restart-"))
    port = _free_port()
    log = data_dir / "serve.log"
    env = {**os.environ, "MEMORYOS_DATABASE_URL": cluster.url, "MEMORYOS_DATA_DIR": str(data_dir / "data"),
           "MEMORYOS_MASTER_KEY": BENCH_MASTER_KEY, "MEMORYOS_EMBEDDER": "hashing", "MEMORYOS_EMAIL_BACKEND": "outbox",
           "MEMORYOS_LOG_LEVEL": "DEBUG", "MEMORYOS_PORT": str(port), "MEMORYOS_HOST": "127.0.0.1"}
    child: subprocess.Popen[bytes] | None = None
    try:
        cluster.start()
        with open(log, "wb") as sink:
            child = subprocess.Popen([str(Path(PYTHON).with_name("memoryos")), "serve", "--host", "127.0.0.1", "--port", str(port)],
                                     env=env, stdout=sink, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"memoryos serve did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        used = exercise_secrets(base)
        key = used[3]
        acknowledged: set[str] = set()
        sent: set[str] = set()
        answers: dict[int, int] = {}
        other = [0]
        first_ok_after: list[float] = []
        restarted_at = [0.0]
        stop = threading.Event()
        lock = threading.Lock()

        def writer(index: int) -> None:
            with httpx.Client(base_url=base, timeout=30) as http:
                n = 0
                while not stop.is_set():
                    text = f"Restart writer {index} note {n} {secrets.token_hex(4)}"
                    n += 1
                    try:
                        response = http.post("/v1/memories/add", headers={"Authorization": f"ApiKey {key}", "X-End-User-ID": "restart"},
                                             json={"messages": [{"role": "user", "content": text}], "infer": False})
                    except httpx.HTTPError:
                        with lock:
                            other[0] += 1
                        continue
                    with lock:
                        sent.add(text)
                        answers[response.status_code] = answers.get(response.status_code, 0) + 1
                        if response.status_code == 200:
                            acknowledged.add(text)
                            if restarted_at[0] and not first_ok_after:
                                first_ok_after.append(time.monotonic() - restarted_at[0])
                        elif response.status_code == 503:
                            time.sleep(0.2)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(2)
        went_down = time.monotonic()
        cluster.stop()
        time.sleep(down_seconds)
        cluster.start()
        outage = time.monotonic() - went_down
        restarted_at[0] = time.monotonic()
        time.sleep(3)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        stored: set[str] = set()
        cursor: str | None = None
        with httpx.Client(base_url=base, timeout=30) as http:
            while True:
                params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                page = http.get("/v1/memories", params=params, headers={"Authorization": f"ApiKey {key}", "X-End-User-ID": "restart"})
                page.raise_for_status()
                body = page.json()
                stored |= {item["content"] for item in body["data"]}
                cursor = body["pagination"]["next_cursor"]
                if not cursor:
                    break
        result = Restart(len(acknowledged), len(stored & sent), len(acknowledged - stored), answers, other[0], outage,
                         first_ok_after[0] if first_ok_after else float("nan"))
        return result, [log], used
    finally:
        if child is not None:
            child.terminate()
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        cluster.remove()


# --- the page ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fuzz-examples", type=int, default=20)
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL (the page says so)")
    args = parser.parse_args(argv)
    backends = ["sqlite"] if args.sqlite_only else ["sqlite", "postgresql"]
    if "postgresql" in backends and (problem := postgres_problem()):
        raise SystemExit(f"PostgreSQL is needed ({problem}); run `make system`, or pass --sqlite-only")

    suites = [fuzz(args.fuzz_examples, args.sqlite_only)]
    suites.append(run_pytest("Database faults", ["server/tests/api/test_database_outage.py",
                                                  "server/tests/services/test_email.py", "-k",
                                                  "outage or full_disk or going_away" + (" and sqlite" if args.sqlite_only else "")]))
    suites.append(run_pytest("Attempts across tenants and agents, forged, replayed, tampered",
                             ["server/tests/api", "server/tests/web/test_pages.py", "server/tests/web/test_browser_attacks.py",
                              "-k", f"({ATTACK_WORDS})" + (" and sqlite" if args.sqlite_only else "")]))

    rounds: list[Round] = []
    logs: list[Path] = []
    used_secrets: list[str] = [BENCH_MASTER_KEY]
    for backend in backends:
        stack = open_stack(backend, label="reliability", embedder="hashing")
        try:
            server = Server(stack, stack.data_dir / f"server-{backend}.log")
            used_secrets += [stack.api_key, "benchmark password"]
            used_secrets += exercise_secrets(server.start())
            server.stop()
            for number in range(args.rounds):
                rounds.append(durability_round(server, number))
                print(rounds[-1], file=sys.stderr)
            files, size, leaks = scan_logs(server.logs, used_secrets)
            logs += [Path(f"{backend}: {files} logs, {size} characters")]
            if leaks:
                raise SystemExit(f"secrets found in the server's logs: {leaks}")
        finally:
            stack.close()

    restart: Restart | None = None
    restart_skipped = "--sqlite-only" if args.sqlite_only else can_run_private_cluster()
    if restart_skipped is None:
        restart, restart_logs, restart_secrets = postgres_restart()
        print(restart, file=sys.stderr)
        used_secrets += restart_secrets
        files, size, leaks = scan_logs(restart_logs, used_secrets)
        logs += [Path(f"PostgreSQL restart: {files} log, {size} characters")]
        if leaks:
            raise SystemExit(f"secrets found in the server's logs: {leaks}")

    write_page(args, suites, rounds, logs, len(set(used_secrets)), restart, restart_skipped)
    failed = sum(s.failed for s in suites) + sum(r.lost for r in rounds) + (restart.lost if restart else 0)
    if restart and set(restart.answers) - {200, 503}:
        failed += 1
    return 1 if failed else 0


def restart_lines(restart: Restart) -> list[str]:
    answers = ", ".join(f"{status}: {n}" for status, n in sorted(restart.answers.items()))
    return [
        "| acknowledged | stored | lost | answers during the run | connection errors | down for | first 200 after the start |",
        "|---:|---:|---:|---|---:|---:|---:|",
        f"| {restart.acknowledged} | {restart.stored} | {restart.lost} | {answers} | {restart.other_errors} | "
        f"{restart.outage_seconds:.1f} s | {restart.recovered_after_seconds:.2f} s |",
        "",
        "While the database was down every add was answered 503 `SRV_503` with `Retry-After` (no 500); the",
        "server needed no restart of its own.",
    ]


def write_page(
    args: argparse.Namespace, suites: list[SuiteResult], rounds: list[Round], logs: list[Path], secrets_count: int,
    restart: Restart | None, restart_skipped: str | None,
) -> None:
    command = "make reliability" if not sys.argv[1:] else command_line("reliability.py", None)
    lines = [
        "# Reliability",
        "",
        "Faults survived, bad input refused, secrets kept out of the logs: what `make reliability` runs",
        "and what it found. It is rerun as a whole; every figure below comes from the run named here.",
        "`make test` runs a bounded version of the fuzzing (2 examples per operation and credential)",
        "and the database-fault tests, so a new 5xx or a lost write fails CI.",
        "",
        f"- Command: `{command}`",
        f"- Date: {stamp()}; code {code_version()}",
        f"- Machine: {machine_line(postgres=not args.sqlite_only)}",
        *([] if not args.sqlite_only else ["- **PostgreSQL was skipped in this run (--sqlite-only).**"]),
        "",
        "## Test suites",
        "",
        "| what | tests | failed | skipped | seconds | counts |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for suite in suites:
        lines.append(f"| {suite.name} | {suite.tests} | {suite.failed} | {suite.skipped} | {suite.seconds:.0f} | {suite.extra} |")
    lines += [
        "",
        f"Fuzzing: {args.fuzz_examples} generated requests per operation and credential (schemathesis), each answer",
        "checked against /openapi.json; no answer may be a 5xx. Database faults: PostgreSQL's connections",
        "to the server's database terminated and new ones refused (as a restart or failover does) under",
        "four concurrent writers; SQLite's file unable to grow (its `max_page_count`, answered as a full",
        "disk); a mail server that is down. Attempts: every test of the suite whose name says it tries",
        "another tenant's or agent's data, or forged, replayed or tampered credentials or forms.",
        "",
        "## SIGKILL durability",
        "",
        "A server (`uvicorn`, a child process) takes `infer:false` adds from six concurrent writers; after",
        "3 s it is killed with SIGKILL; it is started again and every end-user's memories are listed.",
        "",
        "| database | round | acknowledged | stored | lost | stored while in flight | errors before the kill |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for number, item in enumerate(rounds):
        lines.append(f"| {item.backend} | {number % args.rounds + 1} | {item.acknowledged} | {item.stored} | {item.lost} | "
                     f"{item.in_flight_stored} | {item.errors_before_kill} |")
    lines += [
        "",
        "\"Stored while in flight\" are writes the server committed but could not acknowledge before it",
        "died; the client saw a dropped connection and may retry with its idempotency key.",
        "",
        "## A PostgreSQL restart",
        "",
        "A private PostgreSQL cluster (its own `initdb`, never the machine's shared server) under `memoryos serve`",
        "and four concurrent writers: stopped (`pg_ctl stop -m fast`), left down, started again.",
        "",
        *(restart_lines(restart) if restart else [f"**Skipped in this run: {restart_skipped}.**"]),
        "",
        "## Secrets in the logs",
        "",
        f"The server ran at log level DEBUG with access logs; {secrets_count} secrets the run created or used",
        "(the master key, account passwords including a wrong one sent to /v1/auth/login, access tokens, API",
        "keys including a wrong one, an agent key) were searched for in every log it wrote:",
        "",
        *[f"- {item}: no secret found" for item in logs],
        "",
    ]
    DOC.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    raise SystemExit(main())
