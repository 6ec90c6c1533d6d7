#!/usr/bin/python3
"""The cluster rig: Even's services on eight hosts (Linux network namespaces on a private bridge),
clients appending with retries, faults injected at random moments, then checker.py and figures.

Started by tests/cluster/run (README.md there). Needs root (ip netns, ip link) and a build
directory with the services, evenctl and even-cluster-client. The last line printed is one JSON
object; the exit code is 1 when anything was lost, duplicated, misordered or unequal.
"""
import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time

import checker

NET = "10.217.0."
BRIDGE = "evenbr0"
NS_PREFIX = "even-"     # namespace names: even-store, even-write, ...
VETH_PREFIX = "evn-"    # the bridge's end of each host's veth pair: evn-store, ...
HOSTS = {"store": 2, "write": 3, "disp": 4, "q1": 5, "q2": 6, "c1": 7, "c2": 8, "c3": 9, "store2": 10}
STORES = ["store", "store2"]  # --scenario failover: a primary and its semi-sync replica, on two hosts
CLIENTS = ["c1", "c2", "c3"]
QUERY_HOSTS = ["q1", "q2"]
DB_PORT = 3327          # each namespace has its own ports; these are the rig's everywhere
PORT_BASE = 6600
STORE_DB = "even"
QUERY_DB = "evenq"
PROJECTION = "cluster"

FAULT_KINDS = ["writer_kill", "store_kill", "partition_client", "partition_disp", "partition_query",
               "partition_writer_store", "dispatcher_kill", "projector_kill", "gap_rollback"]


def log(msg):
    print(f"[cluster {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ip(host):
    return NET + str(HOSTS[host])


def ns(host):
    return NS_PREFIX + host


def run(argv, check=True, timeout=120, env=None, quiet=False):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout,
                       env=env)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
    if not quiet and r.returncode != 0:
        log(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
    return r


def in_ns(host, argv):
    return ["ip", "netns", "exec", ns(host)] + argv


class MariaDb:
    """A private MariaDB in a host's namespace, started by ops/even db start (its data folder
    under the rig's work folder, listening on the host's address)."""

    def __init__(self, rig, host, role="single"):
        self.rig, self.host, self.role = rig, host, role  # role: EVEN_DB_ROLE of ops/even
        self.var = os.path.join(rig.work, host)
        self.sock = os.path.join(self.var, "mariadb", "mysqld.sock")
        self.pidfile = os.path.join(self.var, "mariadb", "mysqld.pid")
        self.url = f"tcp://{ip(host)}:{DB_PORT}"

    def _env(self):
        env = dict(os.environ)
        env.update(EVEN_VAR=self.var, EVEN_DB_PORT=str(DB_PORT), EVEN_DB_BIND=ip(self.host),
                   EVEN_DB_BUFFER_POOL="128M", EVEN_BUILD_DIR=self.rig.build, EVEN_DB_ROLE=self.role,
                   EVEN_DB_SEMISYNC_TIMEOUT_MS="1000", EVEN_DB_SERVER_ID=str(HOSTS[self.host]))
        return env

    def start(self):
        run(in_ns(self.host, [os.path.join(self.rig.root, "ops", "even"), "db", "start"]), env=self._env(), timeout=180)
        # Root from the rig's hosts, without a password: a private server on a private network.
        # Not binlogged: each server makes its own (GTID strict mode keeps the binlogs one history).
        self.sql(f"SET SESSION sql_log_bin = 0; CREATE USER IF NOT EXISTS 'root'@'{NET}%' IDENTIFIED BY ''; "
                 f"GRANT ALL ON *.* TO 'root'@'{NET}%' WITH GRANT OPTION", db=None)

    def follow(self, primary, from_current_pos=False):
        """Replicate from `primary` (another host's MariaDb): GTID, semi-sync, read-only."""
        mode = "current_pos" if from_current_pos else "slave_pos"
        self.sql("STOP SLAVE; SET GLOBAL read_only = ON; SET GLOBAL rpl_semi_sync_master_enabled = OFF; "
                 "SET GLOBAL rpl_semi_sync_slave_enabled = ON; "
                 f"CHANGE MASTER TO MASTER_HOST = '{ip(primary.host)}', MASTER_PORT = {DB_PORT}, MASTER_USER = 'root', "
                 f"MASTER_PASSWORD = '', MASTER_USE_GTID = {mode}, MASTER_CONNECT_RETRY = 1, "
                 "MASTER_HEARTBEAT_PERIOD = 1; START SLAVE", db=None)

    def status(self, name):
        rows = self.sql(f"SHOW STATUS LIKE '{name}'", db=None, timeout=10)
        return rows[0][1] if rows else None

    def pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def kill(self, sig=signal.SIGKILL):
        pid = self.pid()
        if pid:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
            for _ in range(200):
                if not os.path.exists(f"/proc/{pid}"):
                    break
                time.sleep(0.05)

    def stop(self):
        run(in_ns(self.host, [os.path.join(self.rig.root, "ops", "even"), "db", "stop"]), env=self._env(),
            check=False, timeout=90)

    def sql(self, query, db=STORE_DB, timeout=60):
        """Rows of a query over the server's unix socket (tab-separated fields)."""
        argv = ["mariadb", "--protocol=socket", "-S", self.sock, "-uroot", "-B", "-N", "-e", query]
        if db:
            argv.append(db)
        r = run(argv, timeout=timeout, quiet=True)
        return [line.split("\t") for line in r.stdout.splitlines()]


class PostgresDb:
    """A private PostgreSQL in a host's namespace, started by ops/even pg start (as the user
    postgres, its data folder under the rig's work folder, listening on the host's address and
    trusting the rig's network); the checker uses its unix socket."""

    USER = "postgres"

    def __init__(self, rig, host):
        self.rig, self.host = rig, host
        self.var = os.path.join(rig.work, host, "postgresql")
        self.url = f"postgresql://{ip(host)}:{DB_PORT}"

    def _ops(self, command):
        env = dict(os.environ)
        env.update(EVEN_VAR=os.path.dirname(self.var), EVEN_PG_PORT=str(DB_PORT), EVEN_PG_BIND=ip(self.host),
                   EVEN_PG_TRUST=NET + "0/24", EVEN_BUILD_DIR=self.rig.build)
        return run(in_ns(self.host, [os.path.join(self.rig.root, "ops", "even"), "pg", command]), env=env,
                   timeout=180, check=command == "start")

    def start(self):
        self._ops("start")
        if not self.sql(f"SELECT 1 FROM pg_database WHERE datname = '{QUERY_DB}'", db="postgres"):
            self.sql(f"CREATE DATABASE {QUERY_DB}", db="postgres")

    def kill(self, sig=signal.SIGTERM):
        self._ops("stop")

    def sql(self, query, db=QUERY_DB, timeout=60):
        argv = ["psql", "-h", self.var, "-p", str(DB_PORT), "-U", self.USER, "-d", db, "-A", "-t", "-q",
                "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", query]
        r = run(argv, timeout=timeout, quiet=True)
        return [line.split("\t") for line in r.stdout.splitlines() if line != ""]


class Process:
    """A service or client started in a host's namespace; `argv` is what restart() runs again."""

    def __init__(self, rig, name, host, argv):
        self.rig, self.name, self.host, self.argv = rig, name, host, argv
        self.log_path = os.path.join(rig.work, "log", name + ".log")
        self.popen = None

    def start(self):
        out = open(self.log_path, "a")
        out.write(f"==== {time.strftime('%H:%M:%S')} start: {' '.join(self.argv)}\n")
        out.flush()
        # ip netns exec execs the program: the pid is the program's.
        self.popen = subprocess.Popen(in_ns(self.host, self.argv), stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        self.rig.pids.add(self.popen.pid)

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig):
        if self.alive():
            try:
                os.kill(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self):
        self.signal(signal.SIGKILL)
        if self.popen:
            self.popen.wait()

    def stop(self, timeout=30):
        """SIGTERM, then SIGKILL after `timeout` s. Returns the exit code."""
        if not self.popen:
            return None
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            log(f"{self.name} did not stop on SIGTERM within {timeout}s: SIGKILL")
            self.kill()
        return self.popen.returncode


class Rig:
    def __init__(self, args):
        self.args = args
        self.root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
        self.build = os.path.abspath(args.build_dir or os.path.join(self.root, "build"))
        self.work = os.path.abspath(args.work_dir or os.path.join(self.root, "var", "cluster"))
        self.pids = set()
        self.procs = {}
        self.dbs = {}
        self.net_made = False
        self.cleaned = False
        self.faults = {k: 0 for k in FAULT_KINDS}
        self.writer_kills = []     # times of SIGKILLs of the master writer
        self.catch_ups = []        # seconds from a partition's heal to the projectors at the head
        self.holes = 0             # rolled-back inserts (ids taken and never committed)
        self.fault_log = []
        self.primary = "store"     # the store host that is the primary now (failover changes it)
        self.promotions = 0
        self.store_kills = []      # times of SIGKILLs of the primary's MariaDB (--scenario failover)
        self.semisync_cost_ratio = None

    # --- the network ------------------------------------------------------------------------
    @staticmethod
    def leftovers():
        names = [line.split()[0] for line in run(["ip", "netns", "list"]).stdout.splitlines() if line.strip()]
        spaces = [n for n in names if n in {ns(h) for h in HOSTS}]
        links = [line.split(":")[1].strip().split("@")[0]
                 for line in run(["ip", "-o", "link", "show"]).stdout.splitlines()]
        links = [n for n in links if n == BRIDGE or n in {VETH_PREFIX + h for h in HOSTS}]
        return spaces, links

    def remove_leftovers(self):
        spaces, links = self.leftovers()
        for space in spaces:
            # Processes of an earlier run of this rig (the namespaces are the rig's own names).
            for pid in run(["ip", "netns", "pids", space], check=False).stdout.split():
                log(f"leftover process {pid} in {space}: SIGKILL")
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            run(["ip", "netns", "del", space], check=False)
        for link in links:
            run(["ip", "link", "del", link], check=False, quiet=True)
        if spaces or links:
            log(f"removed leftovers of an earlier run: {' '.join(spaces + links)}")

    def net_up(self):
        self.net_made = True
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
        run(["ip", "link", "set", BRIDGE, "up"])
        for host in HOSTS:
            run(["ip", "netns", "add", ns(host)])
            run(["ip", "link", "add", VETH_PREFIX + host, "type", "veth", "peer", "name", "eth0", "netns", ns(host)])
            run(["ip", "link", "set", VETH_PREFIX + host, "master", BRIDGE, "up"])
            run(in_ns(host, ["ip", "addr", "add", ip(host) + "/24", "dev", "eth0"]))
            run(in_ns(host, ["ip", "link", "set", "eth0", "up"]))
            run(in_ns(host, ["ip", "link", "set", "lo", "up"]))
        log(f"network: bridge {BRIDGE}, " + ", ".join(f"{ns(h)} {ip(h)}" for h in HOSTS))

    def link(self, host, up):
        run(["ip", "link", "set", VETH_PREFIX + host, "up" if up else "down"])

    def net_down(self):
        for host in HOSTS:
            run(["ip", "netns", "del", ns(host)], check=False, quiet=True)
        run(["ip", "link", "del", BRIDGE], check=False, quiet=True)

    # --- services ---------------------------------------------------------------------------
    def bin(self, *parts):
        path = os.path.join(self.build, *parts)
        if not os.access(path, os.X_OK):
            raise RuntimeError(f"{path} is not built (cmake --build build --target even-cluster-client)")
        return path

    def write_config(self):
        self.conf = os.path.join(self.work, "even.conf")
        with open(self.conf, "w") as f:
            f.write(f"""# Written by tests/cluster/cluster.py: the rig's hosts, plain TCP inside its private network.
db-url = {",".join(self.dbs[h].url for h in STORES if h in self.dbs)}
db-user = root
db-name = {STORE_DB}
db-tls = off
writer-endpoint = tcp://{ip('write')}:{PORT_BASE}
dispatcher-pull-endpoint = tcp://{ip('disp')}:{PORT_BASE + 1}
dispatcher-pub-endpoint = tcp://{ip('disp')}:{PORT_BASE + 2}
reader-endpoint = tcp://{ip('disp')}:{PORT_BASE + 3}
insecure = true
""")

    def add(self, name, host, argv):
        self.procs[name] = Process(self, name, host, argv)
        self.procs[name].start()
        return self.procs[name]

    def start_all(self):
        os.makedirs(os.path.join(self.work, "log"), exist_ok=True)
        failover = self.args.scenario == "failover"
        for host in ["store", "q1", "q2"] + (["store2"] if failover else []):
            role = {"store": "primary", "store2": "replica"}.get(host, "single") if failover else "single"
            self.dbs[host] = PostgresDb(self, host) if host == "q2" and self.args.q2_db == "postgresql" else MariaDb(self, host, role)
            self.dbs[host].start()
        if failover:
            self.dbs["store2"].follow(self.dbs["store"])
            self.wait_for(lambda: self.dbs["store"].status("Rpl_semi_sync_master_clients") == "1", 60,
                          "store2 to connect to store as a semi-sync replica")
        log("databases up: store" + (" (primary), store2 (semi-sync replica)" if failover else "")
            + " and query databases on " + ", ".join(QUERY_HOSTS))
        self.write_config()
        conf = ["--config", self.conf]
        run(in_ns("write", [self.bin("tools", "evenctl"), "store", "init"] + conf))
        self.add("dispatcher", "disp", [self.bin("services", "dispatcher", "even-dispatcher")] + conf)
        self.add("reader", "disp", [self.bin("services", "reader", "even-reader")] + conf)
        for i, w in enumerate(["writer-a", "writer-b"]):
            self.add(w, "write", [self.bin("services", "writer", "even-writer")] + conf +
                     ["--writer.metrics-endpoint", f"127.0.0.1:{PORT_BASE + 10 + i}"])
            time.sleep(0.5)  # writer-a is the first master
        for q in QUERY_HOSTS:
            kind = "postgresql" if isinstance(self.dbs[q], PostgresDb) else "mariadb"
            projections = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"projections.{kind}.json")
            user = PostgresDb.USER if kind == "postgresql" else "root"
            self.add("projector-" + q, q, [self.bin("services", "projector", "even-projector")] + conf +
                     ["--projections", projections, "--query-db-url", self.dbs[q].url, "--query-db-user", user,
                      "--query-db-name", QUERY_DB])
        client = self.bin("tests", "cluster", "even-cluster-client")
        for c in CLIENTS:
            self.add("subscriber-" + c, c, [client, "subscribe"] + conf +
                     ["--log", os.path.join(self.work, c + ".seen")])
        if self.args.scenario == "failover":
            self.measure_semisync_cost()
        rate = self.args.rate / len(CLIENTS)
        for c in CLIENTS:
            self.add("client-" + c, c, [client, "append"] + conf +
                     ["--name", c, "--rate", str(rate), "--log", os.path.join(self.work, c + ".appends")])
        self.wait_for(lambda: all(checker.count_lines(os.path.join(self.work, c + ".appends")) > 0 for c in CLIENTS),
                      60, "every client's first acknowledged append")
        log(f"cluster up: {self.args.rate:.0f} events/s from {', '.join(CLIENTS)}")

    def wait_for(self, cond, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if cond():
                return True
            time.sleep(0.1)
        raise RuntimeError(f"timed out after {timeout}s waiting for {what}")

    def master_writer(self, timeout=10):
        """The writer whose /health/ready answers 200, or None."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for i, w in enumerate(["writer-a", "writer-b"]):
                if not self.procs[w].alive():
                    continue
                r = run(in_ns("write", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "1",
                                        f"http://127.0.0.1:{PORT_BASE + 10 + i}/health/ready"]), check=False, quiet=True)
                if r.stdout.strip() == "200":
                    return w
            time.sleep(0.1)
        return None

    # --- positions --------------------------------------------------------------------------
    def store_head(self):
        rows = self.dbs[self.primary].sql("SELECT COALESCE(MAX(global_seq), 0) FROM events")
        return int(rows[0][0])

    def checkpoint(self, q):
        try:
            rows = self.dbs[q].sql(f"SELECT position FROM even_checkpoints WHERE projection = '{PROJECTION}'",
                                   db=QUERY_DB, timeout=10)
            return int(rows[0][0]) if rows else 0
        except (RuntimeError, subprocess.TimeoutExpired):
            return -1

    def time_to_head(self, hosts, head, bound):
        """Seconds until every projector in `hosts` has its checkpoint at `head` (None: not in `bound`)."""
        t0 = time.time()
        while time.time() - t0 < bound:
            if all(self.checkpoint(q) >= head for q in hosts):
                return time.time() - t0
            time.sleep(0.05)
        return None

    # --- faults -----------------------------------------------------------------------------
    def fault(self, kind):
        rnd = random.uniform
        t = time.time()
        detail = ""
        if kind == "writer_kill":
            w = self.master_writer()
            if w is None:
                log("no master writer found: writer_kill skipped")
                return
            self.procs[w].kill()
            self.writer_kills.append(t)
            detail = w
            time.sleep(rnd(1, 3))
            self.procs[w].start()  # comes back as the standby
        elif kind == "store_kill":
            self.dbs["store"].kill()
            time.sleep(rnd(0.2, 2))
            self.dbs["store"].start()
        elif kind in ("partition_client", "partition_disp", "partition_query"):
            host = {"partition_client": random.choice(CLIENTS), "partition_disp": "disp",
                    "partition_query": random.choice(QUERY_HOSTS)}[kind]
            detail = host
            self.link(host, False)
            time.sleep(rnd(1.5, 5))
            self.link(host, True)
            if kind != "partition_client":
                qs = QUERY_HOSTS if host == "disp" else [host]
                took = self.time_to_head(qs, self.store_head(), 60)
                if took is not None:
                    self.catch_ups.append(took)
                detail += f", at the head {took:.2f}s after the heal" if took is not None else ", NOT at the head in 60s"
        elif kind == "partition_writer_store":
            # Only writer <-> store: a blackhole route on each side; the writer still hears clients.
            run(in_ns("write", ["ip", "route", "add", "blackhole", ip("store") + "/32"]))
            run(in_ns("store", ["ip", "route", "add", "blackhole", ip("write") + "/32"]))
            time.sleep(rnd(1.5, 5))
            run(in_ns("write", ["ip", "route", "del", "blackhole", ip("store") + "/32"]))
            run(in_ns("store", ["ip", "route", "del", "blackhole", ip("write") + "/32"]))
        elif kind == "dispatcher_kill":
            self.procs["dispatcher"].kill()
            time.sleep(rnd(0.2, 2))
            self.procs["dispatcher"].start()
        elif kind == "projector_kill":
            q = random.choice(QUERY_HOSTS)
            detail = q
            self.procs["projector-" + q].kill()
            time.sleep(rnd(0.2, 2))
            self.procs["projector-" + q].start()
        elif kind == "gap_rollback":
            n = random.randint(3, 8)
            detail = f"{n} rolled-back inserts"
            self.rollbacks(n)
        self.faults[kind] += 1
        self.fault_log.append((t, kind, detail))
        log(f"fault {kind} {detail} ({time.time() - t:.1f}s)")

    def rollbacks(self, n):
        """n transactions that insert into events and roll back while the writer inserts: each takes
        an AUTO_INCREMENT id that never commits (a hole), held for up to 300 ms."""
        def one():
            hold = random.uniform(0, 0.3)
            q = ("START TRANSACTION; INSERT INTO events (event_id, stream, stream_seq, category, event_type, "
                 "created_at_us, metadata, payload, payload_format) VALUES (UNHEX(REPLACE(UUID(), '-', '')), "
                 "CONCAT('gap-', UUID()), 1, 'gap', 'Hole', 0, '', '', 0); "
                 f"DO SLEEP({hold:.3f}); ROLLBACK;")
            try:
                self.dbs[self.primary].sql(q, timeout=20)
                self.holes += 1
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                log(f"rollback insert failed: {e}")
        threads = [threading.Thread(target=one) for _ in range(n)]
        for th in threads:
            th.start()
            time.sleep(random.uniform(0, 0.1))
        for th in threads:
            th.join()

    # --- --scenario failover ---------------------------------------------------------------
    def append_rate(self, name, seconds):
        """Acknowledged appends/s of one unpaced even-cluster-client (8 workers, one event in flight
        each) on c1 for `seconds`: the write throughput the store's commit path allows."""
        log_path = os.path.join(self.work, name + ".appends")
        p = self.add("bench-" + name, "c1", [self.bin("tests", "cluster", "even-cluster-client"), "append",
                                              "--config", self.conf, "--name", name, "--rate", "1000000",
                                              "--log", log_path])
        self.wait_for(lambda: checker.count_lines(log_path) > 0, 30, name + "'s first append")
        before, t0 = checker.count_lines(log_path), time.time()
        time.sleep(seconds)
        rate = (checker.count_lines(log_path) - before) / (time.time() - t0)
        p.stop(timeout=90)
        return rate

    def measure_semisync_cost(self, seconds=8):
        """Write throughput with semi-sync on, off, on again (the primary's rpl_semi_sync_master_enabled),
        in the same run, before the load starts: semisync_cost_ratio = on / off."""
        db = self.dbs[self.primary]
        on1 = self.append_rate("semisync-on-1", seconds / 2)
        db.sql("SET GLOBAL rpl_semi_sync_master_enabled = OFF", db=None)
        off = self.append_rate("semisync-off", seconds)
        db.sql("SET GLOBAL rpl_semi_sync_master_enabled = ON", db=None)
        self.wait_for(lambda: db.status("Rpl_semi_sync_master_status") == "ON", 30, "semi-sync back on")
        on2 = self.append_rate("semisync-on-2", seconds / 2)
        on = (on1 + on2) / 2
        self.semisync_cost_ratio = round(on / off, 3) if off > 0 else None
        log(f"write throughput: semi-sync on {on:.0f} appends/s ({on1:.0f}, {on2:.0f}), off {off:.0f} appends/s: "
            f"ratio {self.semisync_cost_ratio}")

    def failover(self):
        """SIGKILL the primary's MariaDB under load, promote its replica (evenctl store promote), then
        rejoin the old primary as the new primary's replica (--init-rpl-role=SLAVE) and wait for
        semi-sync to be on again, so that the next failover starts from a healthy replica."""
        old, new = self.primary, [h for h in STORES if h != self.primary][0]
        t = time.time()
        self.dbs[old].kill()
        self.store_kills.append(t)
        # --force: the old primary was SIGKILLed just now (fenced), whatever the replica's IO
        # thread has noticed yet.
        r = run(in_ns("write", [self.bin("tools", "evenctl"), "store", "promote", self.dbs[new].url, "--force",
                                "--config", self.conf]))
        self.primary = new
        self.promotions += 1
        promoted = time.time() - t
        self.faults["store_failover"] = self.faults.get("store_failover", 0) + 1
        self.fault_log.append((t, "store_failover", f"{old} -> {new}"))
        log(f"failover: {old}'s MariaDB killed, {new} promoted in {promoted:.2f}s: {r.stdout.strip()}")
        time.sleep(random.uniform(1, 3))
        self.dbs[old].role = "rejoin"
        self.dbs[old].start()
        self.dbs[old].follow(self.dbs[new], from_current_pos=True)
        self.wait_for(lambda: self.dbs[new].status("Rpl_semi_sync_master_status") == "ON", 120,
                      f"semi-sync on at {new} with {old} as its replica")
        log(f"{old} rejoined as {new}'s semi-sync replica ({time.time() - t:.1f}s after the kill)")

    def run_failovers(self, seconds):
        end = time.time() + seconds
        while time.time() < end:
            time.sleep(random.uniform(5, 10))
            if time.time() >= end:
                break
            self.failover()

    def run_faults(self, kinds, seconds):
        end = time.time() + seconds
        while time.time() < end:
            order = list(kinds)
            random.shuffle(order)
            for kind in order:
                if time.time() >= end:
                    break
                self.fault(kind)
                time.sleep(random.uniform(0.3, 1.5))

    # --- the end ----------------------------------------------------------------------------
    def stop_load_and_settle(self):
        for c in CLIENTS:
            self.procs["client-" + c].signal(signal.SIGTERM)
        for c in CLIENTS:
            code = self.procs["client-" + c].stop(timeout=90)
            if code != 0:
                log(f"client-{c} exited with {code}")
        head = self.store_head()
        took = self.time_to_head(QUERY_HOSTS, head, self.args.settle_s)
        log(f"load stopped at head {head}; projectors at the head after "
            + (f"{took:.1f}s" if took is not None else f"MORE than {self.args.settle_s}s (stalled)"))
        # The subscribers follow the same head; give them the same bound.
        max_cl = int(self.dbs[self.primary].sql("SELECT COALESCE(MAX(global_seq), 0) FROM events WHERE category = 'cl'")[0][0])
        t0 = time.time()
        while time.time() - t0 < self.args.settle_s:
            if all(checker.last_position(os.path.join(self.work, c + ".seen")) >= max_cl for c in CLIENTS):
                break
            time.sleep(0.1)
        for c in CLIENTS:
            self.procs["subscriber-" + c].stop()
        return head, took

    def cleanup(self):
        """Once, whatever fails on the way: a second signal or a step that throws must not leave the
        namespaces behind (and a second pass would signal pids read from stale pid files)."""
        if self.cleaned:
            return
        self.cleaned = True
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)

        def step(what, fn):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 (go on with the rest of the cleanup)
                log(f"cleanup: {what} failed: {e}")
        for p in reversed(list(self.procs.values())):
            step("stopping " + p.name, lambda p=p: p.alive() and p.stop(timeout=10))
        for name, db in self.dbs.items():
            step("stopping the database of " + name, lambda db=db: db.kill(signal.SIGTERM))
        if self.net_made:
            # Anything still in the rig's namespaces was started by it.
            for host in HOSTS:
                def kill_all(host=host):
                    for pid in run(["ip", "netns", "pids", ns(host)], check=False, quiet=True).stdout.split():
                        try:
                            os.kill(int(pid), signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                step("killing what is left in " + ns(host), kill_all)
            step("removing the namespaces and the bridge", self.net_down)
            self.net_made = False


def percentile(values, p):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser(description="Even's services on eight network namespaces, with faults")
    ap.add_argument("--faults", default="all", help="all, none, or a comma-separated list of: " + ", ".join(FAULT_KINDS))
    ap.add_argument("--minutes", type=float, default=5, help="how long faults are injected")
    ap.add_argument("--q2-db", choices=["mariadb", "postgresql"], default="postgresql", help="q2's query database")
    ap.add_argument("--rate", type=float, default=1000, help="events/s appended, over all clients")
    ap.add_argument("--latency-s", type=float, default=20, help="quiet seconds at the start that measure e2e latency")
    ap.add_argument("--settle-s", type=float, default=60, help="bound for the lag to reach 0 after the load stops")
    ap.add_argument("--build-dir", help="the CMake build folder (default: build/ of the checkout)")
    ap.add_argument("--work-dir", help="data folders and logs (default: var/cluster/ of the checkout)")
    ap.add_argument("--seed", type=int, help="random seed of the fault timing")
    ap.add_argument("--scenario", choices=["faults", "failover"], default="faults",
                    help="faults: --faults on one store; failover: a primary and a semi-sync replica on two "
                         "hosts, the primary's MariaDB SIGKILLed under load and the replica promoted, again and again")
    ap.add_argument("--ctest", action="store_true",
                    help="ctest's run: 1 minute of all faults, or EVEN_CLUSTER_MINUTES (10) with EVEN_CLUSTER_LONG=1")
    args = ap.parse_args()
    if args.ctest and args.scenario == "failover":
        args.minutes, args.latency_s = 1, 5
    elif args.ctest:
        args.faults = "all"
        long_run = os.environ.get("EVEN_CLUSTER_LONG") == "1"
        args.minutes = float(os.environ.get("EVEN_CLUSTER_MINUTES", "10")) if long_run else 1
        if not long_run:
            args.latency_s = 10
    kinds = FAULT_KINDS if args.faults == "all" else [] if args.faults == "none" else args.faults.split(",")
    if args.scenario == "failover":
        kinds = []  # the failovers are the faults
    bad = [k for k in kinds if k not in FAULT_KINDS]
    if bad:
        ap.error(f"unknown fault kind(s) {', '.join(bad)}; known: {', '.join(FAULT_KINDS)}")
    if os.geteuid() != 0:
        ap.error("the rig needs root (ip netns, ip link)")
    seed = args.seed if args.seed is not None else int(time.time())
    random.seed(seed)

    rig = Rig(args)

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    result = None
    try:
        rig.remove_leftovers()
        # The work folder is emptied at each run: only one that this rig made (it holds the marker)
        # or an empty one, never a folder given by mistake.
        marker = os.path.join(rig.work, ".even-cluster-rig")
        if os.path.isdir(rig.work) and os.listdir(rig.work):
            if args.work_dir and not os.path.exists(marker):  # (the default, var/cluster, is the rig's own)
                raise RuntimeError(f"{rig.work} is not empty and was not made by this rig ({marker} is missing): "
                                   "give an empty or new --work-dir")
            subprocess.run(["rm", "-rf", rig.work], check=True)
        os.makedirs(rig.work, exist_ok=True)
        open(marker, "w").close()
        log(f"work folder {rig.work}, seed {seed}, faults {','.join(kinds) or 'none'} for {args.minutes} min")
        rig.net_up()
        rig.start_all()
        # The latency window starts once both projectors follow live (their start is a catch-up).
        warm = rig.time_to_head(QUERY_HOSTS, rig.store_head(), 60)
        log("projectors at the head " + (f"after {warm:.1f}s" if warm is not None else "NOT within 60s"))
        time.sleep(2)
        quiet_from = time.time()
        time.sleep(args.latency_s)
        quiet_to = time.time()
        if args.scenario == "failover":
            rig.run_failovers(args.minutes * 60)
        else:
            rig.run_faults(kinds, args.minutes * 60)
        head, settle = rig.stop_load_and_settle()
        log("checking")
        result = checker.check(
            store=rig.dbs[rig.primary].sql,
            query={q: (lambda query, q=q: rig.dbs[q].sql(query, db=QUERY_DB)) for q in QUERY_HOSTS},
            appends=[os.path.join(rig.work, c + ".appends") for c in CLIENTS],
            seen=[os.path.join(rig.work, c + ".seen") for c in CLIENTS],
            projection=PROJECTION)
        latency = {}
        for q in QUERY_HOSTS:
            e2e = checker.end_to_end_ms(result["acks"], result["applied"][q], quiet_from * 1e6, quiet_to * 1e6)
            latency[q] = e2e
        feed = checker.end_to_end_ms(result["acks"], result["received"], quiet_from * 1e6, quiet_to * 1e6)
        failovers = checker.failovers_s(result["acks"], rig.writer_kills, [f[0] for f in rig.fault_log])
        # The same measure for the store's failovers: SIGKILL of the primary -> appends acknowledged again.
        unavailable = checker.failovers_s(result["acks"], rig.store_kills, [f[0] for f in rig.fault_log])
        figures = {
            "acknowledged": result["acknowledged"],
            "lost": result["lost"],
            "duplicated": result["duplicated"],
            "misordered": result["misordered"],
            "faults": rig.faults,
            "read_models_equal": result["read_models_equal"],
            "query_nodes_equal": result["query_nodes_equal"],
            "subscribers_ok": result["subscribers_ok"],
            "append_errors": result["append_errors"],
            "unknown_outcome": result["unknown_outcome"],
            "resent": result["resent"], "idempotent": result["idempotent"],
            "holes": rig.holes,
            "stalled": settle is None,
            "settle_s": round(settle, 2) if settle is not None else None,
            "failover_s_max": round(max(failovers), 3) if failovers else None,
            "failover_s_p50": round(statistics.median(failovers), 3) if failovers else None,
            "catch_up_s": round(max(rig.catch_ups), 3) if rig.catch_ups else None,
            "catch_up_s_p50": round(statistics.median(rig.catch_ups), 3) if rig.catch_ups else None,
            "e2e_p50_ms": latency["q1"]["p50"], "e2e_p99_ms": latency["q1"]["p99"],
            "e2e_q2_p50_ms": latency["q2"]["p50"], "e2e_q2_p99_ms": latency["q2"]["p99"],
            "e2e_events": latency["q1"]["n"],
            "feed_p50_ms": feed["p50"], "feed_p99_ms": feed["p99"],
            "checkpoints": result["checkpoints"], "store_head": head,
            "q2_db": args.q2_db, "minutes": args.minutes, "rate": args.rate, "seed": seed,
            "scenario": args.scenario,
        }
        if args.scenario == "failover":
            figures.update({
                "promotions": rig.promotions,
                "write_unavailable_s_max": round(max(unavailable), 3) if unavailable else None,
                "write_unavailable_s_p50": round(statistics.median(unavailable), 3) if unavailable else None,
                "semisync_cost_ratio": rig.semisync_cost_ratio,
            })
        for line in result["notes"]:
            log("checker: " + line)
        ok = (figures["lost"] == 0 and figures["duplicated"] == 0 and figures["misordered"] == 0
              and figures["read_models_equal"] and figures["subscribers_ok"] and figures["append_errors"] == 0
              and not figures["stalled"] and (args.scenario != "failover" or rig.promotions > 0))
        with open(os.path.join(rig.work, "figures.json"), "w") as f:
            json.dump(figures, f)
        rig.cleanup()
        log("PASS" if ok else "FAIL (logs and data kept in " + rig.work + ")")
        print(json.dumps(figures), flush=True)
        return 0 if ok else 1
    except KeyboardInterrupt as e:
        log(f"interrupted ({e}): cleaning up")
        return 130
    except Exception as e:  # report, clean up, fail
        log(f"error: {e}")
        return 2
    finally:
        rig.cleanup()


if __name__ == "__main__":
    sys.exit(main())
