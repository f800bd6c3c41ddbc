# ruff: noqa: E501  (report tables are easier to read one row per line)
"""Benchmark our chat server against the reference design (bench/reference), side by side.

    .venv/bin/python bench/run.py [--quick] [--only S1,S4,...]

Starts one SecantusDB, our server (`manage.py serve`) and the Node.js reference server on it
(different database names), creates the users, runs each scenario against both servers with the
Node.js load generator (bench/load/load.js), prints the figures and writes docs/benchmarks.md and
docs/benchmarks-latency.png. Loopback only; every child process is stopped on exit. Not a test.
"""

from __future__ import annotations

import argparse
import atexit
import concurrent.futures
import datetime as dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from chatsite import embedded_db  # noqa: E402
from chatsite.embedded_db import EmbeddedDB, free_port  # noqa: E402

REFERENCE = BENCH / "reference"
LOAD = BENCH / "load" / "load.js"
DOCS = ROOT / "docs"
SECRET = "bench-secret-key-not-for-production-0123456789abcdef"
# RSS is read again this long after everyone left (the server reclaims memory once
# the sockets have stopped leaving, and once more 30 s later; it counts them every 5 s).
L_LATER_S = 40
REFERENCE_SECRET = "reference-bench-secret-0123456789abcdefghij"
PASSWORD = "bench-password-1"
HIGH_RATES = {
    "SEND_RATE": "10000000/minute",
    "LOGIN_RATE": "10000000/minute",
    "SIGNUP_RATE": "10000000/minute",
    "REALTIME_EVENT_RATE": "10000000/s",
}

_children: list[subprocess.Popen] = []
_dbs: list[EmbeddedDB] = []


def log(*args) -> None:
    print(*args, flush=True)


# --- processes ---------------------------------------------------------------------------------


def _stop_all() -> None:
    for proc in reversed(_children):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in reversed(_children):
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    _children.clear()
    while _dbs:
        _dbs.pop().stop()


def _on_signal(signum, frame):
    _stop_all()
    sys.exit(130)


def wait_http(url: str, proc: subprocess.Popen, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not start")


class Server:
    def __init__(
        self,
        kind: str,
        label: str,
        cmd: list[str],
        env: dict,
        cwd: Path,
        logdir: Path,
        port: int | None = None,
    ):
        self.kind, self.label = kind, label
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.cmd = [c.replace("{port}", str(self.port)) for c in cmd]
        self.env = {**os.environ, **env, "PORT": str(self.port)}
        self.cwd = cwd
        self.log_path = logdir / f"{label}.log"
        self.proc: subprocess.Popen | None = None
        self.users: list[dict] = []
        self.users_file: Path | None = None

    def start(self) -> Server:
        log_file = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.cmd, env=self.env, cwd=self.cwd, stdout=log_file, stderr=subprocess.STDOUT
        )
        _children.append(self.proc)
        wait_http(self.base + "/healthz", self.proc, self.label)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def pid(self) -> int:
        return self.proc.pid


def ours_server(
    db_uri: str,
    logdir: Path,
    mode: str = "eventlet",
    label: str = "",
    port: int | None = None,
    **extra: str,
) -> Server:
    env = {
        **embedded_db.environment(db_uri),
        "MONGODB_NAME": "bench_chat",
        "DJANGO_ENV": "development",
        "DEBUG": "false",
        "SECRET_KEY": SECRET,
        "JWT_ACCESS_LIFETIME_SECONDS": "7200",
        "REALTIME_ASYNC_MODE": mode,
        "PYTHONUNBUFFERED": "1",
        "REDIS_URL": "",  # one process unless a scenario says otherwise
        **HIGH_RATES,
        **extra,
    }
    cmd = [
        sys.executable,
        str(ROOT / "manage.py"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
    ]
    label = label or ("ours" if mode == "eventlet" else f"ours-{mode}")
    return Server("ours", label, cmd, env, ROOT, logdir, port)


def restart_when_stopped(server: Server, into: dict) -> threading.Thread:
    """Start `server` again on its port as soon as its process exits (S10: the load generator
    sends it SIGTERM); `into["seconds"]`: from the exit until it answers /healthz again."""

    def watch() -> None:
        proc = server.proc
        proc.wait()
        stopped = time.monotonic()
        into["exited_epoch"] = time.time()
        if proc in _children:
            _children.remove(proc)
        if server.kind == "ours" and "--no-migrate" not in server.cmd:
            # As operators restart: the first start migrated (docs/operations.md).
            server.cmd = [*server.cmd, "--no-migrate"]
        server.start()
        into["seconds"] = round(time.monotonic() - stopped, 2)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def take_over_when_asked(server: Server, make_new, signals: Path, into: dict) -> threading.Thread:
    """S10 by hand-over: when the load generator asks (`<signals>.want`), start a new process
    on `server`'s port beside it (`REUSE_PORT`), and once that one says it serves, let the
    load generator send the old one SIGTERM (`<signals>.ready`).
    `into["new"]`: the new server; `into["seconds"]`: its start; `into["exited_epoch"]`: when
    the old one exited."""

    def watch() -> None:
        want = Path(f"{signals}.want")
        while not want.exists():
            if server.proc.poll() is not None:
                return
            time.sleep(0.1)
        started = time.monotonic()
        new = make_new(server.port)
        logged = new.log_path.stat().st_size if new.log_path.exists() else 0
        new.start()  # /healthz answered by either
        deadline = time.monotonic() + 60
        while b"Chat server (" not in new.log_path.read_bytes()[logged:]:
            if new.proc.poll() is not None or time.monotonic() > deadline:
                log(f"  ! the new process beside did not start; see {new.log_path}")
                return  # the load generator gives up waiting and stops the old one anyway
            time.sleep(0.05)
        into["new"], into["seconds"] = new, round(time.monotonic() - started, 2)
        Path(f"{signals}.ready").touch()
        server.proc.wait()
        into["exited_epoch"] = time.time()
        if server.proc in _children:
            _children.remove(server.proc)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def reference_server(db_uri: str, logdir: Path, label: str, **extra: str) -> Server:
    env = {
        "MONGODB_URI": db_uri,
        "MONGODB_NAME": "bench_reference",
        "JWT_SECRET": REFERENCE_SECRET,
        "NODE_ENV": "production",
        **extra,
    }
    return Server(
        "reference", label, ["node", str(REFERENCE / "server.js")], env, REFERENCE, logdir
    )


def ensure_node_modules() -> None:
    if not (REFERENCE / "node_modules" / "socket.io-client").exists():
        log("installing bench/reference/node_modules (npm ci)")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=REFERENCE, check=True)


# --- users -------------------------------------------------------------------------------------


def signup_via_api(server: Server, count: int, workers: int = 4) -> float:
    """Create `count` users through POST /api/auth/signup; returns signups per second."""

    def one(i: int) -> dict:
        body = {
            "fullName": f"Bench User {i}",
            "username": f"bench{i}",
            "password": PASSWORD,
            "confirmPassword": PASSWORD,
            "gender": "male" if i % 2 else "female",
        }
        res = requests.post(server.base + "/api/auth/signup", json=body, timeout=120)
        res.raise_for_status()
        data = res.json()
        return {"id": data["_id"], "token": data.get("access") or data["token"]}

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        server.users = list(pool.map(one, range(count)))
    return count / (time.monotonic() - started)


def bulk_users_ours(server: Server, db_uri: str, start: int, total: int) -> None:
    """The rest of our users, inserted with the ORM (same document shape as signup) with the
    password hash of an API-created user, and tokens minted the way login mints them."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "chatsite.settings",
            **embedded_db.environment(db_uri),
            "MONGODB_NAME": "bench_chat",
            "SECRET_KEY": SECRET,
            "DEBUG": "false",
            "JWT_ACCESS_LIFETIME_SECONDS": "7200",
        }
    )
    import django

    django.setup()
    from accounts import tokens
    from accounts.models import User

    password = User.objects.get(username_key="bench0").password
    batch = [
        User(
            username=f"bench{i}",
            username_key=f"bench{i}",
            full_name=f"Bench User {i}",
            gender="male" if i % 2 else "female",
            password=password,
        )
        for i in range(start, total)
    ]
    for chunk in range(0, len(batch), 1000):
        User.objects.bulk_create(batch[chunk : chunk + 1000])
    by_name = {u.username: u for u in User.objects.filter(username__startswith="bench")}
    for i in range(start, total):
        user = by_name[f"bench{i}"]
        server.users.append({"id": str(user.pk), "token": tokens.issue_for(user)["access"]})


def ring_conversations(server: Server, count: int) -> None:
    """User i writes to user i+1 (and the last to the first): each of the first `count` users
    shares a conversation with two others."""
    users = server.users[:count]

    def one(i: int) -> None:
        sender, receiver = users[i], users[(i + 1) % count]
        res = requests.post(
            f"{server.base}/api/messages/send/{receiver['id']}",
            json={"message": "hello neighbour"},
            headers={"Authorization": f"Bearer {sender['token']}"},
            timeout=120,
        )
        res.raise_for_status()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(count)))


def group_create(server: Server, members: list[int], name: str) -> str:
    """A group of `members` (indexes into the users; the first creates it) through
    `POST /api/conversations`; returns its id."""
    creator, *others = (server.users[i] for i in members)
    res = requests.post(
        f"{server.base}/api/conversations",
        json={"kind": "group", "name": name, "participantIds": [u["id"] for u in others]},
        headers={"Authorization": f"Bearer {creator['token']}"},
        timeout=120,
    )
    res.raise_for_status()
    return res.json()["_id"]


def bulk_users_reference(server: Server, db_uri: str, start: int, total: int) -> list[dict]:
    import jwt
    import pymongo
    from bson import ObjectId

    client = pymongo.MongoClient(db_uri)
    users = client["bench_reference"]["users"]
    password = users.find_one({"username": "bench0"})["password"]
    now = dt.datetime.now(dt.UTC)
    docs = []
    for i in range(start, total):
        gender = "male" if i % 2 else "female"
        docs.append(
            {
                "_id": ObjectId(),
                "fullName": f"Bench User {i}",
                "username": f"bench{i}",
                "password": password,
                "gender": gender,
                "profilePic": "",
                "createdAt": now,
                "updatedAt": now,
                "__v": 0,
            }
        )
    for chunk in range(0, len(docs), 1000):
        users.insert_many(docs[chunk : chunk + 1000])
    exp = int(time.time()) + 15 * 86400
    for doc in docs:
        token = jwt.encode(
            {"userId": str(doc["_id"]), "iat": int(time.time()), "exp": exp},
            REFERENCE_SECRET,
            algorithm="HS256",
        )
        server.users.append({"id": str(doc["_id"]), "token": token})
    every = list(users.find({}, {"password": 0}))
    client.close()
    for doc in every:
        doc["_id"] = str(doc["_id"])
        doc["password"] = password
        for key in ("createdAt", "updatedAt"):
            doc[key] = doc[key].isoformat() if doc.get(key) else None
    return every


def write_users(server: Server, workdir: Path) -> None:
    server.users_file = workdir / f"users-{server.label}.json"
    server.users_file.write_text(json.dumps(server.users))


# --- load generator ----------------------------------------------------------------------------


def run_load(server: Server, scenario: str, workdir: Path, watchdog: int = 600, **config) -> dict:
    config = {
        "scenario": scenario,
        "base": server.base,
        "kind": server.kind,
        "serverPid": server.pid,
        "usersFile": str(server.users_file),
        "watchdogS": watchdog,
        **config,
    }
    path = workdir / f"load-{server.label}-{scenario}-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(config))
    proc = subprocess.Popen(
        ["node", "--max-old-space-size=8192", str(LOAD), str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    _children.append(proc)
    try:
        out, _ = proc.communicate(timeout=watchdog + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    _children.remove(proc)
    lines = [line for line in (out or "").splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"error": f"no result (exit {proc.returncode})"}
    if "error" in result:
        log(f"  ! {server.label} {scenario}: {result['error'][:500]}")
    return result


def s4_load(server: Server, workdir: Path, count: int, cfg: dict) -> dict:
    """S4's load: `count` sockets connected to `server`, then held idle."""
    return run_load(
        server,
        "sockets",
        workdir,
        connect=count,
        connectConcurrency=cfg["S4_connect_concurrency"],
        connectTimeoutS=cfg["S4_timeout"],
        settleTimeoutS=60,
        holdS=10,
        watchdog=cfg["S4_timeout"] + 200,
    )


def s6_load(web: Server, workdir: Path, socket_base: str, cfg: dict) -> dict:
    """S6's load: REST sends to `web`, the receivers' sockets on `socket_base`."""
    return run_load(
        web,
        "sockets",
        workdir,
        socketBase=socket_base,
        connect=cfg["S6_connected"],
        connectConcurrency=100,
        connectTimeoutS=120,
        settleTimeoutS=60,
        phases=[
            phase("rate", "rate", "rest", rate=cfg["S6_rate"], durationS=cfg["M_duration"]),
            flat("rest", cfg["S3_concurrency"], cfg["M_duration"]),
        ],
        httpSockets=64,
        watchdog=600,
    )


def s6_through_nginx(pair: list[Server], workdir: Path, cfg: dict) -> dict | None:
    """S6's load again, through the shipped nginx configuration (deploy/nginx/) in front of
    the same two processes: REST sends and sockets both go to nginx, which spreads them over
    the two (no cookie: any process)."""
    from realtime.tests.nginx import NGINX, Nginx

    if NGINX is None:
        log("  S6 through nginx skipped: nginx is not installed (make nginx-deps)")
        return None
    directory = workdir / "nginx"
    directory.mkdir(exist_ok=True)
    addresses = {f"node{i}": f"127.0.0.1:{server.port}" for i, server in enumerate(pair, 1)}
    proxy = Nginx(directory, addresses).start()
    log(f"  S6 through nginx ({proxy.url}) in front of both")
    web = pair[0]
    target = Server("ours", "ours-redis-nginx", [], {}, ROOT, workdir)
    target.base, target.proc = proxy.url, web.proc  # server figures: process A's
    target.users, target.users_file = web.users, web.users_file
    try:
        return s6_load(target, workdir, proxy.url, cfg)
    finally:
        proxy.stop()


def opcounters(db_uri: str) -> dict:
    import pymongo

    client = pymongo.MongoClient(db_uri)
    try:
        return dict(client.admin.command("serverStatus")["opcounters"])
    finally:
        client.close()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ops_delta(before: dict, after: dict, sends: int) -> dict:
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    delta["total"] = sum(v for k, v in delta.items())
    return {k: round(v / sends, 2) for k, v in delta.items()} if sends else {}


# --- report ------------------------------------------------------------------------------------


S5_COLUMNS = {
    "ours": "ours (contacts, the default)",
    "ours_original": "ours, original front end (`?userId=`: lists to contacts)",
    "ours_everyone": "ours (`REALTIME_PRESENCE_FANOUT=everyone`)",
    "reference": "reference",
}


def phase(name: str, kind: str, via: str, **options) -> dict:
    """One send phase of the load generator's `sockets` scenario."""
    return {"name": name, "type": kind, "via": via, **options}


def flat(via: str, concurrency: int, duration: int) -> dict:
    """Closed-loop senders flat out over `rest` or `socket` (phase `flat-rest`/`flat-socket`)."""
    return phase(f"flat-{via}", "flat", via, concurrency=concurrency, durationS=duration)


def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def compare(label: str, ours: dict, ref: dict, key: str) -> list:
    """A report row: our figure, the reference's and their ratio."""
    return [label, ours.get(key), ref.get(key), ratio(ours.get(key), ref.get(key))]


def ratio(ours, ref) -> str:
    if not ours or not ref:
        return "–"
    return f"{ours / ref:.2f}×"


def per_socket_ms(run: dict, cpu: str = "connectCpuSeconds") -> float | None:
    """Server CPU per connected socket, in ms: over connect + settle (`connectCpuSeconds`), or
    while all of them left at once until the server was idle (`leaveCpuSeconds`)."""
    seconds = run.get("server", {}).get(cpu)
    connected = run.get("connect", {}).get("connected")
    return round(seconds * 1000 / connected, 2) if seconds is not None and connected else None


def s10_section(results: dict) -> list[str]:
    s10 = results["S10"]
    kinds = [
        k
        for k in (
            "ours",
            "ours_status",
            "ours_handover",
            "ours_asgi",
            "ours_asgi_status",
            "reference",
        )
        if k in s10
    ]
    names = {
        "ours": "ours (eventlet)",
        "ours_status": "ours (eventlet), cursor in the handshake",
        "ours_handover": "ours (eventlet), cursor in the handshake, new process beside",
        "ours_asgi": "ours (ASGI)",
        "ours_asgi_status": "ours (ASGI), cursor in the handshake",
        "reference": "reference",
    }

    def row(label: str, get) -> list:
        return [label] + [get(s10[k]) for k in kinds]

    def pct(key: str, field: str):
        return lambda r: (
            f"{fmt(r.get(key, {}).get('p50'), 2)} / {fmt(r.get(key, {}).get('p99'), 2)}"
        )

    c = s10.get("config", {})
    return [
        f"## S10 restart storm: {c.get('connect')} users connected, the server restarted",
        "",
        table(
            ["figure", *[names[k] for k in kinds]],
            [
                row(
                    "connected before the restart",
                    lambda r: fmt(r.get("initial", {}).get("connected")),
                ),
                row("SIGTERM → process exited (s)", lambda r: fmt(r.get("stopS"), 2)),
                row("exited → answering again (s)", lambda r: fmt(r.get("restartS"), 2)),
                row(
                    "new process beside: started before the SIGTERM, in (s)",
                    lambda r: fmt(r.get("newStartS"), 2),
                ),
                row(
                    "reconnected / caught up (sync)",
                    lambda r: f"{r.get('reconnected')} / {r.get('caughtUp')}",
                ),
                row("SIGTERM → all reconnected (s)", lambda r: fmt(r.get("allBackS"), 2)),
                row("SIGTERM → all caught up (s)", lambda r: fmt(r.get("allCaughtUpS"), 2)),
                row("reconnect p50 / p99 (s)", pct("backS", "")),
                row("caught up p50 / p99 (s)", pct("caughtUpS", "")),
                row(
                    "sends acknowledged / lost",
                    lambda r: (
                        f"{fmt(r.get('sends', {}).get('acked'))} / {r.get('sends', {}).get('lost')}"
                    ),
                ),
                row("send p50 / p99 during the storm, users back (ms)", pct("stormSendMs", "")),
                row("sync errors", lambda r: fmt(r.get("syncErrors"))),
                row(
                    "syncs skipped (`syncStatus` up to date)", lambda r: fmt(r.get("syncsSkipped"))
                ),
            ],
        ),
        "",
        f"Every client is socket.io-client with its default reconnection (1 s doubling to 5 s, "
        f"randomization 0.5). {c.get('senders')} of ours send `sendMessage` to other users at "
        f"{c.get('rate')}/s in all for {c.get('chatS')} s, then the server gets SIGTERM and "
        "bench/run.py starts it again on the same port as soon as it has exited; sends go on "
        "from the clients that are back. Each client of ours, once reconnected, calls "
        "`GET /api/sync?since=<cursor>` (the cursor taken before the chat began) until "
        '`hasMore` is false; in the "cursor in the handshake" column each client sends its '
        "cursor with the handshake (`auth.since`) and calls `/api/sync` only when `syncStatus` "
        'says it is not up to date; in the "new process beside" column a second process is started '
        "on the same port first (`REUSE_PORT`, docs/operations.md) and the old one gets SIGTERM "
        "once it serves, so the clients reconnect to it. Lost: acknowledged sends whose `_id` the receiver got neither live "
        "nor through sync. The reference has no sync: only its reconnect time is measured.",
        "",
    ]


def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += [
        "| " + " | ".join(fmt(c) if not isinstance(c, str) else c for c in row) + " |"
        for row in rows
    ]
    return "\n".join(lines)


def machine() -> dict:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "node": node,
        "kernel": platform.release(),
    }


def plot(results: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is missing: `.venv/bin/pip install -r bench/requirements.txt` for the PNG")
        return False
    fig, ax = plt.subplots(figsize=(8, 5))
    for label, style in (("ours", "o-"), ("reference", "s--")):
        phases = [
            p
            for p in results.get("S23", {}).get(label, {}).get("phases", [])
            if p.get("via") == "rest" and p["deliveryMs"]["n"]
        ]
        phases.sort(key=lambda p: p["perSecond"])
        if not phases:
            continue
        xs = [p["perSecond"] for p in phases]
        ax.plot(xs, [p["deliveryMs"]["p50"] for p in phases], style, label=f"{label} p50")
        ax.plot(
            xs, [p["deliveryMs"]["p99"] for p in phases], style, alpha=0.5, label=f"{label} p99"
        )
    ax.set_xlabel("achieved sends/s (REST; 25%, 50% of the reference's flat-out rate, flat-out)")
    ax.set_ylabel("delivery latency, send start → newMessage (ms)")
    ax.set_yscale("log")
    ax.set_title(f"Delivery latency vs load, {results['config']['K']} connected users")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def s8_section(results: dict) -> list[str]:
    """The S8 report (our server alone: the reference design has no groups). It carries its
    own date, so that a run of S8 alone can replace it in a report of another run."""
    s8 = results.get("S8")
    if not s8:
        return []
    c = results["config"]
    m = results["machine"]
    seq, flat_, reading = s8.get("fanout", {}), s8.get("flat", {}), s8.get("flatReading", {})
    conn = s8.get("connect", {})
    members = s8.get("members")

    def pair(d: dict, key: str) -> str:
        return f"{fmt(d.get(key, {}).get('p50'))} / {fmt(d.get(key, {}).get('p99'))}"

    rows = [
        [
            "members connected / failed; time to connect (s)",
            f"{fmt(conn.get('connected'))} / {fmt(conn.get('failed'))}; {fmt(conn.get('elapsedS'))}",
        ],
        [
            "presence frames while they connected",
            f"{fmt(s8.get('presence', {}).get('frames'))} "
            f"({fmt((s8.get('presence', {}).get('bytes') or 0) / 1e6, 1)} MB)",
        ],
        [
            f"one message at a time ({fmt(seq.get('sent'))} messages): send → {fmt(members)}th "
            "delivery p50 / p99 (ms)",
            pair(seq, "lastDeliveryMs"),
        ],
        [
            "one message at a time: send → first delivery p50 / p99 (ms)",
            pair(seq, "firstDeliveryMs"),
        ],
        ["one message at a time: send ack p50 / p99 (ms)", pair(seq, "ackMs")],
        [
            "one message at a time: reached every member / missing deliveries",
            f"{fmt(seq.get('complete'))} of {fmt(seq.get('sent'))} / {fmt(seq.get('missingDeliveries'))}",
        ],
    ]
    for label, p in (
        (f"{fmt(flat_.get('senders'))} senders flat out", flat_),
        (
            f"the same, {fmt(reading.get('readers'))} members marking read in a loop",
            reading,
        ),
    ):
        rows += [
            [
                f"{label}: acked sends/s (deliveries/s)",
                f"{fmt(p.get('perSecond'))} ({fmt(p.get('deliveriesPerSecond'))})",
            ],
            [f"{label}: send ack p50 / p99 (ms)", pair(p, "ackMs")],
            [f"{label}: send → last delivery p50 / p99 (ms)", pair(p, "lastDeliveryMs")],
            [
                f"{label}: missing deliveries / send errors",
                f"{fmt(p.get('missingDeliveries'))} / {sum((p.get('errors') or {}).values())}",
            ],
            [f"{label}: server CPU ms / message", fmt(p.get("serverCpuMsPerMessage"), 2)],
        ]
    reads = reading.get("markRead") or {}
    rows += [
        [
            "markRead: acks/s, ack p50 / p99 (ms), errors",
            f"{fmt(reads.get('perSecond'))}, {pair(reads, 'latencyMs')}, {fmt(reads.get('errors'))}",
        ],
        ["`messagesRead` frames received by all members", fmt(reading.get("messagesReadFrames"))],
    ]
    ops = s8.get("dbOps") or {}
    small, large = ops.get("small", {}), ops.get("large", {})
    op_rows = [
        [k, small.get("ops", {}).get(k), large.get("ops", {}).get(k)]
        for k in ("query", "insert", "update", "delete", "getmore", "command", "total", "db CPU ms")
    ]
    op_rows.append(
        ["send ack p50 (ms)", small.get("ackMs", {}).get("p50"), large.get("ackMs", {}).get("p50")]
    )
    return [
        f"## S8 group fan-out: one group of {fmt(members)} members, all connected",
        "",
        f"- date: {s8.get('date', results['date'])}; mode: {s8.get('mode', 'quick' if c['quick'] else 'full')}; "
        f"machine: {m['nproc']} CPUs ({m['cpu']}); our server alone (eventlet, one process)",
        "",
        table(["figure", "ours", "reference"], [[*row, "n/a"] for row in rows]),
        "",
        "The reference design has no groups, so there is nothing to compare with. One socket "
        "per member; every message reaches every member's socket, the sender's included. "
        f'"One message at a time": {fmt(seq.get("sent"))} messages from random members over '
        "`sendMessage`, each sent once the previous one reached everyone. Flat out: "
        f"{fmt(flat_.get('senders'))} members send in a closed loop (the next message when the "
        f"ack comes) for {c['S8_duration']} s; missing deliveries are (message, member) pairs "
        "not received within 30 s after the phase. Marking read: meanwhile "
        f"{fmt(reading.get('readers'))} other members each emit `markRead` with the latest "
        "seq their socket has seen, the next one when the ack comes; each marker that moves "
        "sends `messagesRead` to the reader's own sockets (above "
        "`REALTIME_READ_RECEIPTS_MAX_MEMBERS`, 100 by default).",
        "",
        f"Database operations per send (SecantusDB `serverStatus.opcounters`, {c['S8_ops_sends']} "
        "`sendMessage` one after another, all members connected) in a 2-member group and in "
        f"the {fmt(members)}-member one:",
        "",
        table(["op", "2 members", f"{fmt(members)} members"], op_rows),
        "",
    ]


def actions_section(results: dict) -> list[str]:
    """What an edit, a delete and a reaction cost beside a send (bench/message_actions.py: the
    services in one process, no HTTP or sockets). Dated, like S8, for runs of it alone."""
    a = results.get("A")
    if not a:
        return []
    m = results["machine"]
    rows = [
        [name, fmt(r["db_commands"]), fmt(r["cpu_ms"]), fmt(r["db_cpu_ms"]), fmt(r["p50_ms"]),
         fmt(r["p99_ms"])]
        for name, r in a["actions"].items()
    ]  # fmt: skip
    return [
        "## A message actions: an edit, a delete and a reaction beside a send",
        "",
        f"- date: {a['date']}; machine: {m['nproc']} CPUs ({m['cpu']}); "
        f"`bench/message_actions.py --repeat {a['repeat']}`: the services in one process on "
        "their own in-memory SecantusDB, each action on a message of its own in one direct "
        "conversation (the selector's read included, as the API and the socket handler do it)",
        "",
        table(["action", "db commands", "CPU ms", "db CPU ms", "latency p50 ms", "p99 ms"], rows),
        "",
        "The reference design has none of these actions. Database commands are counted by a "
        "pymongo command listener (the commit included); an action reads the message and its "
        "conversation (membership, writer key), then in one transaction reads the message as "
        "stored and the conversation's version, and updates both.",
        "",
    ]


def search_section(results: dict) -> list[str]:
    """Message search over 100,000 messages (bench/search.py: the selector in one process, and
    through the API with Django's test client). Dated, like S8, for runs of it alone."""
    s9 = results.get("S9")
    if not s9:
        return []
    m = results["machine"]
    r, d = s9["search"], s9["search"]["data"]
    rows = [
        [name, fmt(q["holding_median"]), fmt(q["hits_mean"]), fmt(q["p50_ms"]),
         fmt(q["p99_ms"]), fmt(r["api"][name]["p50_ms"]), fmt(r["api"][name]["p99_ms"]),
         fmt(q["db_commands"]), fmt(q["conversation_queries"]), fmt(q["rows_read"]),
         fmt(q["db_wait_ms"])]
        for name, q in r["search"].items()
    ]  # fmt: skip
    send = r["send"]
    states = ("with the index", "without it", "with it built again")
    send_rows = [
        [state, fmt(send[state]["db_commands"]), fmt(send[state]["cpu_ms"], 2),
         fmt(send[state]["db_cpu_ms"], 2), fmt(send[state]["p50_ms"]),
         fmt(send[state]["p99_ms"])]
        for state in states
    ]  # fmt: skip
    alone_rows = [
        [name, fmt(q["p50_ms"]), fmt(q["p99_ms"]), fmt(q["rows_read"])]
        for name, q in r.get("term_alone", {}).items()
    ]
    return [
        f"## S9 message search: {d['messages']:,} messages in {d['conversations']:,} conversations",
        "",
        f"- date: {s9['date']}; machine: {m['nproc']} CPUs ({m['cpu']}); "
        f"`bench/search.py --repeat {s9['repeat']} --sends {s9['sends']}`: its own in-memory "
        f"SecantusDB; {d['groups']} of the conversations are groups; the searcher is in "
        f"{d['mine']} ({d['mine_groups']} groups) holding {d['mine_messages']:,} messages; "
        f"data stored in bulk in {d['load_s']} s",
        "",
        f"`messaging.selectors.message_search`, first page (20 hits), {s9['repeat']} searches "
        "per class over 10 different queries; API: `GET /api/search` through Django's test "
        f"client with a JWT, {r['config']['api_repeat']} per class. Holding: the searcher's "
        "messages that match, median over the class's queries; hits: on the first page.",
        "",
        table(
            [
                "query",
                "holding",
                "hits",
                "p50 ms",
                "p99 ms",
                "API p50",
                "API p99",
                "db commands",
                "conversations queried",
                "index rows read",
                "db wait ms",
            ],
            rows,
        ),
        "",
        f"What the index adds to a send: `message_send` of 10-20 word messages "
        f"({send['terms_per_message']:.1f} terms each, {send['terms_cpu_us']:.0f} µs to compute "
        f"them), {s9['sends']} per state, into the searcher's conversations; the index was built "
        f"again over all messages in {send['index_build_s']:.1f} s.",
        "",
        table(
            ["message_search index", "db commands", "CPU ms", "db CPU ms", "p50 ms", "p99 ms"],
            send_rows,
        ),
        "",
        "A profile of the alternative, not what the product does: the same first page from one "
        "query by the query's longest term alone (a prefix of the `message_search` index, over "
        "all conversations), the searcher's conversations and the other terms checked in Python "
        "(at most 20 searches per class).",
        "",
        table(["query", "p50 ms", "p99 ms", "index rows read"], alone_rows),
        "",
    ]


def run_script(workdir: Path, script: str, *args, timeout: int) -> dict:
    """Run a standalone benchmark of bench/ (its own database, in its own process) and return
    the figures it writes with `--json`."""
    out = workdir / Path(script).with_suffix(".json").name
    command = [sys.executable, str(BENCH / script), *map(str, args), "--json", str(out)]
    subprocess.run(command, check=True, timeout=timeout)
    return json.loads(out.read_text())


def merge_section(path: Path, heading: str, section: list[str]) -> None:
    """Put `section` in place of the generated section that starts with `heading` (up to the
    next section), or before `## Notes`, keeping the rest of the file."""
    if not section or not path.exists():
        return
    lines = path.read_text().split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith(heading)), None)
    if start is None:
        start = end = next(
            (i for i, line in enumerate(lines) if line in ("## Notes", KEEP)), len(lines)
        )
    else:
        end = next(
            (
                i
                for i in range(start + 1, len(lines))
                if lines[i].startswith("## ") or lines[i] == KEEP
            ),
            len(lines),
        )
    path.write_text("\n".join(lines[:start] + section + lines[end:]))


KEEP = (
    "<!-- Written by hand from here on; bench/run.py keeps this part when it rewrites the file. -->"
)


def s6_section(results: dict) -> list[str]:
    s6 = results.get("S6")
    if not s6:
        return []
    c = results["config"]
    via = s6.get("nginx") or {}
    via_phases = {p["name"]: p for p in via.get("phases", [])}

    def figures(p: dict) -> list[str]:
        d = p.get("deliveryMs", {})
        return [fmt(p.get("perSecond")), fmt(d.get("p50")), fmt(d.get("p99")), fmt(d.get("max")),
                f"{p.get('lost')} / {p.get('errors')}"]  # fmt: skip

    rows = []
    for p in s6.get("phases", []):
        rows.append([p["name"], "direct", *figures(p)])
        if p["name"] in via_phases:
            rows.append([p["name"], "through nginx", *figures(via_phases[p["name"]])])
    conn = s6.get("connect", {})
    via_conn = via.get("connect", {})
    if via:
        nginx_note = (
            f"`through nginx`: the same two processes behind the shipped configuration "
            f"(`deploy/nginx/`); REST sends and the {via_conn.get('connected')} sockets (of "
            f"{via_conn.get('requested')}, WebSocket) all go to nginx, which spreads them over "
            "both processes (no `chat_node` cookie: any process), so about half of the "
            "deliveries cross Redis."
        )
    else:
        nginx_note = "No run through nginx (not installed: `make nginx-deps`)."
    return [
        "## S6 two of our processes sharing Redis",
        "",
        table(
            ["phase", "path", "sends/s", "delivery p50 (ms)", "p99", "max", "lost / errors"], rows
        ),
        "",
        f"- date: {s6.get('date', results['date'])}; mode: {'quick' if c['quick'] else 'full'}.",
        "",
        f"`direct`: every send goes to process A over REST; all {conn.get('connected')} "
        f"receiving sockets (of {conn.get('requested')}) are connected to process B, so every "
        "`newMessage` crosses Redis (python-socketio's `RedisManager`). "
        f"{nginx_note} `rate` is {c['S6_rate']} sends/s open loop, `flat-rest` "
        f"{c['S3_concurrency']} closed-loop senders. The reference design has no "
        "multi-process mode.",
        "",
    ]


def write_report(results: dict, path: Path) -> None:
    m = results["machine"]
    c = results["config"]
    out = [
        "# Benchmarks",
        "",
        "Generated by `bench/run.py` (see `bench/README.md`) down to the marker near the end; "
        "what follows the marker (profile, before/after, targets, admin pages) is written by "
        "hand. Every figure "
        "of ours is given with the reference design's (Express + socket.io + mongoose, "
        "`bench/reference/`) on the same machine, the same SecantusDB process and the same "
        "load generator; ratio = ours / reference.",
        "",
        f"- date: {results['date']}; mode: {'quick' if c['quick'] else 'full'}; "
        f"run time {results['elapsed_min']:.1f} min",
        f"- machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gb']} GB RAM, Linux {m['kernel']}; "
        f"Python {m['python']}, Node {m['node']}",
        "- servers and load generator share the CPUs (one Node load process; our server is one "
        "eventlet process, the reference one Node process); SecantusDB "
        + (
            "in memory (`:memory:`)."
            if c.get("database", "memory") == "memory"
            else "on disk, syncing its log on every commit (`--sync-on-commit`, as `make run`)."
        ),
        f"- users: {c['api_users']} per server through `POST /api/auth/signup` "
        f"(ours {fmt(results['signup']['ours'])}/s, reference {fmt(results['signup']['reference'])}/s: "
        "PBKDF2 with 1,000,000 iterations vs bcrypt cost 10), the other "
        f"{c['users'] - c['api_users']:,} inserted directly with the same password hash and tokens "
        "minted as login mints them (10k signups would take most of the run).",
        "",
    ]
    s1 = results.get("S1")
    if s1:
        o, r, mem = s1["ours"], s1["reference"], s1.get("memory", {})
        o1, r1 = s1.get("ours_c1", {}), s1.get("reference_c1", {})
        out += [
            f"## S1 REST send, receiver offline ({c['S1_concurrency']} closed-loop senders, "
            f"{c['S1_duration']} s)",
            "",
            table(
                ["figure", "ours", "reference", "ratio", "reference in memory"],
                [
                    [
                        "sends/s",
                        o["perSecond"],
                        r["perSecond"],
                        ratio(o["perSecond"], r["perSecond"]),
                        mem.get("perSecond"),
                    ],
                    [
                        "latency p50 (ms)",
                        o["latencyMs"]["p50"],
                        r["latencyMs"]["p50"],
                        ratio(o["latencyMs"]["p50"], r["latencyMs"]["p50"]),
                        mem.get("latencyMs", {}).get("p50"),
                    ],
                    [
                        "latency p99 (ms)",
                        o["latencyMs"]["p99"],
                        r["latencyMs"]["p99"],
                        ratio(o["latencyMs"]["p99"], r["latencyMs"]["p99"]),
                        mem.get("latencyMs", {}).get("p99"),
                    ],
                    [
                        "server CPU ms / send",
                        o["serverCpuMsPerMessage"],
                        r["serverCpuMsPerMessage"],
                        ratio(o["serverCpuMsPerMessage"], r["serverCpuMsPerMessage"]),
                        mem.get("serverCpuMsPerMessage"),
                    ],
                    ["errors", o["errors"], r["errors"], "", mem.get("errors")],
                    [
                        "one sender: sends/s",
                        o1.get("perSecond"),
                        r1.get("perSecond"),
                        ratio(o1.get("perSecond"), r1.get("perSecond")),
                        "",
                    ],
                    [
                        "one sender: latency p50 (ms)",
                        o1.get("latencyMs", {}).get("p50"),
                        r1.get("latencyMs", {}).get("p50"),
                        ratio(
                            o1.get("latencyMs", {}).get("p50"), r1.get("latencyMs", {}).get("p50")
                        ),
                        "",
                    ],
                ],
            ),
            "",
            "Database operations per send (SecantusDB `serverStatus.opcounters`, delta over the "
            "whole S1 run / successful sends; `command` includes findAndModify, transactions, "
            "`update`/`insert` count documents written):",
            "",
            table(
                ["op", "ours", "reference"],
                [
                    [k, s1["ops"]["ours"].get(k), s1["ops"]["reference"].get(k)]
                    for k in (
                        "query",
                        "insert",
                        "update",
                        "delete",
                        "getmore",
                        "command",
                        "total",
                        "db CPU ms",
                    )
                ],
            ),
            "",
        ]
    s23 = results.get("S23")
    if s23:
        o, r = s23["ours"], s23["reference"]
        out += [f"## S3 flat-out sends with {c['K']:,} connected users", ""]
        o_phase = {p["name"]: p for p in o.get("phases", [])}
        r_phase = {p["name"]: p for p in r.get("phases", [])}
        rows = []
        for name, label in (("flat-rest", "REST"), ("flat-socket", "socket sendMessage (ack)")):
            op, rp = o_phase.get(name, {}), r_phase.get(name, {})
            rows.append(
                [
                    f"{label}: sends/s",
                    op.get("perSecond"),
                    rp.get("perSecond") if rp else "n/a",
                    ratio(op.get("perSecond"), r_phase.get("flat-rest", {}).get("perSecond")),
                ]
            )
            rows.append(
                [
                    f"{label}: delivery p50 / p99 (ms)",
                    f"{fmt(op.get('deliveryMs', {}).get('p50'))} / {fmt(op.get('deliveryMs', {}).get('p99'))}",
                    f"{fmt(rp.get('deliveryMs', {}).get('p50'))} / {fmt(rp.get('deliveryMs', {}).get('p99'))}"
                    if rp
                    else "n/a",
                    "",
                ]
            )
            rows.append(
                [
                    f"{label}: server CPU ms / message",
                    op.get("serverCpuMsPerMessage"),
                    rp.get("serverCpuMsPerMessage") if rp else "n/a",
                    ratio(op.get("serverCpuMsPerMessage"), rp.get("serverCpuMsPerMessage"))
                    if rp
                    else "",
                ]
            )
            rows.append(
                [
                    f"{label}: lost / errors",
                    f"{op.get('lost')} / {op.get('errors')}",
                    f"{rp.get('lost')} / {rp.get('errors')}" if rp else "n/a",
                    "",
                ]
            )
            rows.append(
                [
                    f"{label}: sockets still connected after the phase",
                    op.get("connectedAtEnd"),
                    rp.get("connectedAtEnd") if rp else "n/a",
                    "",
                ]
            )
        mem = results.get("S3_memory", {})
        out += [table(["figure", "ours", "reference", "ratio"], rows), ""]
        for kind in ("ours", "reference"):
            conn = s23[kind].get("connect", {})
            out.append(
                f"- {kind}: {conn.get('connected')} of {conn.get('requested')} sockets connected "
                f"in {conn.get('elapsedS')} s (failures {conn.get('failures')}); presence traffic settled: "
                f"{s23[kind].get('presence', {}).get('settled')}; unexpected disconnects: {s23[kind].get('disconnects', 'not recorded')}"
            )
        out.append("")
        if mem.get("phases"):
            out += [
                f"Reference in memory (no database, the socket-layer ceiling): "
                f"{fmt(mem['phases'][0]['perSecond'])} sends/s over REST.",
                "",
            ]
        out += [
            f"Socket ratio is against the reference's REST rate (the reference has no socket "
            f"send). {c['S3_concurrency']} closed-loop senders, {c['S3_duration']} s. The socket "
            f"connections of the reference were opened with its `getOnlineUsers` broadcast off "
            f"(`REFERENCE_PRESENCE=0`): with it, connecting {c['K']:,} clients costs gigabytes of "
            f"presence frames (S5).",
            "",
            f"## S2 fixed-rate sends with {c['K']:,} connected users (REST, open loop)",
            "",
        ]
        rows = []
        for frac in ("25", "50"):
            op, rp = o_phase.get(f"rate-{frac}", {}), r_phase.get(f"rate-{frac}", {})
            if not op and not rp:
                continue
            od, rd = op.get("deliveryMs", {}), rp.get("deliveryMs", {})
            rows += [
                [
                    f"{frac}%: offered / achieved sends/s",
                    f"{fmt(op.get('offeredRate'))} / {fmt(op.get('perSecond'))}",
                    f"{fmt(rp.get('offeredRate'))} / {fmt(rp.get('perSecond'))}",
                    "",
                ],
                compare(f"{frac}%: delivery p50 (ms)", od, rd, "p50"),
                compare(f"{frac}%: delivery p99 (ms)", od, rd, "p99"),
                compare(f"{frac}%: delivery max (ms)", od, rd, "max"),
                [
                    f"{frac}%: lost / errors / skipped",
                    f"{op.get('lost')} / {op.get('errors')} / {op.get('skippedByGenerator')}",
                    f"{rp.get('lost')} / {rp.get('errors')} / {rp.get('skippedByGenerator')}",
                    "",
                ],
                compare(f"{frac}%: server CPU ms / message", op, rp, "serverCpuMsPerMessage"),
            ]
        out += [
            table(["figure", "ours", "reference", "ratio"], rows),
            "",
            f"Rates are 25% and 50% of the reference's flat-out REST rate from S3, for both "
            f"servers; {c['S2_duration']} s each; lost = answered 201 but no `newMessage` at the "
            "receiver within 5 s. Plot: `docs/benchmarks-latency.png`.",
            "",
        ]
    s4 = results.get("S4")
    if s4:
        rows = []
        for count, pair in s4.items():
            o, r = pair.get("ours", {}), pair.get("reference", {})
            oc, rc = o.get("connect", {}), r.get("connect", {})
            osv, rsv = o.get("server", {}), r.get("server", {})
            rows += [
                [
                    f"{count}: connected / failed / not attempted",
                    f"{oc.get('connected')} / {oc.get('failed')} / {oc.get('notAttempted')}",
                    f"{rc.get('connected')} / {rc.get('failed')} / {rc.get('notAttempted')}",
                    "",
                ],
                compare(f"{count}: connects/s", oc, rc, "perSecond"),
                compare(
                    f"{count}: server CPU ms per connect (connect + settle)",
                    {"ms": per_socket_ms(o)},
                    {"ms": per_socket_ms(r)},
                    "ms",
                ),
                compare(f"{count}: server RSS per connection (KB)", osv, rsv, "rssPerConnectionKb"),
                compare(
                    f"{count}: server CPU s to connect + settle", osv, rsv, "connectCpuSeconds"
                ),
                [
                    f"{count}: server CPU s idle over {osv.get('holdS', '–')} s hold",
                    osv.get("holdCpuSeconds"),
                    rsv.get("holdCpuSeconds"),
                    "",
                ],
                compare(
                    f"{count}: server CPU ms per disconnect (all leave at once)",
                    {"ms": per_socket_ms(o, "leaveCpuSeconds")},
                    {"ms": per_socket_ms(r, "leaveCpuSeconds")},
                    "ms",
                ),
                [
                    f"{count}: presence frames / MB received",
                    f"{fmt(o.get('presence', {}).get('frames'))} / {fmt(o.get('presence', {}).get('bytes', 0) / 1e6, 2)}",
                    f"{fmt(r.get('presence', {}).get('frames'))} / {fmt(r.get('presence', {}).get('bytes', 0) / 1e6, 2)}",
                    "",
                ],
            ]
            a = pair.get("ours_asgi")
            if a:
                ac, asv = a.get("connect", {}), a.get("server", {})
                rows += [
                    compare(f"{count}: ASGI mode: connects/s", ac, rc, "perSecond"),
                    compare(
                        f"{count}: ASGI mode: server CPU ms per connect",
                        {"ms": per_socket_ms(a)},
                        {"ms": per_socket_ms(r)},
                        "ms",
                    ),
                    compare(
                        f"{count}: ASGI mode: server RSS per connection (KB)",
                        asv,
                        rsv,
                        "rssPerConnectionKb",
                    ),
                ]
        out += [
            "## S4 holding websocket connections",
            "",
            table(["figure", "ours", "reference (presence off)", "ratio"], rows),
            "",
            f"{c['S4_connect_concurrency']} connects in flight, at most {c['S4_timeout']} s per "
            "step; RSS from `/proc/<pid>/status` before connecting (ours idle for "
            f"{L_LATER_S} s first, so that it has given back the memory of earlier sockets) and "
            "after the presence traffic settled; CPU from `/proc/<pid>/stat`. These users have no conversations, so ours "
            "sends each socket its `getOnlineUsers` and no deltas (presence goes to contacts); "
            "the reference runs with its `getOnlineUsers` broadcast off here (with it on see S5). "
            "The ASGI rows: a fresh `REALTIME_ASYNC_MODE=asgi` process of ours, same step.",
            "",
        ]
    if results.get("S10"):
        out += s10_section(results)
    s5 = results.get("S5")
    if s5:
        kinds = [k for k in ("ours", "ours_original", "ours_everyone", "reference") if k in s5]

        def row(label: str, get) -> list:
            return [label] + [get(s5[k]) for k in kinds]

        out += [
            f"## S5 presence traffic: {c['S5_users']} users connecting at once",
            "",
            table(
                ["figure", *[S5_COLUMNS[k] for k in kinds]],
                [
                    row(
                        "presence frames received (all clients)",
                        lambda r: fmt(r.get("presence", {}).get("frames")),
                    ),
                    row(
                        "presence bytes received (MB)",
                        lambda r: fmt((r.get("presence", {}).get("bytes") or 0) / 1e6, 2),
                    ),
                    row(
                        "connected / failed",
                        lambda r: (
                            f"{r.get('connect', {}).get('connected')} / {r.get('connect', {}).get('failed')}"
                        ),
                    ),
                    row(
                        "time to connect all (s)",
                        lambda r: fmt(r.get("connect", {}).get("elapsedS")),
                    ),
                    row(
                        "server CPU s (connect + settle)",
                        lambda r: fmt(r.get("server", {}).get("connectCpuSeconds")),
                    ),
                    row(
                        "traffic settled (quiet 1.5 s) before timeout",
                        lambda r: str(r.get("presence", {}).get("settled")),
                    ),
                ],
            ),
            "",
            f"Each of the {c['S5_users']} users first wrote to the next one (a ring), so on our "
            "server each has two contacts. Bytes are the Socket.IO text frames "
            '(`2["event",payload]`) of `getOnlineUsers`, `userOnline` and `userOffline`, summed '
            "over every client. Reference with its broadcast on "
            '(`io.emit("getOnlineUsers", allIds)` on every connect).',
            "",
        ]
    s7 = results.get("S7")
    if s7:
        o = {cp["messages"]: cp for cp in s7["ours"].get("checkpoints", [])}
        r = {cp["messages"]: cp for cp in s7["reference"].get("checkpoints", [])}
        rows = []
        for n in sorted(set(o) | set(r)):
            oc, rc = o.get(n, {}), r.get(n, {})
            rows.append(
                [
                    f"{n:,}",
                    oc.get("sendMs", {}).get("p50"),
                    rc.get("sendMs", {}).get("p50"),
                    oc.get("readMs", {}).get("p50"),
                    rc.get("readMs", {}).get("p50"),
                    f"{fmt(oc.get('readItems'))} / {fmt((oc.get('readBytes') or 0) / 1024, 1)} KB",
                    f"{fmt(rc.get('readItems'))} / {fmt((rc.get('readBytes') or 0) / 1024, 1)} KB",
                ]
            )
        out += [
            "## S7 one conversation growing",
            "",
            table(
                [
                    "messages",
                    "ours send p50 (ms)",
                    "ref send p50 (ms)",
                    "ours latest-page read p50 (ms)",
                    "ref read p50 (ms)",
                    "ours page: items / size",
                    "ref page: items / size",
                ],
                rows,
            ),
            "",
            f"At each checkpoint: {c['S7_sample_sends']} sequential sends and {c['S7_sample_reads']} "
            "reads of `GET /api/messages/<id>` (ours: the latest page, 50 by default; the "
            "reference: the whole history via `populate`). Filled with 8 concurrent senders.",
            "",
        ]
        for label, side in (("ours", s7["ours"]), ("the reference", s7["reference"])):
            if side.get("error"):
                done = max((cp["messages"] for cp in side.get("checkpoints", [])), default=0)
                reached = f"after the {done:,}-message checkpoint" if done else "at the start"
                out += [f"{label.capitalize()} stopped ({side['error'][:80]}) {reached}.", ""]
    soak = results.get("L")
    if soak and soak.get("rounds"):
        rows = []
        for r in soak["rounds"]:
            b = r["burst"]
            rows.append(
                [
                    r["round"],
                    f"{r['connect']['connected']} / {r['connect']['failed']}",
                    fmt(r["connect"]["elapsedS"]),
                    fmt((r["rssConnectedKb"] or 0) / 1024),
                    fmt((r["rssAfterLeavingKb"] or 0) / 1024),
                    fmt((r.get("rssLaterKb") or 0) / 1024),
                    fmt(b["perSecond"]),
                    f"{b['lost']} / {b['errors']}",
                ]
            )
        out += [
            f"## Load: {c['L_rounds']} rounds of {c['L_connected']:,} users connecting at once",
            "",
            table(
                [
                    "round",
                    "connected / failed",
                    "connect time (s)",
                    "RSS connected (MB)",
                    "RSS 5 s after all left (MB)",
                    f"{5 + L_LATER_S} s after (MB)",
                    "burst sends/s",
                    "lost / errors",
                ],
                rows,
            ),
            "",
            f"Our server (eventlet, presence to contacts). RSS before the first round: "
            f"{fmt((soak.get('baselineRssKb') or 0) / 1024)} MB. Each round: everyone connects "
            f"at once (200 in flight), {c['S3_concurrency']} senders send flat out for 5 s over "
            "REST to connected receivers, everyone disconnects; RSS is read 5 s and "
            f"{5 + L_LATER_S} s later (the server collects garbage and gives memory back once "
            "most sockets have left and no more are leaving, and once more 30 s later; it looks every "
            "5 s). A leak shows "
            "as RSS "
            "after all left growing from round to round. Unexpected disconnects: "
            f"{soak.get('disconnects') or 'none'}.",
            "",
        ]
    out += s6_section(results)
    modes = results.get("M")
    if modes:
        rows = []

        def mode_phase(mode: str, name: str) -> dict:
            return next((p for p in modes[mode].get("phases", []) if p["name"] == name), {})

        names = list(modes)
        for label, get in (
            (
                "sockets connected / failed",
                lambda m: (
                    f"{modes[m].get('connect', {}).get('connected')} / {modes[m].get('connect', {}).get('failed')}"
                ),
            ),
            ("connects/s", lambda m: fmt(modes[m].get("connect", {}).get("perSecond"))),
            (
                "server RSS per connection (KB)",
                lambda m: fmt(modes[m].get("server", {}).get("rssPerConnectionKb")),
            ),
            ("REST sends/s (flat out)", lambda m: fmt(mode_phase(m, "flat-rest").get("perSecond"))),
            (
                "socket `sendMessage` sends/s (flat out)",
                lambda m: fmt(mode_phase(m, "flat-socket").get("perSecond")),
            ),
            (
                "server CPU ms / message (socket)",
                lambda m: fmt(mode_phase(m, "flat-socket").get("serverCpuMsPerMessage")),
            ),
            (
                f"{c['M_rate']}/s REST: delivery p50 / p99 (ms)",
                lambda m: (
                    f"{fmt(mode_phase(m, 'rate').get('deliveryMs', {}).get('p50'))} / {fmt(mode_phase(m, 'rate').get('deliveryMs', {}).get('p99'))}"
                ),
            ),
            (
                "lost / errors (all phases)",
                lambda m: (
                    f"{sum(p.get('lost') or 0 for p in modes[m].get('phases', []))} / {sum(p.get('errors') or 0 for p in modes[m].get('phases', []))}"
                ),
            ),
        ):
            rows.append([label] + [get(m) for m in names])
        out += [
            f"## Our server modes: eventlet, gevent, ASGI (uvicorn) with {c['M_connected']:,} connected users",
            "",
            table(["figure", *names], rows),
            "",
            f"Same database, users and load generator; one process each, started one after the "
            f"other. eventlet is the server the whole run used (its heap already grew in S4 and "
            f"S5, so it reuses freed memory and its RSS per connection reads low); gevent and "
            f"ASGI are fresh processes. {c['S3_concurrency']} closed-loop senders for {c['M_duration']} s per flat-out "
            f"phase, then {c['M_rate']} REST sends/s open loop for the delivery latency.",
            "",
        ]
    out += s8_section(results)
    out += actions_section(results)
    out += search_section(results)
    out += [
        "## Notes",
        "",
        "- Both servers share 2 CPUs with the load generator, so absolute rates are low; ratios "
        "are the figures to read.",
        "",
    ]
    kept = path.read_text().split(KEEP, 1) if path.exists() else []
    out += [KEEP, kept[1].lstrip("\n") if len(kept) == 2 else ""]
    path.write_text("\n".join(out))


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, shorter phases")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated scenarios (S1,S23,S4,S5,S6,S7,M,L,S8,A,S9,S10)",
    )
    parser.add_argument("--json", default="", help="also write the raw results here")
    parser.add_argument("--connected", type=int, default=0, help="connected users in S2/S3")
    parser.add_argument("--sockets", default="", help="S4 socket counts, e.g. 1000,10000")
    parser.add_argument("--storm-users", type=int, default=0, help="S10 users (10,000 full)")
    parser.add_argument(
        "--storm-servers",
        default="ours,ours_status,ours_handover,ours_asgi,ours_asgi_status,reference",
        help="S10's servers, comma-separated (ours, ours_status, ours_handover, ours_asgi, "
        "ours_asgi_status, reference)",
    )
    parser.add_argument("--no-asgi", action="store_true", help="S4 under eventlet only")
    parser.add_argument(
        "--database",
        choices=("memory", "disk"),
        default="memory",
        help="SecantusDB in memory, or on disk syncing its log on every commit (as `make run`)",
    )
    args = parser.parse_args()
    only = {s.strip().upper() for s in args.only.split(",") if s.strip()}
    want = lambda name: not only or name in only  # noqa: E731
    quick = args.quick
    cfg = {
        "quick": quick,
        "database": args.database,
        "api_users": 40,
        "K": args.connected or (1000 if quick else 5000),
        "S1_concurrency": 16,
        "S1_duration": 10 if quick else 20,
        "S3_concurrency": 32,
        "S3_duration": 10 if quick else 20,
        "S2_duration": 10 if quick else 20,
        "S4_counts": [int(n) for n in args.sockets.split(",") if n.strip()]
        or ([1000] if quick else [1000, 5000, 10000]),
        "S4_connect_concurrency": 200,
        "S4_timeout": 90 if quick else 150,
        "S4_asgi": not args.no_asgi,
        "S10_users": args.storm_users or (2000 if quick else 10000),
        "S10_servers": args.storm_servers.split(","),
        "S10_senders": 100 if quick else 200,
        "S10_rate": 50,
        "S10_chat": 5,
        "S10_timeout": 120 if quick else 240,
        "S5_users": 500,
        "S7_checkpoints": [10, 100, 1000] if quick else [10, 100, 1000, 10000],
        "S7_sample_sends": 10,
        "S7_sample_reads": 5,
        "M_connected": 500,
        "S6_connected": 500,
        "L_connected": 1000 if quick else 5000,
        "L_rounds": 3,
        "S6_rate": 10,
        "M_rate": 10,
        "M_duration": 10,
        "S8_members": 1000,
        "S8_fanout_messages": 20 if quick else 50,
        "S8_ops_sends": 20 if quick else 50,
        "S8_senders": 8,
        "S8_readers": 200,
        "S8_duration": 10 if quick else 20,
    }
    cfg["users"] = (
        max(cfg["K"], max(cfg["S4_counts"]), cfg["S5_users"], cfg["S8_members"], cfg["S10_users"])
        + 100
    )
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    atexit.register(_stop_all)
    ensure_node_modules()
    if shutil.which("node") is None:
        sys.exit("node is required (the reference server and the load generator)")

    workdir = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    log(f"work dir {workdir}")
    storage = ":memory:" if args.database == "memory" else str(workdir / "db")
    db = EmbeddedDB(storage, log_path=str(workdir / "secantusdb.log")).start()
    _dbs.append(db)
    log(f"SecantusDB on {db.uri}")
    ours = ours_server(db.uri, workdir).start()
    ref = reference_server(db.uri, workdir, "reference", REFERENCE_PRESENCE="0").start()
    log(f"ours pid {ours.pid} on {ours.base}; reference pid {ref.pid} on {ref.base}")

    results: dict = {
        "config": cfg,
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "signup": {},
    }
    log(f"signing up {cfg['api_users']} users through each API")
    results["signup"]["ours"] = signup_via_api(ours, cfg["api_users"], workers=2)
    results["signup"]["reference"] = signup_via_api(ref, cfg["api_users"], workers=2)
    log(
        f"  signups/s: ours {results['signup']['ours']:.1f}, reference {results['signup']['reference']:.1f}"
    )
    log(f"inserting {cfg['users'] - cfg['api_users']} more users into each database")
    bulk_users_ours(ours, db.uri, cfg["api_users"], cfg["users"])
    ref_docs = bulk_users_reference(ref, db.uri, cfg["api_users"], cfg["users"])
    for server in (ours, ref):
        write_users(server, workdir)
    seed = workdir / "reference-seed.json"
    seed.write_text(json.dumps(ref_docs))

    C = cfg["S1_concurrency"]
    n = cfg["users"]
    s1_pairs = [[n - 1 - i, n - 1 - C - i] for i in range(C)]  # never connected in any scenario
    s7_pair = [n - 1 - 2 * C, n - 2 - 2 * C]
    s8_pair = [n - 3 - 2 * C, n - 4 - 2 * C]

    if want("S1"):
        log("S1 REST send, receiver offline")
        s1 = {"ops": {}}
        for server in (ours, ref):
            before, db_cpu = opcounters(db.uri), cpu_seconds(db.process.pid)
            s1[server.kind] = run_load(
                server,
                "rest",
                workdir,
                pairs=s1_pairs,
                concurrency=C,
                durationS=cfg["S1_duration"],
                httpSockets=C,
            )
            sends = s1[server.kind].get("ok", 0)
            s1["ops"][server.kind] = ops_delta(before, opcounters(db.uri), sends)
            db_cpu = cpu_seconds(db.process.pid) - db_cpu
            s1["ops"][server.kind]["db CPU ms"] = round(db_cpu * 1000 / sends, 2) if sends else None
            log(
                f"  {server.kind}: {s1[server.kind].get('perSecond')}/s p50 {s1[server.kind].get('latencyMs', {}).get('p50')} ms; ops/send {s1['ops'][server.kind]}"
            )
        for server in (ours, ref):  # one sender at a time: the unloaded cost of a send
            s1[f"{server.kind}_c1"] = run_load(
                server,
                "rest",
                workdir,
                pairs=s1_pairs[:1],
                concurrency=1,
                durationS=5,
                httpSockets=1,
            )
            log(f"  {server.kind} one sender: {s1[f'{server.kind}_c1'].get('perSecond')}/s")
        memory = reference_server(
            db.uri,
            workdir,
            "reference-memory",
            REFERENCE_MEMORY="1",
            REFERENCE_SEED=str(seed),
            REFERENCE_PRESENCE="0",
        ).start()
        memory.users, memory.users_file = ref.users, ref.users_file
        s1["memory"] = run_load(
            memory,
            "rest",
            workdir,
            pairs=s1_pairs,
            concurrency=C,
            durationS=cfg["S1_duration"],
            httpSockets=C,
        )
        log(f"  reference in memory: {s1['memory'].get('perSecond')}/s")
        if want("S23"):
            results["S3_memory"] = run_load(
                memory,
                "sockets",
                workdir,
                connect=cfg["K"],
                connectConcurrency=200,
                phases=[flat("rest", cfg["S3_concurrency"], cfg["S3_duration"])],
                httpSockets=cfg["S3_concurrency"],
            )
        memory.stop()
        results["S1"] = s1

    if want("S23"):
        log(f"S3 + S2 with {cfg['K']} connected users")
        phases_ref = [
            flat("rest", cfg["S3_concurrency"], cfg["S3_duration"]),
            phase("rate-25", "rate", "rest", fractionOfFlat=0.25, durationS=cfg["S2_duration"]),
            phase("rate-50", "rate", "rest", fractionOfFlat=0.5, durationS=cfg["S2_duration"]),
        ]
        s23 = {
            "reference": run_load(
                ref,
                "sockets",
                workdir,
                connect=cfg["K"],
                connectConcurrency=200,
                phases=phases_ref,
                httpSockets=128,
            )
        }
        ref_flat = next(
            (
                p["perSecond"]
                for p in s23["reference"].get("phases", [])
                if p["name"] == "flat-rest"
            ),
            None,
        )
        log(f"  reference flat-out REST {ref_flat}/s")
        phases_ours = [
            flat("rest", cfg["S3_concurrency"], cfg["S3_duration"]),
            flat("socket", cfg["S3_concurrency"], cfg["S3_duration"]),
        ]
        if ref_flat:
            for frac in (25, 50):
                phases_ours.append(
                    phase(
                        f"rate-{frac}",
                        "rate",
                        "rest",
                        rate=max(1, round(ref_flat * frac / 100)),
                        durationS=cfg["S2_duration"],
                    )
                )
        s23["ours"] = run_load(
            ours,
            "sockets",
            workdir,
            connect=cfg["K"],
            connectConcurrency=200,
            connectTimeoutS=400,
            settleTimeoutS=300,
            phases=phases_ours,
            httpSockets=128,
            watchdog=900,
        )
        for kind in ("ours", "reference"):
            for p in s23[kind].get("phases", []):
                log(
                    f"  {kind} {p['name']}: {p['perSecond']}/s delivery p50 {p['deliveryMs']['p50']} p99 {p['deliveryMs']['p99']} lost {p['lost']} errors {p['errors']}"
                )
        results["S23"] = s23

    if want("S4"):
        log("S4 holding connections")
        results["S4"] = {}
        for count in cfg["S4_counts"]:
            pair = {}
            # Ours gives back the memory of sockets that left a few seconds after: wait for it,
            # so that RSS per connection is measured from the idle process.
            time.sleep(L_LATER_S)
            for server in (ours, ref):
                pair[server.kind] = s4_load(server, workdir, count, cfg)
                conn = pair[server.kind].get("connect", {})
                log(
                    f"  {server.kind} {count}: connected {conn.get('connected')} in {conn.get('elapsedS')} s, "
                    f"{pair[server.kind].get('server', {}).get('rssPerConnectionKb')} KB/conn"
                )
            if cfg["S4_asgi"]:
                asgi = ours_server(db.uri, workdir, mode="asgi").start()
                asgi.users, asgi.users_file = ours.users, ours.users_file
                pair["ours_asgi"] = s4_load(asgi, workdir, count, cfg)
                asgi.stop()
                conn = pair["ours_asgi"].get("connect", {})
                log(
                    f"  ours (asgi) {count}: connected {conn.get('connected')} in {conn.get('elapsedS')} s, "
                    f"{pair['ours_asgi'].get('server', {}).get('rssPerConnectionKb')} KB/conn"
                )
            results["S4"][str(count)] = pair

    if want("S10"):
        count = cfg["S10_users"]
        log(f"S10 restart storm, {count} users")
        s10 = {
            "config": {
                "connect": count,
                "senders": cfg["S10_senders"],
                "rate": cfg["S10_rate"],
                "chatS": cfg["S10_chat"],
            }
        }
        ours.stop()
        for key, make in (
            ("ours", lambda: ours_server(db.uri, workdir, label="ours-storm")),
            # The same, with each client's cursor in its handshake (`syncStatus`).
            ("ours_status", lambda: ours_server(db.uri, workdir, label="ours-storm-status")),
            # The same, a new process started beside the old one before it gets SIGTERM.
            (
                "ours_handover",
                lambda: ours_server(
                    db.uri, workdir, label="ours-storm-handover", REUSE_PORT="true"
                ),
            ),
            (
                "ours_asgi",
                lambda: ours_server(db.uri, workdir, mode="asgi", label="ours-storm-asgi"),
            ),
            (
                "ours_asgi_status",
                lambda: ours_server(db.uri, workdir, mode="asgi", label="ours-storm-asgi-status"),
            ),
            (
                "reference",
                lambda: reference_server(
                    db.uri, workdir, "reference-storm", REFERENCE_PRESENCE="0"
                ),
            ),
        ):
            if key not in cfg["S10_servers"]:
                continue
            server = make().start()
            source = ours if server.kind == "ours" else ref
            server.users, server.users_file = source.users, source.users_file
            restarted: dict = {}
            handover = workdir / f"{key}-handover"
            if key == "ours_handover":

                def beside(port: int) -> Server:
                    new = ours_server(
                        db.uri, workdir, label="ours-storm-handover-new", port=port,
                        REUSE_PORT="true",
                    )  # fmt: skip
                    new.cmd.append("--no-migrate")  # as operators start a second process
                    return new

                watcher = take_over_when_asked(server, beside, handover, restarted)
            else:
                watcher = restart_when_stopped(server, restarted)
            s10[key] = run_load(
                server,
                "storm",
                workdir,
                connect=count,
                connectConcurrency=200,
                senders=cfg["S10_senders"],
                rate=cfg["S10_rate"],
                chatS=cfg["S10_chat"],
                stormTimeoutS=cfg["S10_timeout"],
                httpSockets=64,
                syncStatus=key in ("ours_status", "ours_handover", "ours_asgi_status"),
                handoverFile=str(handover) if key == "ours_handover" else None,
                watchdog=cfg["S10_timeout"] + 600,
            )
            watcher.join(60)
            if key == "ours_handover":
                s10[key]["newStartS"] = restarted.get("seconds")
                if restarted.get("new"):
                    restarted["new"].stop()
            else:
                s10[key]["restartS"] = restarted.get("seconds")
            if restarted.get("exited_epoch") and s10[key].get("killedAtEpochMs"):
                s10[key]["stopS"] = round(
                    restarted["exited_epoch"] - s10[key]["killedAtEpochMs"] / 1000, 2
                )
            server.stop()
            r = s10[key]
            log(
                f"  {key}: restart {r.get('restartS')} s, all back {r.get('allBackS')} s, "
                f"caught up {r.get('allCaughtUpS')} s, lost {r.get('sends', {}).get('lost')} of "
                f"{r.get('sends', {}).get('acked')}, storm send p99 {r.get('stormSendMs', {}).get('p99')} ms"
            )
        ours.start()
        results["S10"] = s10

    if want("S5"):
        log(f"S5 presence storm, {cfg['S5_users']} users at once")
        ring_conversations(ours, cfg["S5_users"])
        ref_presence = reference_server(db.uri, workdir, "reference-presence").start()
        ref_presence.users, ref_presence.users_file = ref.users, ref.users_file
        everyone = ours_server(
            db.uri, workdir, label="ours-everyone", REALTIME_PRESENCE_FANOUT="everyone"
        ).start()
        everyone.users, everyone.users_file = ours.users, ours.users_file
        s5 = {}
        for key, server, extra in (
            ("ours", ours, {}),
            ("ours_original", ours, {"originalMode": True}),
            ("ours_everyone", everyone, {}),
            ("reference", ref_presence, {}),
        ):
            s5[key] = run_load(
                server,
                "sockets",
                workdir,
                **extra,
                connect=cfg["S5_users"],
                connectConcurrency=cfg["S5_users"],
                connectTimeoutS=120,
                settleTimeoutS=180,
                quietMs=1500,
                watchdog=400,
            )
            p = s5[key].get("presence", {})
            log(f"  {key}: {p.get('frames')} frames, {(p.get('bytes') or 0) / 1e6:.1f} MB")
        ref_presence.stop()
        everyone.stop()
        results["S5"] = s5

    if want("S7"):
        log("S7 one conversation growing")
        s7 = {}
        for server in (ours, ref):
            s7[server.kind] = run_load(
                server,
                "grow",
                workdir,
                pair=s7_pair,
                checkpoints=cfg["S7_checkpoints"],
                sampleSends=cfg["S7_sample_sends"],
                sampleReads=cfg["S7_sample_reads"],
                fillConcurrency=8,
                httpSockets=8,
                watchdog=600,
            )
        results["S7"] = s7

    if want("S6"):
        redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
        try:
            import redis

            redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
        except Exception as error:
            log(f"S6 skipped: no Redis at {redis_url} ({error})")
        else:
            log(f"S6 two of our processes sharing Redis ({redis_url})")
            pair = [
                ours_server(db.uri, workdir, label=f"ours-redis-{name}", REDIS_URL=redis_url)
                for name in ("a", "b")
            ]
            for server in pair:
                server.start()
                server.users, server.users_file = ours.users, ours.users_file
            web, sockets = pair
            results["S6"] = s6_load(web, workdir, sockets.base, cfg)
            for p in results["S6"].get("phases", []):
                log(
                    f"  {p['name']}: {p['perSecond']}/s delivery p50 {p['deliveryMs']['p50']} "
                    f"p99 {p['deliveryMs']['p99']} lost {p['lost']}"
                )
            through_nginx = s6_through_nginx(pair, workdir, cfg)
            if through_nginx:
                results["S6"]["nginx"] = through_nginx
                for p in through_nginx.get("phases", []):
                    log(
                        f"  nginx {p['name']}: {p['perSecond']}/s delivery p50 "
                        f"{p['deliveryMs']['p50']} p99 {p['deliveryMs']['p99']} lost {p['lost']}"
                    )
            for server in pair:
                server.stop()
            redis.Redis.from_url(redis_url).flushdb()

    if want("L"):
        log(f"L load: {cfg['L_rounds']} rounds of {cfg['L_connected']} users connecting at once")
        results["L"] = run_load(
            ours,
            "soak",
            workdir,
            connect=cfg["L_connected"],
            rounds=cfg["L_rounds"],
            connectConcurrency=200,
            connectTimeoutS=300,
            concurrency=cfg["S3_concurrency"],
            burstS=5,
            laterMs=L_LATER_S * 1000,
            watchdog=1800,
        )

    if want("M"):
        log(f"M our server modes, {cfg['M_connected']} connected users each")
        modes = {}
        for mode in ("eventlet", "gevent", "asgi"):
            server = ours if mode == "eventlet" else ours_server(db.uri, workdir, mode).start()
            server.users, server.users_file = ours.users, ours.users_file
            modes[mode] = run_load(
                server,
                "sockets",
                workdir,
                connect=cfg["M_connected"],
                connectConcurrency=100,
                connectTimeoutS=120,
                settleTimeoutS=60,
                phases=[
                    flat("rest", cfg["S3_concurrency"], cfg["M_duration"]),
                    flat("socket", cfg["S3_concurrency"], cfg["M_duration"]),
                    phase("rate", "rate", "rest", rate=cfg["M_rate"], durationS=cfg["M_duration"]),
                ],
                httpSockets=64,
                watchdog=600,
            )
            if server is not ours:
                server.stop()
            phases = {p["name"]: p for p in modes[mode].get("phases", [])}
            log(
                f"  {mode}: connected {modes[mode].get('connect', {}).get('connected')}, "
                f"REST {phases.get('flat-rest', {}).get('perSecond')}/s, "
                f"socket {phases.get('flat-socket', {}).get('perSecond')}/s"
            )
        results["M"] = modes

    if want("S8"):
        # Last: its members become each other's contacts, which would change the presence
        # traffic of every scenario that connects the same users after it.
        log(f"S8 group fan-out: {cfg['S8_members']} members, all connected")
        members = list(range(cfg["S8_members"]))
        big = group_create(ours, members, "S8 fan-out")
        small = group_create(ours, s8_pair, "S8 pair")
        s8 = run_load(
            ours,
            "group",
            workdir,
            members=members,
            groupId=big,
            small={"id": small, "members": s8_pair},
            dbUri=db.uri,
            dbPid=db.process.pid,
            opsSends=cfg["S8_ops_sends"],
            fanoutMessages=cfg["S8_fanout_messages"],
            senders=cfg["S8_senders"],
            readers=cfg["S8_readers"],
            durationS=cfg["S8_duration"],
            connectConcurrency=100,
            connectTimeoutS=300,
            settleTimeoutS=300,
            watchdog=1200,
        )
        s8["date"] = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        s8["mode"] = "quick" if quick else "full"
        results["S8"] = s8
        for key in ("fanout", "flat", "flatReading"):
            p = s8.get(key) or {}
            log(
                f"  {key}: {p.get('perSecond', '')}/s ack p99 {p.get('ackMs', {}).get('p99')} "
                f"last delivery p50 {p.get('lastDeliveryMs', {}).get('p50')} p99 "
                f"{p.get('lastDeliveryMs', {}).get('p99')} missing {p.get('missingDeliveries')}"
            )
        for size, ops in (s8.get("dbOps") or {}).items():
            log(f"  db ops per send, {size} group ({ops['members']} members): {ops['ops']}")

    if want("A"):
        log("A message actions: edit, delete, reactions beside a send")
        repeat = 100 if quick else 300
        results["A"] = {
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "repeat": repeat,
            "actions": run_script(workdir, "message_actions.py", "--repeat", repeat, timeout=900),
        }

    if want("S9"):
        log("S9 message search: 100,000 messages in 2,000 conversations")
        repeat, sends = (50, 100) if quick else (200, 300)
        results["S9"] = {
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "repeat": repeat,
            "sends": sends,
            "search": run_script(
                workdir, "search.py", "--repeat", repeat, "--sends", sends, timeout=1800
            ),
        }

    results["elapsed_min"] = (time.monotonic() - started) / 60
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    (workdir / "results.json").write_text(json.dumps(results, indent=1))
    DOCS.mkdir(exist_ok=True)
    # A partial run (--only) reports into the work dir and leaves docs/ alone (but see S8, A,
    # S9 and S6 below).
    target = workdir if only else DOCS
    write_report(results, target / "benchmarks.md")
    # S8, A, S9 and S6 date their own sections, so a run of them alone can update them in docs/.
    for key, heading, section in (
        ("S8", "## S8 ", s8_section),
        ("A", "## A ", actions_section),
        ("S9", "## S9 ", search_section),
        ("S6", "## S6 ", s6_section),
    ):
        if only and key in results:
            merge_section(DOCS / "benchmarks.md", heading, section(results))
            log(f"merged the {key} section into {DOCS / 'benchmarks.md'}")
    if "S23" in results and plot(results, target / "benchmarks-latency.png"):
        log(f"wrote {target / 'benchmarks-latency.png'}")
    log(f"wrote {target / 'benchmarks.md'}")
    log(f"done in {results['elapsed_min']:.1f} min; logs in {workdir}")


if __name__ == "__main__":
    main()
