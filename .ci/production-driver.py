#!/usr/bin/env python3
"""Drives .ci/production: three instances behind nginx under a steady mixed load, through a
rolling restart, a killed instance, a restart of PostgreSQL and a move behind PgBouncer in
transaction pooling mode; prints each phase's counts and latencies and exits non-zero when a
promise is broken.

Standard library only. Set up by .ci/production (the database, the accounts and their tokens);
every setting comes from its FAILFORWARD_PROD_* environment variables.
"""

import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

BINARY = os.environ["FAILFORWARD_PROD_BINARY"]
WORK = os.environ["FAILFORWARD_PROD_WORK"]
DATABASE_URL = os.environ["FAILFORWARD_DATABASE_URL"]
PASSWORD = os.environ["FAILFORWARD_PROD_PASSWORD"]
PG_CTL = os.environ["FAILFORWARD_PROD_PG_CTL"].split()
PG_OPTIONS = os.environ["FAILFORWARD_PROD_PG_OPTIONS"]
PG_PORT = int(os.environ["FAILFORWARD_PROD_PG_PORT"])
PGBOUNCER = os.environ["FAILFORWARD_PROD_PGBOUNCER"]
PGBOUNCER_PORT = int(os.environ["FAILFORWARD_PROD_PGBOUNCER_PORT"])
PGBIN = os.environ["FAILFORWARD_PROD_PGBIN"]
AS_PG = os.environ["FAILFORWARD_PROD_AS_PG"].split()
REPLICA_PORT = int(os.environ["FAILFORWARD_PROD_REPLICA_PORT"])
# How late the replica applies each commit: later than a request that follows a write arrives,
# so a read that went to the replica without waiting for it would miss that write.
REPLICA_APPLY_DELAY_MS = 50
LB_PORT = int(os.environ["FAILFORWARD_PROD_LB_PORT"])
FIRST_PORT = int(os.environ["FAILFORWARD_PROD_FIRST_PORT"])
PORTS = [FIRST_PORT + i for i in range(3)]
DRAIN_SECONDS = 3
SECRET_KEY = "one secret for the three production-test instances"
NGINX = "nginx" if subprocess.run(["which", "nginx"], capture_output=True).returncode == 0 else "/usr/sbin/nginx"

USERS = []
with open(os.environ["FAILFORWARD_PROD_USERS"]) as f:
    for line in f:
        email, token = line.split()
        USERS.append((email, token))

problems = []


def problem(text):
    print(f"production: FAILED: {text}", flush=True)
    problems.append(text)


class Replica:
    """A streaming replica of the test's PostgreSQL, made with pg_basebackup, that applies every
    commit REPLICA_APPLY_DELAY_MS late."""

    def __init__(self):
        self.dir = os.path.join(WORK, "replica")
        os.makedirs(self.dir, mode=0o700)
        if AS_PG:
            subprocess.run(["chown", "postgres:postgres", self.dir], check=True)
        subprocess.run(AS_PG + [f"{PGBIN}/pg_basebackup", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres",
                                "-D", self.dir, "--write-recovery-conf", "--wal-method=stream", "--checkpoint=fast"],
                       check=True, capture_output=True)
        options = (f"-c listen_addresses=127.0.0.1 -p {REPLICA_PORT} -k {self.dir} -c fsync=off "
                   f"-c max_connections=200 -c recovery_min_apply_delay={REPLICA_APPLY_DELAY_MS}ms")
        subprocess.run(AS_PG + [f"{PGBIN}/pg_ctl", "-D", self.dir, "-l", os.path.join(self.dir, "server.log"), "-w",
                                "-o", options, "start"], check=True, capture_output=True)
        self.url = DATABASE_URL.replace(f":{PG_PORT}/", f":{REPLICA_PORT}/")

    def scans(self):
        """Table and index scans the replica has run for clients (replaying WAL scans nothing).
        PostgreSQL 15 publishes an idle connection's counts within 10 s."""
        out = subprocess.run(["psql", self.url, "-Atq", "-c",
                              "SELECT COALESCE(sum(COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0)), 0) "
                              "FROM pg_stat_user_tables"],
                             capture_output=True, text=True, check=True)
        return int(out.stdout.strip())

    def stop(self):
        subprocess.run(AS_PG + [f"{PGBIN}/pg_ctl", "-D", self.dir, "-m", "fast", "stop"], capture_output=True)


# ---------------------------------------------------------------- HTTP through the balancer


def request(method, path, body=None, headers=None, port=LB_PORT, timeout=30):
    """One request on a fresh connection: (status, headers, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        all_headers = {"Connection": "close"}
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, response.getheaders(), data
    finally:
        conn.close()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


class Stats:
    """Every load request: its phase, start, latency and outcome."""

    def __init__(self):
        self.lock = threading.Lock()
        self.phase = "setup"
        self.records = []  # (phase, started, latency_ms, ok, what)

    def run(self, what, method, path, expect, **kwargs):
        phase = self.phase
        started = time.monotonic()
        try:
            status, headers, data = request(method, path, **kwargs)
            ok = status in expect
            detail = f"{status} {data[:200]!r}"
        except Exception as error:  # noqa: BLE001 - every failure counts, whatever it is
            status, headers, data, ok, detail = None, [], b"", False, repr(error)
        latency = (time.monotonic() - started) * 1000
        with self.lock:
            self.records.append((phase, started, latency, ok, what if ok else f"{what} {method} {path}: {detail}"))
        return ok, status, headers, data


STATS = Stats()
STOP = threading.Event()


def pace(seconds):
    STOP.wait(seconds)


# ---------------------------------------------------------------- processes


class Instance:
    def __init__(self, index):
        self.index = index
        self.port = PORTS[index]
        self.proc = None
        self.data_dir = os.path.join(WORK, f"instance{index}")
        os.makedirs(self.data_dir, exist_ok=True)
        self.log = open(os.path.join(WORK, f"instance{index}.log"), "ab")
        # Phase 4 moves the instances behind PgBouncer: its URL for queries, a direct one for
        # LISTEN and the migrations' advisory lock.
        self.database_url = DATABASE_URL
        self.direct_url = None
        self.read_url = None

    def start(self):
        env = dict(os.environ)
        env.pop("FAILFORWARD_DATABASE_DIRECT_URL", None)
        env.pop("FAILFORWARD_DATABASE_READ_URL", None)
        if self.direct_url:
            env["FAILFORWARD_DATABASE_DIRECT_URL"] = self.direct_url
        if self.read_url:
            env["FAILFORWARD_DATABASE_READ_URL"] = self.read_url
        env.update(
            {
                "FAILFORWARD_DATABASE_URL": self.database_url,
                "FAILFORWARD_BIND": f"127.0.0.1:{self.port}",
                "FAILFORWARD_DATA_DIR": self.data_dir,
                "FAILFORWARD_SECRET_KEY": SECRET_KEY,
                "FAILFORWARD_PUBLIC_URL": f"http://127.0.0.1:{LB_PORT}",
                "FAILFORWARD_TRUST_FORWARDED_FOR": "true",
                "FAILFORWARD_LOG_LEVEL": "warn,failforward=info",
                "FAILFORWARD_SHUTDOWN_DRAIN_SECONDS": str(DRAIN_SECONDS),
                # Many test clients share 127.0.0.1: no sign-in throttling in the way.
                "FAILFORWARD_LOGIN_MAX_FAILURES": "1000",
            }
        )
        self.proc = subprocess.Popen([BINARY, "serve"], env=env, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)

    def stop(self, sig):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)


INSTANCES = [Instance(i) for i in range(3)]


class Pooler:
    """PgBouncer in transaction pooling mode in front of the test's PostgreSQL."""

    def __init__(self):
        self.dir = os.path.join(WORK, "pgbouncer")
        os.makedirs(self.dir, exist_ok=True)
        # PgBouncer refuses to run as root: as root it runs as the postgres user, like PostgreSQL.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        with open(os.path.join(self.dir, "userlist.txt"), "w") as f:
            f.write('"postgres" ""\n')
        with open(os.path.join(self.dir, "pgbouncer.ini"), "w") as f:
            f.write(
                f"""[databases]
failforward = host=127.0.0.1 port={PG_PORT} dbname=failforward user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {PGBOUNCER_PORT}
unix_socket_dir =
auth_type = trust
auth_file = {self.dir}/userlist.txt
admin_users = postgres
pool_mode = transaction
; sqlx prepares every statement under a name: PgBouncer follows them across server connections.
max_prepared_statements = 200
; sqlx sends extra_float_digits at start-up; PgBouncer keeps it per client like the others.
track_extra_parameters = IntervalStyle, extra_float_digits
; Three instances of 16 connections share 12 server connections.
default_pool_size = 12
max_client_conn = 200
logfile = {self.dir}/pgbouncer.log
pidfile = {self.dir}/pgbouncer.pid
"""
            )
        if self.as_user:
            subprocess.run(["chown", "-R", "postgres:postgres", self.dir], check=True)
        # Its log file has what it would print.
        self.proc = subprocess.Popen(self.as_user + [PGBOUNCER, os.path.join(self.dir, "pgbouncer.ini")],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = DATABASE_URL.replace(f":{PG_PORT}/", f":{PGBOUNCER_PORT}/")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if subprocess.run(["psql", self.url, "-Atqc", "SELECT 1"], capture_output=True).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("PgBouncer did not answer within 20 s")

    def show(self, what):
        """One of PgBouncer's SHOW commands on its admin console, as dicts by column."""
        admin = self.url.rsplit("/", 1)[0] + "/pgbouncer"
        out = subprocess.run(["psql", admin, "-Aq", "-F", "\t", "-c", f"SHOW {what}"],
                             capture_output=True, text=True, check=True)
        lines = [line for line in out.stdout.splitlines() if line and not line.startswith("(")]
        header = lines[0].split("\t")
        return [dict(zip(header, line.split("\t"))) for line in lines[1:]]

    def transactions(self):
        return sum(int(row["total_xact_count"]) for row in self.show("STATS") if row["database"] == "failforward")

    def stop(self):
        # Signalled by its pid file: runuser, when it is the parent, need not pass signals on.
        try:
            with open(os.path.join(self.dir, "pgbouncer.pid")) as f:
                pid = int(f.read().strip())
            os.kill(pid, signal.SIGINT)
            self.proc.wait(timeout=20)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            subprocess.run(["pkill", "-KILL", "-F", os.path.join(self.dir, "pgbouncer.pid")], capture_output=True)
            self.proc.wait(timeout=20)


class Balancer:
    """nginx with an upstream list the health poller rewrites."""

    def __init__(self):
        self.dir = os.path.join(WORK, "nginx")
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        self.conf = os.path.join(self.dir, "nginx.conf")
        self.upstream = os.path.join(self.dir, "upstream.conf")
        self.lock = threading.Lock()
        self.reloads = 0
        user = "user root root;\n" if os.geteuid() == 0 else ""
        d = self.dir
        with open(self.conf, "w") as f:
            f.write(
                f"""{user}worker_processes 1;
error_log {d}/error.log warn;
pid {d}/nginx.pid;
worker_shutdown_timeout 30s;
events {{ worker_connections 2048; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi;
  scgi_temp_path {d}/tmp/scgi;
  # No keep-alive to the instances: a request is never sent on a connection an instance has
  # dropped, so a refused connection is retried on the next server, POSTs included (nothing was
  # sent yet); requests already sent are retried only when idempotent.
  upstream app {{ include {self.upstream}; }}
  server {{
    listen 127.0.0.1:{LB_PORT};
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_next_upstream error timeout http_502;
    proxy_next_upstream_tries 3;
    proxy_connect_timeout 2s;
    proxy_read_timeout 60s;
    location / {{ proxy_pass http://app; }}
    location ~ /events$ {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_buffering off;
      proxy_read_timeout 1h;
    }}
  }}
}}
"""
            )
        self.written = PORTS
        self.write_upstream(PORTS)
        self.proc = subprocess.Popen([NGINX, "-p", self.dir, "-c", self.conf, "-g", "daemon off;"], stdin=subprocess.DEVNULL)

    def write_upstream(self, ports):
        with open(self.upstream, "w") as f:
            for port in ports:
                f.write(f"server 127.0.0.1:{port} max_fails=0;\n")

    def set_servers(self, ports):
        with self.lock:
            # nginx refuses an empty upstream: with none ready, every instance stays listed and
            # requests wait for the database like they would on one instance.
            ports = ports or PORTS
            if ports == self.written:
                return
            self.written = ports
            self.write_upstream(ports)
            done = subprocess.run([NGINX, "-p", self.dir, "-c", self.conf, "-s", "reload"], capture_output=True)
            if done.returncode != 0:
                problem(f"nginx -s reload: {done.stderr.decode().strip()}")
            self.reloads += 1

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        self.proc.wait(timeout=40)


class Health:
    """Polls every instance's /readyz five times a second and keeps nginx's list to the ready."""

    def __init__(self, balancer):
        self.balancer = balancer
        self.ready = {port: False for port in PORTS}
        self.events = []  # (time, port, ready)
        self.lock = threading.Lock()
        self.listed = None
        for port in PORTS:
            threading.Thread(target=self.poll, args=(port,), daemon=True).start()

    def poll(self, port):
        while not STOP.is_set():
            try:
                status, _, _ = request("GET", "/readyz", port=port, timeout=3)
                ready = status == 200
            except Exception:  # noqa: BLE001 - down is not ready
                ready = False
            with self.lock:
                if self.ready[port] != ready:
                    self.ready[port] = ready
                    self.events.append((time.monotonic(), port, ready))
                listed = sorted(p for p, r in self.ready.items() if r)
                if listed != self.listed:
                    self.listed = listed
                    self.balancer.set_servers(listed)
            time.sleep(0.2)

    def wait_all_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all(self.ready.values()) and self.listed == PORTS:
                    return True
            time.sleep(0.1)
        problem(f"not every instance was ready within {timeout} s: {self.ready}")
        return False

    def wait(self, port, ready, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.ready[port] == ready:
                    return True
            time.sleep(0.05)
        problem(f"instance {port} did not become {'ready' if ready else 'not ready'} within {timeout} s")
        return False


# ---------------------------------------------------------------- the load


def api(method, path, token, body=None, expect=(200,), what="api"):
    return STATS.run(what, method, path, expect, body=body, headers=bearer(token))


ACKNOWLEDGED = []  # titles of the captures answered 201
ACK_LOCK = threading.Lock()


def capturer(worker):
    email, token = USERS[worker]
    n = 0
    while not STOP.is_set():
        n += 1
        title = f"prod-{worker}-{n} checkout timed out"
        ok, status, _, _ = api(
            "POST",
            "/api/v1/teams/ops/loops",
            token,
            {"title": title, "what_happened": "Payments took 30 s during the production test."},
            expect=(201,),
            what="capture",
        )
        if ok:
            with ACK_LOCK:
                ACKNOWLEDGED.append(title)
        pace(0.15)


def sign_in(email, stop=STOP):
    """A browser's cookies after signing in through the form."""
    while not stop.is_set():
        try:
            status, headers, body = request("GET", "/login")
            cookies = cookies_from(headers, {})
            token = re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1).decode()
            form = urllib.parse.urlencode({"email": email, "password": PASSWORD, "next": "/", "csrf_token": token})
            status, headers, _ = request(
                "POST",
                "/login",
                body=form,
                headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie_header(cookies)},
            )
            if status == 303:
                return cookies_from(headers, cookies)
            print(f"production: sign-in answered {status}", flush=True)
        except Exception as error:  # noqa: BLE001 - retried
            print(f"production: sign-in failed: {error!r}", flush=True)
        time.sleep(0.5)
    return {}


def cookies_from(headers, cookies):
    cookies = dict(cookies)
    for name, value in headers:
        if name.lower() == "set-cookie":
            pair = value.split(";", 1)[0]
            key, _, val = pair.partition("=")
            cookies[key.strip()] = val.strip()
    return cookies


def cookie_header(cookies):
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def page_viewer(worker):
    email, _ = USERS[worker]
    cookies = sign_in(email)
    pages = ["/teams/ops/loops", "/teams/ops", "/"]
    n = 0
    while not STOP.is_set():
        path = pages[n % len(pages)]
        n += 1
        STATS.run("page", "GET", path, (200,), headers={"Cookie": cookie_header(cookies)})
        pace(0.15)


def searcher(worker):
    _, token = USERS[worker]
    words = ["checkout", "payments", "timed out", "production"]
    n = 0
    while not STOP.is_set():
        q = words[n % len(words)].replace(" ", "+")
        n += 1
        api("GET", f"/api/v1/search?q={q}", token, what="search")
        pace(0.2)


class Review:
    """A review session with thirty participants, each on a live stream through the balancer."""

    def __init__(self):
        lead_token = USERS[0][1]
        ok, status, _, data = api("POST", "/api/v1/teams/ops/loops", lead_token,
                                  {"title": "The release train stopped", "what_happened": "Reviewed live."},
                                  expect=(201,), what="setup")
        assert ok, data
        loop_id = json.loads(data)["id"]
        ok, status, _, data = api("POST", "/api/v1/teams/ops/reviews", lead_token, {"loop_id": loop_id, "dots": 3},
                                  expect=(201,), what="setup")
        assert ok, data
        self.base = f"/api/v1/teams/ops/reviews/{json.loads(data)['id']}"
        for _, token in USERS[1:]:
            ok, _, _, data = api("POST", f"{self.base}/participants", token, {}, expect=(200, 201), what="setup")
            assert ok, data
        ok, _, _, data = api("POST", f"{self.base}/advance", lead_token, {"from": "open_actions"},
                                  expect=(200, 201), what="setup")
        assert ok, data
        self.seen = [0] * len(USERS)
        self.connects = [0] * len(USERS)
        self.lock = threading.Lock()
        self.writing = threading.Event()
        self.writing.set()
        for i in range(len(USERS)):
            threading.Thread(target=self.listen, args=(i,), daemon=True).start()
        threading.Thread(target=self.write, daemon=True).start()

    def listen(self, i):
        token = USERS[i][1]
        while not STOP.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", LB_PORT, timeout=40)
            try:
                conn.request("GET", f"{self.base}/events", headers={**bearer(token), "Accept": "text/event-stream"})
                response = conn.getresponse()
                if response.status != 200:
                    response.read()
                    time.sleep(0.2)
                    continue
                with self.lock:
                    self.connects[i] += 1
                while not STOP.is_set():
                    line = response.readline()
                    if not line:
                        break  # the stream ended (its instance stopped): reconnect
                    if line.startswith(b"data:"):
                        version = json.loads(line[5:])["version"]
                        with self.lock:
                            self.seen[i] = max(self.seen[i], version)
            except Exception:  # noqa: BLE001 - reconnect
                time.sleep(0.1)
            finally:
                conn.close()

    def write(self):
        n = 0
        while not STOP.is_set():
            self.writing.wait()
            n += 1
            _, token = USERS[n % len(USERS)]
            api("POST", f"{self.base}/cards", token, {"kind": "observation", "text": f"observation {n}"},
                expect=(200, 201), what="card")
            pace(0.3)

    def version(self):
        for _ in range(50):
            status, _, data = request("GET", self.base, headers=bearer(USERS[0][1]))
            if status == 200:
                return json.loads(data)["version"]
            time.sleep(0.2)
        raise RuntimeError("the review session could not be read")

    def check_caught_up(self, phase, timeout=15):
        """With writing paused, every stream reaches the session's current version."""
        self.writing.clear()
        time.sleep(0.5)
        target = self.version()
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            with self.lock:
                behind = [i for i, v in enumerate(self.seen) if v < target]
            if not behind:
                print(f"production: {phase}: all {len(USERS)} live streams at version {target} "
                      f"within {time.monotonic() - started:.1f} s", flush=True)
                self.writing.set()
                return
            time.sleep(0.1)
        with self.lock:
            problem(f"{phase}: live streams behind version {target}: {[(i, self.seen[i]) for i in behind]}")
        self.writing.set()


# ---------------------------------------------------------------- phases


def summary(phase):
    with STATS.lock:
        rows = [r for r in STATS.records if r[0] == phase]
    latencies = sorted(r[2] for r in rows)
    failed = [r for r in rows if not r[3]]

    def pct(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] if latencies else 0

    kinds = {}
    for r in rows:
        kind = r[4].split(" ", 1)[0] if r[3] else "failed"
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"production: {phase:<16} requests {len(rows):>5}  failed {len(failed):>3}  "
          f"p50 {pct(0.50):>6.0f} ms  p99 {pct(0.99):>6.0f} ms  max {latencies[-1] if latencies else 0:>6.0f} ms  {kinds}",
          flush=True)
    for r in failed[:20]:
        print(f"production:   failed at {r[1] - T0:.2f} s: {r[4]}", flush=True)
    return rows, failed


def psql(sql):
    out = subprocess.run(["psql", DATABASE_URL, "-Atq", "-c", sql], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def restart_each(health):
    """A rolling restart: each instance in turn gets SIGTERM, must exit cleanly, starts again
    (with whatever settings it was given meanwhile) and is ready before the next one goes."""
    for instance in INSTANCES:
        code = instance.stop(signal.SIGTERM)
        if code != 0:
            problem(f"instance {instance.port} exited with {code} after SIGTERM")
        instance.start()
        health.wait(instance.port, True)
        health.wait_all_ready()
        time.sleep(1)


def read_your_writes(replica):
    """Phase 5's checks: the writer's next reads show their write; the replica served reads."""
    email, token = USERS[0]  # the team's lead, who may export the team
    cookies = sign_in(email, stop=threading.Event())  # the load, and STOP with it, has ended
    ok, _, _, data = api("GET", "/api/v1/teams/ops/health", token, what="health")
    base = json.loads(data)["loops"] if ok else 0
    used_from = replica.scans()
    stale = []
    rounds = 20
    for n in range(1, rounds + 1):
        word = f"zebrafish{n}x{random.randrange(10**6)}"
        ok, _, _, data = api("POST", "/api/v1/teams/ops/loops", token,
                             {"title": f"prod-replica {word}", "what_happened": "Read straight after it was written."},
                             expect=(201,), what="capture")
        if not ok:
            continue
        with ACK_LOCK:
            ACKNOWLEDGED.append(f"prod-replica {word}")
        ok, _, _, data = api("GET", f"/api/v1/search?q={word}", token, what="search")
        if ok and word not in data.decode():
            stale.append(f"search for {word} found nothing")
        ok, _, _, data = STATS.run("page", "GET", f"/search?q={word}", (200,),
                                   headers={"Cookie": cookie_header(cookies)})
        if ok and word not in data.decode():
            stale.append(f"the search page for {word} shows nothing")
        ok, _, _, data = api("GET", "/api/v1/teams/ops/health", token, what="health")
        counted = json.loads(data)["loops"] if ok else base + n
        if counted < base + n:
            stale.append(f"health counted {counted} loops, {base + n} written")
        ok, _, _, data = api("GET", "/api/v1/teams/ops/export", token, what="export")
        if ok and word not in data.decode():
            stale.append(f"the export lacks {word}")
        time.sleep(0.3)
    time.sleep(11)
    used = replica.scans() - used_from
    # The replica goes away: reads go to the primary, still fresh, and nothing fails.
    replica.stop()
    down_latencies = []
    for n in range(1, 6):
        word = f"zebrafishdown{n}x{random.randrange(10**6)}"
        ok, _, _, _ = api("POST", "/api/v1/teams/ops/loops", token,
                          {"title": f"prod-replica {word}", "what_happened": "Written while the replica was down."},
                          expect=(201,), what="capture")
        if ok:
            with ACK_LOCK:
                ACKNOWLEDGED.append(f"prod-replica {word}")
        started = time.monotonic()
        ok, _, _, data = api("GET", f"/api/v1/search?q={word}", token, what="search")
        down_latencies.append((time.monotonic() - started) * 1000)
        if ok and word not in data.decode():
            stale.append(f"with the replica down, search for {word} found nothing")
    rows, failed = summary("read replica")
    print(f"production: read replica: {rounds} captures each read back at once through search (API and page), "
          f"health and export: "
          f"{len(stale)} stale; {used} table and index scans ran on the replica; with the replica stopped, "
          f"5 captures searched at once in {', '.join(f'{ms:.0f}' for ms in down_latencies)} ms", flush=True)
    for text in stale:
        problem(f"read replica: stale read of one's own write: {text}")
    if failed:
        problem(f"read replica: {len(failed)} failed requests (0 allowed)")
    # Search, health and export each read the replica when it has caught up: at least once a round.
    if used < rounds:
        problem(f"read replica: only {used} scans ran on the replica")


def main():
    global T0
    T0 = time.monotonic()
    for instance in INSTANCES:
        instance.start()
    balancer = Balancer()
    health = Health(balancer)
    pooler = None
    replica = None
    try:
        if not health.wait_all_ready(120):
            return
        lead = USERS[0][1]
        ok, _, _, data = api("POST", "/api/v1/teams", lead, {"name": "Ops"}, expect=(201,), what="setup")
        assert ok, data
        for email, _ in USERS[1:]:
            ok, _, _, data = api("POST", "/api/v1/teams/ops/members", lead, {"email": email, "role": "member"},
                                 expect=(201,), what="setup")
            assert ok, data
        review = Review()
        workers = [threading.Thread(target=capturer, args=(1,)), threading.Thread(target=capturer, args=(2,)),
                   threading.Thread(target=page_viewer, args=(3,)), threading.Thread(target=searcher, args=(4,))]
        for w in workers:
            w.daemon = True
            w.start()

        STATS.phase = "steady"
        time.sleep(10)
        review.check_caught_up("steady")
        summary_rows = {"steady": summary("steady")}

        # 1. Rolling restart: SIGTERM, wait for the clean exit, start again, wait until ready.
        STATS.phase = "rolling restart"
        restart_each(health)
        review.check_caught_up("rolling restart")
        summary_rows["rolling restart"] = rows_failed = summary("rolling restart")
        if rows_failed[1]:
            problem(f"rolling restart: {len(rows_failed[1])} failed requests (0 allowed)")

        # 2. SIGKILL: only requests in flight on the killed instance may fail.
        STATS.phase = "SIGKILL"
        time.sleep(2)
        victim = INSTANCES[1]
        killed_at = time.monotonic()
        victim.stop(signal.SIGKILL)
        # Reaped: its sockets are closed. A request sent before then may have reached it.
        dead_at = time.monotonic()
        print(f"production: SIGKILL at {killed_at - T0:.2f} s, reaped at {dead_at - T0:.2f} s", flush=True)
        time.sleep(4)
        victim.start()
        health.wait(victim.port, True)
        health.wait_all_ready()
        time.sleep(2)
        review.check_caught_up("SIGKILL")
        rows, failed = summary("SIGKILL")
        late = [r for r in failed if r[1] > dead_at]
        if late:
            problem(f"SIGKILL: {len(late)} requests started after the killed instance was gone failed")
        else:
            print(f"production: SIGKILL: {len(failed)} requests failed, all started before the killed "
                  "instance was gone", flush=True)

        # 3. PostgreSQL restarts: every instance reads not ready, then ready again by itself.
        STATS.phase = "PG restart"
        time.sleep(2)
        stopped_at = time.monotonic()
        subprocess.run(PG_CTL + ["-m", "fast", "stop"], check=True, capture_output=True)
        down_at = time.monotonic()
        for instance in INSTANCES:
            health.wait(instance.port, False, timeout=20)
        time.sleep(2)
        subprocess.run(PG_CTL + ["-o", PG_OPTIONS, "start"], check=True, capture_output=True)
        back_at = time.monotonic()
        health.wait_all_ready(60)
        ready_at = time.monotonic()
        print(f"production: PG restart: PostgreSQL down {back_at - stopped_at:.1f} s; every instance ready "
              f"{ready_at - back_at:.1f} s after it came back, none restarted", flush=True)
        if any(i.proc.poll() is not None for i in INSTANCES):
            problem("PG restart: an instance exited")
        time.sleep(3)
        # A card written after the restart reaches every stream: each instance listens again.
        review.check_caught_up("PG restart")
        rows, failed = summary("PG restart")
        # A fast stop ends the queries running at that moment: those requests fail (500), and
        # so may requests that take a pooled connection the stop killed in the second after it
        # (seen in runs; not investigated further). Requests sent later, while PostgreSQL is
        # down, wait for it and succeed.
        print(f"production: PG restart: stop from {stopped_at - T0:.2f} s to {down_at - T0:.2f} s", flush=True)
        late = [r for r in failed if not stopped_at - 0.1 <= r[1] <= down_at + 1.0]
        if late:
            problem(f"PG restart: {len(late)} requests failed that were not in flight when PostgreSQL stopped")
        else:
            print(f"production: PG restart: {len(failed)} requests failed, all started while PostgreSQL "
                  f"was stopping or within 1 s after", flush=True)

        # 4. PgBouncer in transaction pooling mode: each instance in turn is restarted onto it,
        # with LISTEN and the migrations on a direct connection. Nothing fails, live streams
        # still catch up (NOTIFY sent through the pooler reaches LISTEN on the direct
        # connection), and the queries did go through PgBouncer.
        STATS.phase = "PgBouncer"
        time.sleep(2)
        pooler = Pooler()
        for instance in INSTANCES:
            instance.database_url = pooler.url
            instance.direct_url = DATABASE_URL
        restart_each(health)
        pooled_from = pooler.transactions()
        time.sleep(10)
        review.check_caught_up("PgBouncer")
        pooled = pooler.transactions() - pooled_from
        pools = [row for row in pooler.show("POOLS") if row["database"] == "failforward"]
        modes = {row["pool_mode"] for row in pools}
        clients = sum(int(row["cl_active"]) + int(row["cl_waiting"]) for row in pools)
        servers = sum(int(row["sv_active"]) + int(row["sv_idle"]) + int(row["sv_used"]) for row in pools)
        print(f"production: PgBouncer: {pooled} transactions through it in the last 10 s, pool mode {modes}, "
              f"{clients} client connections on {servers} server connections", flush=True)
        rows, failed = summary("PgBouncer")
        if failed:
            problem(f"PgBouncer: {len(failed)} failed requests (0 allowed)")
        if modes != {"transaction"}:
            problem(f"PgBouncer: pool mode {modes}, not transaction")
        if pooled < 100:
            problem(f"PgBouncer: only {pooled} transactions went through it")

        STOP.set()
        for w in workers:
            w.join(timeout=40)

        # 5. A read replica takes search, the dashboards and exports. The load has stopped; one
        # person captures a loop and at once, through the balancer (so on any instance), searches
        # for it (API and page), reads the team's health and exports the team: each must show the new loop,
        # although the replica applies every commit 50 ms late. Between captures the replica has
        # caught up, so reads do go there. Then the replica stops: reads go to the primary.
        STATS.phase = "read replica"
        replica = Replica()
        for instance in INSTANCES:
            instance.read_url = replica.url
        restart_each(health)
        read_your_writes(replica)

        # Every acknowledged capture is in the database.
        stored = set(psql("SELECT title FROM loops WHERE title LIKE 'prod-%'"))
        with ACK_LOCK:
            missing = [t for t in ACKNOWLEDGED if t not in stored]
        print(f"production: {len(ACKNOWLEDGED)} acknowledged captures, {len(missing)} missing from the database; "
              f"{sum(review.connects)} live-stream connections for {len(USERS)} participants; "
              f"{balancer.reloads} nginx reloads", flush=True)
        if missing:
            problem(f"acknowledged captures missing: {missing[:10]}")
    finally:
        STOP.set()
        for instance in INSTANCES:
            if instance.proc and instance.proc.poll() is None:
                instance.proc.send_signal(signal.SIGKILL)
                instance.proc.wait()
        balancer.proc.send_signal(signal.SIGTERM)
        balancer.proc.wait()
        if pooler:
            pooler.stop()
        if replica:
            replica.stop()
    if problems:
        print(f"production: {len(problems)} problems", flush=True)
        sys.exit(1)
    print("production: passed", flush=True)


if __name__ == "__main__":
    main()
