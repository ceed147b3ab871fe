#!/usr/bin/python3
"""tests/soak/soak.py — the soak of issue 16, run by tests/soak/soak.sh.

A driver writes a stream of small simulated groups into contimgd's ingest
directory as fast as the daemon takes them (at most SOAK_BACKLOG groups ahead
of it), while a chaos loop kills the daemon (-9, a supervisor restarts it as
systemd would), reloads it (SIGHUP), fills the products and state
filesystems (two small tmpfs) for a while, holds the state database's write
lock with the sqlite3 shell, and the driver itself delivers late files (a
subband of a group that already finished), duplicates (a subband twice,
under another name or the same name again) and half-written files (written
slowly in place).  A sampler records the daemon's RSS and the duration of a
SIGUSR1 rescan into a CSV.  At the end the chaos stops, the daemon drains,
and every check is one TAP line.

Environment (all optional):
  SOAK_GROUPS    groups to write (default 2000)
  SOAK_SECONDS   stop writing after this many seconds (default: no limit)
  SOAK_SEED      seed of the chaos and of the file faults (default 1)
  SOAK_DIR       working directory (default: a new one under $TMPDIR)
  SOAK_CSV       the curves (default SOAK_DIR/soak_curves.csv)
  SOAK_KEEP      groups whose files stay in the ingest directory (default 300);
                 older finished groups' files are removed, as the node's
                 retention does, so rescans measure history, not directory size
  SOAK_BACKLOG   groups written ahead of the daemon (default 30)
  SOAK_DRAIN_S   longest wait for the drain (default 900)
  SOAK_CHAOS_GAP mean seconds between chaos events (default 12)
  SOAK_CHAOS     the chaos events to use (default kill,hup,prodfs,statefs,lock;
                 e.g. without kill to watch one daemon process for the whole run)
  CONTIMG_BIN    the programs (default ROOT/bin)
"""
import csv
import datetime
import glob
import json
import os
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("CONTIMG_BIN", os.path.join(ROOT, "bin"))
NGROUPS = int(os.environ.get("SOAK_GROUPS", "2000"))
SECONDS = float(os.environ.get("SOAK_SECONDS", "0") or 0)
SEED = int(os.environ.get("SOAK_SEED", "1"))
W = os.environ["SOAK_DIR"]
CSV = os.environ.get("SOAK_CSV") or os.path.join(W, "soak_curves.csv")
KEEP = int(os.environ.get("SOAK_KEEP", "300"))
BACKLOG = int(os.environ.get("SOAK_BACKLOG", "30"))
DRAIN_S = float(os.environ.get("SOAK_DRAIN_S", "900"))
CHAOS_GAP = float(os.environ.get("SOAK_CHAOS_GAP", "12"))
CHAOS_KINDS = os.environ.get("SOAK_CHAOS", "kill,hup,prodfs,statefs,lock").split(",")
NSUB = 16
STEP_S = 300                    # one group every 5 minutes of file-name time
T0 = datetime.datetime(2026, 1, 1, 0, 0, 0)
FINAL = ("completed", "failed")

IN = os.path.join(W, "in")
STAGE = os.path.join(W, "stage")        # hard links are made here, renamed into IN
STASH = os.path.join(W, "stash")
PRODMNT = os.path.join(W, "prodfs")     # tmpfs: products and scratch
STATEMNT = os.path.join(W, "statefs")   # tmpfs: state database
PROD = os.path.join(PRODMNT, "products")
SCRATCH = os.path.join(PRODMNT, "scratch")
STATE = os.path.join(STATEMNT, "state")
DB = os.path.join(STATE, "contimg.sqlite")
CONF = os.path.join(W, "contimg.conf")
LOG = os.path.join(W, "daemon.log")
TMPFS = os.environ.get("SOAK_TMPFS", "1") == "1"
TAPNAME = os.environ.get("SOAK_NAME", "soak")

rng = random.Random(SEED)
lock = threading.Lock()          # guards the shared bookkeeping below
stop_chaos = threading.Event()
stop_all = threading.Event()
t_start = time.monotonic()

# Bookkeeping.
groups = []          # per written group: dict(name, paths=[...], files={path: kind})
events = []          # (t, what) of the chaos, for the summary
counts = {}          # chaos kind -> number
exits = []           # (pid, returncode, expected) of every daemon exit
rss_rows = []        # (t, pid, rss_kb, written, done, files_in_dir)
rescan_rows = []     # (t, pid, seconds, names, known, registered, unsettled, failed, history)
daemon = {"proc": None, "expect_kill": set(), "starts": 0}


def now():
    return time.monotonic() - t_start


CSV_HEADER = ["t_s", "kind", "pid", "rss_kb", "rescan_s", "rescan_files", "rescan_registered",
              "groups_written", "groups_done", "ingest_files"]
csv_file = None


def csv_row(row):
    """One sample, written at once: an interrupted soak keeps its curves."""
    with lock:
        if csv_file is not None:
            csv.writer(csv_file).writerow(row)
            csv_file.flush()


def note(kind, what):
    with lock:
        counts[kind] = counts.get(kind, 0) + 1
        events.append((round(now(), 1), kind, what))


def say(msg):
    print("# " + msg, flush=True)


def ts_name(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S")


def db_query(sql, args=()):
    """A read of the state database (WAL: never blocked by a writer)."""
    for _ in range(20):
        try:
            c = sqlite3.connect("file:%s?mode=ro" % DB, uri=True, timeout=30)
            try:
                return c.execute(sql, args).fetchall()
            finally:
                c.close()
        except sqlite3.Error:
            time.sleep(0.5)
    return None


# ---------------------------------------------------------------- setup

def write_conf():
    with open(CONF, "w") as f:
        f.write("""[paths]
ingest_dir = %s
state_dir = %s
products_dir = %s
scratch_dir = %s
[ingest]
collect_timeout_s = 120
poll_interval_s = 0.5
retry_delay_s = 5
max_retries = 3
rescan_interval_s = 20
settle_s = 5
[housekeeping]
# The free-space guard at the scale of the soak's small tmpfs disks (160 MB
# products+scratch, 96 MB state): it pauses intake and claims while a
# disk-full period lasts and resumes after it.
min_free_incoming_gb = 1
min_free_products_gb = 0.02
min_free_scratch_gb = 0.02
min_free_state_gb = 0.01
guard_interval_s = 2
[pipeline]
threads = 1
stages = load, convert, export
export_vis = true
stop_grace_s = 20
[log]
level = info
""" % (IN, STATE, PROD, SCRATCH))


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", path],
                       capture_output=True, text=True)
    return r.returncode == 0


def make_variants():
    """A few distinct groups, simulated once: 3 antennas, 1 channel per
    subband, 1 integration, so a group's load, convert and export take a
    fraction of a second and the stream is limited by the daemon's own
    claim/run/finish path and the registration of its files."""
    variants = []
    for v in range(3):
        out = os.path.join(STASH, "v%d" % v)
        subprocess.run([os.path.join(BIN, "contimg-sim"), "--tiny", "--nants", "3",
                        "--ntimes", "1", "--nchan-per-subband", "1", "--no-truth",
                        "--random", "1", "--seed", str(v + 1), "--out", out],
                       check=True, stdout=subprocess.DEVNULL)
        files = sorted(glob.glob(os.path.join(out, "*_sb*.hdf5")))
        assert len(files) == NSUB, files
        t0 = min(datetime.datetime.strptime(os.path.basename(f)[:19], "%Y-%m-%dT%H:%M:%S")
                 for f in files)
        subs = []
        for f in files:
            b = os.path.basename(f)
            off = (datetime.datetime.strptime(b[:19], "%Y-%m-%dT%H:%M:%S") - t0).seconds
            subs.append((int(b[22:24]), off, f))
        variants.append(sorted(subs))
    return variants


# ---------------------------------------------------------------- daemon

def start_daemon():
    log = open(LOG, "ab")
    p = subprocess.Popen([os.path.join(BIN, "contimgd"), "--config", CONF, "--foreground",
                          "--log-format", "text"], stdout=log, stderr=log)
    log.close()
    daemon["proc"] = p
    daemon["starts"] += 1
    return p


def supervisor():
    """Restart the daemon whenever it is gone, as systemd's Restart=always
    would (RestartSec=1)."""
    while not stop_all.is_set():
        p = daemon["proc"]
        if p is not None and p.poll() is not None:
            with lock:
                exits.append((p.pid, p.returncode, p.pid in daemon["expect_kill"]))
            daemon["proc"] = None
            time.sleep(1)
        if daemon["proc"] is None and not stop_all.is_set():
            start_daemon()
        time.sleep(0.2)


def daemon_pid():
    p = daemon["proc"]
    return p.pid if p is not None and p.poll() is None else None


# ---------------------------------------------------------------- chaos

def fill(mnt, seconds):
    """Fill the tmpfs at mnt completely for a while, then free it."""
    path = os.path.join(mnt, "soak_filler")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError:
        return
    try:
        st = os.statvfs(mnt)
        free = st.f_bavail * st.f_frsize
        try:
            if free > 0:
                os.posix_fallocate(fd, 0, free)
        except OSError:
            pass
        # Whatever fallocate left (rounding), byte by page.
        blk = b"\0" * 4096
        try:
            while True:
                os.write(fd, blk)
        except OSError:
            pass
        note("diskfull", "%s full for %.0f s" % (os.path.basename(mnt), seconds))
        stop_chaos.wait(seconds)
    finally:
        os.close(fd)
        os.unlink(path)


def hold_lock(seconds):
    """The sqlite3 shell holds the database's write lock (BEGIN IMMEDIATE)."""
    p = subprocess.Popen(["sqlite3", DB], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        p.stdin.write(".timeout 60000\nBEGIN IMMEDIATE;\nSELECT 'soak-locked';\n")
        p.stdin.flush()
        line = p.stdout.readline()
        if "soak-locked" in line:
            note("lock", "write lock held for %.0f s" % seconds)
            stop_chaos.wait(seconds)
        p.stdin.write("ROLLBACK;\n.quit\n")
        p.stdin.close()
        p.wait(timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        p.kill()
        p.wait()


def chaos():
    busy = {"prodfs": None, "statefs": None, "lock": None}
    while not stop_chaos.wait(rng.expovariate(1.0 / CHAOS_GAP)):
        kind = rng.choices(["kill", "hup", "prodfs", "statefs", "lock"],
                           weights=[2, 3, 2, 2, 3])[0]
        if kind not in CHAOS_KINDS:
            continue
        if kind == "kill":
            pid = daemon_pid()
            if pid:
                daemon["expect_kill"].add(pid)
                os.kill(pid, signal.SIGKILL)
                note("kill", "kill -9 %d" % pid)
        elif kind == "hup":
            # Any time, also while the daemon starts (its handlers are not in
            # place yet; it must ignore the signal then, not die of it).
            pid = daemon_pid()
            if pid:
                os.kill(pid, signal.SIGHUP)
                note("hup", "SIGHUP %d" % pid)
        elif TMPFS or kind == "lock":
            t = busy[kind]
            if t is not None and t.is_alive():
                continue
            if kind == "lock":
                t = threading.Thread(target=hold_lock, args=(rng.uniform(5, 40),))
            else:
                t = threading.Thread(target=fill, args=(
                    PRODMNT if kind == "prodfs" else STATEMNT, rng.uniform(5, 30)))
            t.start()
            busy[kind] = t
    for t in busy.values():
        if t is not None:
            t.join()


# ---------------------------------------------------------------- driver

def place(src, name, paths):
    """Deliver a file the correlator's way: complete under another name,
    renamed into the ingest directory (inotify IN_MOVED_TO)."""
    tmp = os.path.join(STAGE, name)
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.link(src, tmp)
    os.rename(tmp, os.path.join(IN, name))
    paths.add(os.path.join(IN, name))


def write_slowly(src, dst, pieces, gap):
    """A half-written file: written in place, piece by piece, closed at the
    end (gap < settle_s, so a rescan must wait for it)."""
    with open(src, "rb") as f:
        data = f.read()
    n = len(data)
    with open(dst, "wb") as f:
        for i in range(pieces):
            f.write(data[i * n // pieces:(i + 1) * n // pieces])
            f.flush()
            time.sleep(gap)


def done_count():
    r = db_query("SELECT count(*) FROM groups WHERE state IN ('completed','failed')")
    return r[0][0] if r else 0


def group_states(names):
    if not names:
        return {}
    r = db_query("SELECT name, state FROM groups WHERE name IN (%s)"
                 % ",".join("?" * len(names)), names)
    return dict(r or [])


def driver(variants, slow_threads):
    frng = random.Random(SEED * 7919 + 1)
    removed_upto = 0
    names_index = {}
    for k in range(NGROUPS):
        if stop_chaos.is_set() or (SECONDS and now() > SECONDS):
            break
        # Stay at most BACKLOG groups ahead of the daemon.
        while k - done_count() >= BACKLOG and not stop_chaos.is_set():
            time.sleep(0.5)
            if SECONDS and now() > SECONDS:
                break
        if SECONDS and now() > SECONDS:
            break
        var = variants[k % len(variants)]
        base = T0 + datetime.timedelta(seconds=STEP_S * k)
        g = {"name": ts_name(base), "paths": set(), "dup": [], "late": [], "slow": []}
        slow_sb = frng.randrange(NSUB) if frng.random() < 0.03 else -1
        for sb, off, src in var:
            name = "%s_sb%02d.hdf5" % (ts_name(base + datetime.timedelta(seconds=off)), sb)
            if sb == slow_sb:
                dst = os.path.join(IN, name)
                t = threading.Thread(target=write_slowly, args=(src, dst, 8, 0.5))
                t.start()
                slow_threads.append(t)
                g["paths"].add(dst)
                g["slow"].append(dst)
                note("halfwritten", dst)
            else:
                place(src, name, g["paths"])
        if frng.random() < 0.03:
            # The same subband twice: under another name (+3 s), or the same
            # name delivered again.
            sb, off, src = var[frng.randrange(NSUB)]
            if sb != slow_sb:
                if frng.random() < 0.5:
                    t = base + datetime.timedelta(seconds=off + 3)
                    name = "%s_sb%02d.hdf5" % (ts_name(t), sb)
                    first = "%s_sb%02d.hdf5" % (ts_name(base + datetime.timedelta(seconds=off)), sb)
                    g["dup"].append((os.path.join(IN, first), os.path.join(IN, name)))
                    note("duplicate", name)
                else:
                    name = "%s_sb%02d.hdf5" % (ts_name(base + datetime.timedelta(seconds=off)), sb)
                    note("redelivered", name)
                place(src, name, g["paths"])
        with lock:
            groups.append(g)
            names_index[g["name"]] = k
        if frng.random() < 0.03 and removed_upto < k - 2:
            # A late file: a subband of a group that already finished.
            cand = [groups[j]["name"] for j in range(removed_upto + 5, k - 2)
                    if not groups[j]["late"]]
            fin = [n for n, st in group_states(cand).items() if st in FINAL]
            if fin:
                j = names_index[frng.choice(sorted(fin))]
                gj = groups[j]
                vj = variants[j % len(variants)]
                sb, off, src = vj[frng.randrange(NSUB)]
                t = T0 + datetime.timedelta(seconds=STEP_S * j + off + 5)
                name = "%s_sb%02d.hdf5" % (ts_name(t), sb)
                with lock:
                    gj["late"].append(os.path.join(IN, name))
                    place(src, name, gj["paths"])
                note("late", name)
        # Retention: the files of finished groups older than KEEP go.
        while removed_upto < k - KEEP:
            gj = groups[removed_upto]
            if group_states([gj["name"]]).get(gj["name"]) not in FINAL:
                break
            if any(t.is_alive() for t in slow_threads):
                break
            # Only files the daemon has registered (a late file may still
            # wait for a rescan).
            paths = sorted(gj["paths"])
            r = db_query("SELECT count(*) FROM subband_files WHERE path IN (%s)"
                         % ",".join("?" * len(paths)), paths)
            if not r or r[0][0] != len(paths):
                break
            for p in gj["paths"]:
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass
            removed_upto += 1


# ---------------------------------------------------------------- sampler

RESCAN_RE = re.compile(r"contimgd\[(\d+)\] info: rescan \(SIGUSR1\): (\d+) subband files, "
                       r"(\d+) known, (\d+) registered, (\d+) still changing, (\d+) refused, "
                       r"(\d+) failed in ([0-9.]+) s")
READY_RE = re.compile(r"contimgd\[(\d+)\] notice: ready:")
ready = set()        # pids that logged "ready:" (their signal handlers are in place)


def tailer():
    """Follow the daemon's log: which processes are ready, and how long each
    SIGUSR1 rescan took (the daemon logs "rescan (SIGUSR1): ... in X s")."""
    logf = open(LOG, "r", errors="replace")
    buf = ""
    while True:
        last = stop_all.wait(0.5)
        buf += logf.read()
        lines = buf.split("\n")
        buf = lines.pop()
        for line in lines:
            m = READY_RE.search(line)
            if m:
                ready.add(int(m.group(1)))
                continue
            m = RESCAN_RE.search(line)
            if m:
                v = [int(x) for x in m.groups()[:7]]
                row = (round(now(), 1), v[0], float(m.group(8)), v[1], v[2], v[3], v[4], v[6],
                       done_count())
                rescan_rows.append(row)
                csv_row([row[0], "rescan", row[1], "", row[2], row[3], row[5], "", row[8], ""])
        if last:
            break
    logf.close()


def ready_pid():
    """The daemon's pid once it is ready: a signal sent before its handlers
    are installed would end it (systemd sends none before READY=1 either)."""
    pid = daemon_pid()
    return pid if pid in ready else None


def sampler():
    """Every 5 s the daemon's VmRSS and a SIGUSR1 rescan."""
    while not stop_all.wait(5):
        pid = ready_pid()
        if not pid:
            continue
        try:
            with open("/proc/%d/status" % pid) as f:
                m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
            if m:
                with lock:
                    nw = len(groups)
                row = (round(now(), 1), pid, int(m.group(1)), nw, done_count(),
                       len(os.listdir(IN)))
                rss_rows.append(row)
                csv_row([row[0], "rss", row[1], row[2], "", "", "", row[3], row[4], row[5]])
        except OSError:
            pass
        try:
            os.kill(pid, signal.SIGUSR1)
        except OSError:
            pass


# ---------------------------------------------------------------- checks

ntap = {"ok": 0, "fail": 0}


def tap(cond, what, detail=None):
    if cond:
        print("ok - %s: %s" % (TAPNAME, what), flush=True)
        ntap["ok"] += 1
    else:
        print("not ok - %s: %s" % (TAPNAME, what), flush=True)
        ntap["fail"] += 1
        if detail:
            for line in str(detail).splitlines()[:20]:
                print("#     " + line, flush=True)


def quarters(vals):
    n = len(vals)
    return vals[n // 4:n // 2], vals[3 * n // 4:]


def flat(vals, factor, slack):
    """(ok, q2 median, q4 median): last-quarter median within factor x the
    second quarter's plus slack (the first quarter is the warm-up)."""
    if len(vals) < 8:
        return None, None, None
    q2, q4 = quarters(vals)
    a, b = statistics.median(q2), statistics.median(q4)
    return b <= factor * a + slack, round(a, 3), round(b, 3)


def main():
    for d in (IN, STAGE, STASH, PRODMNT, STATEMNT):
        os.makedirs(d, exist_ok=True)
    mounted = []
    global TMPFS
    if TMPFS:
        if mount_tmpfs(PRODMNT, "160m") and mount_tmpfs(STATEMNT, "96m"):
            mounted = [PRODMNT, STATEMNT]
        else:
            TMPFS = False
            subprocess.run(["umount", PRODMNT], capture_output=True)
    for d in (PROD, SCRATCH, STATE):
        os.makedirs(d, exist_ok=True)
    write_conf()
    variants = make_variants()
    say("soak: %d groups%s, seed %d, in %s; tmpfs %s" % (
        NGROUPS, " or %g s" % SECONDS if SECONDS else "", SEED, W,
        "mounted (products+scratch 160 MB, state 96 MB)" if TMPFS else
        "NOT mounted (no disk-full periods)"))
    if not TMPFS:
        tap(True, "disk-full periods # SKIP mount -t tmpfs failed (not root?); "
            "the fault-injection keys have no disk-full switch")

    global csv_file
    csv_file = open(CSV, "w", newline="")
    csv.writer(csv_file).writerow(CSV_HEADER)
    start_daemon()
    threads = [threading.Thread(target=supervisor), threading.Thread(target=sampler),
               threading.Thread(target=tailer)]
    for t in threads:
        t.start()
    # Let the daemon create its database before the chaos may lock it.
    for _ in range(100):
        if os.path.exists(DB):
            break
        time.sleep(0.2)
    ch = threading.Thread(target=chaos)
    ch.start()
    slow = []
    driver(variants, slow)
    t_written = now()
    say("driver: %d groups written in %.0f s" % (len(groups), t_written))
    stop_chaos.set()
    ch.join()
    for t in slow:
        t.join()

    # Drain: no chaos any more; ask for a rescan (files whose registration
    # failed during a lock or a full disk) and wait until every group is
    # in and finished.
    names = [g["name"] for g in groups]
    t_drain0 = now()
    drained = False
    last_kick = 0
    while now() - t_drain0 < DRAIN_S:
        r = db_query("SELECT count(*), sum(state IN ('completed','failed')) FROM groups")
        if r and r[0][0] >= len(names) and r[0][0] == r[0][1]:
            drained = True
            break
        if now() - last_kick > 20 and ready_pid():
            os.kill(ready_pid(), signal.SIGUSR1)
            last_kick = now()
        time.sleep(1)
    t_drain = now() - t_drain0
    say("drain: %s after %.0f s" % ("done" if drained else "NOT done", t_drain))
    # One more sampling period, quiet.
    time.sleep(6)
    stop_all.set()
    for t in threads:
        t.join()
    with lock:
        csv_file.close()
        csv_file = None
    p = daemon["proc"]
    rc = None
    if p is not None and p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
    elif p is not None:
        rc = p.returncode

    # ---- results
    tap(drained, "the daemon drained the queue within %.0f s (took %.0f s)" % (DRAIN_S, t_drain))
    tap(rc == 0, "the daemon stops on SIGTERM with exit 0 (got %s)" % rc)
    out = subprocess.run([os.path.join(BIN, "contimgctl"), "--config", CONF, "groups",
                          "--json", "--limit", "0"], capture_output=True, text=True)
    try:
        listed = json.loads(out.stdout)
    except ValueError:
        listed = []
    tap(out.returncode == 0 and isinstance(listed, list),
        "contimgctl groups --json --limit 0 answers", out.stderr)
    by_name = {}
    for g in listed:
        by_name.setdefault(g["group_id"], []).append(g)
    lost = [n for n in names if n not in by_name]
    extra = sorted(set(by_name) - set(names))
    dup = [n for n, v in by_name.items() if len(v) > 1]
    tap(not lost, "no group lost: all %d written groups are in the database" % len(names),
        "lost: %s" % lost[:20])
    tap(not extra, "no group the driver did not write (late and duplicate files joined "
        "their groups)", "extra: %s" % extra[:20])
    tap(not dup, "no group listed twice", "twice: %s" % dup[:20])
    states = {}
    for g in listed:
        states[g["state"]] = states.get(g["state"], 0) + 1
    unfinished = [g["group_id"] for g in listed if g["state"] not in FINAL]
    tap(not unfinished, "no group left collecting, pending or in_progress (%s)" % states,
        unfinished[:20])
    noreason = [g["group_id"] for g in listed if g["state"] == "failed" and not g.get("error")]
    tap(not noreason, "every failed group has its reason", noreason[:20])
    reasons = {}
    for g in listed:
        if g["state"] == "failed":
            k = re.sub(r"[0-9]+", "N", (g.get("error") or "")[:90])
            reasons[k] = reasons.get(k, 0) + 1
    part = [g["group_id"] for g in listed if g["state"] == "completed" and g["missing"]]
    tap(not part, "every completed group used all %d subbands" % NSUB,
        ["%s missing %s %s" % (g["group_id"], g["missing"], g["missing_reasons"])
         for g in listed if g["group_id"] in part[:10]])

    # Products: exactly one vis product per completed group, on disk; none
    # for a failed group.
    rows = db_query("SELECT g.name, g.state, p.name, p.path FROM groups g "
                    "LEFT JOIN products p ON p.group_id = g.id") or []
    prods = {}
    for n, st, pn, pp in rows:
        prods.setdefault(n, (st, []))[1].append((pn, pp))
    badprod = []
    for n, (st, pl) in prods.items():
        pl = [x for x in pl if x[0] is not None]
        if st == "completed":
            if len(pl) != 1 or pl[0][0] != "vis" or not os.path.isfile(pl[0][1]):
                badprod.append("%s completed with products %s" % (n, pl))
            else:
                d = os.path.dirname(pl[0][1])
                if os.listdir(d) != [os.path.basename(pl[0][1])]:
                    badprod.append("%s: %s" % (n, os.listdir(d)))
        elif pl:
            badprod.append("%s %s with products %s" % (n, st, pl))
    tap(not badprod, "each completed group has exactly one product (its file, alone in its "
        "directory), no failed group has one", "\n".join(badprod[:20]))
    temps = [p for p in glob.glob(os.path.join(PROD, "**", "*"), recursive=True)
             if ".tmp" in os.path.basename(p)]
    scratch_left = os.listdir(SCRATCH)
    tap(not temps, "no temporaries (*.tmp*) left in products", "\n".join(temps[:20]))
    tap(not scratch_left, "no scratch leftovers", scratch_left[:20])

    # Files: every file the driver delivered is registered once, with the
    # status its delivery calls for; none was taken half-written.
    frows = db_query("SELECT path, status, g.name FROM subband_files f "
                     "JOIN groups g ON g.id = f.group_id") or []
    fmap = {}
    for path, st, gn in frows:
        fmap.setdefault(path, []).append((st, gn))
    missing_files, wrong = [], []
    for g in groups:
        for p in g["paths"]:
            v = fmap.get(p)
            if not v:
                missing_files.append(p)
            elif len(v) != 1 or v[0][1] != g["name"]:
                wrong.append("%s: %s (group %s)" % (p, v, g["name"]))
    tap(not missing_files, "every delivered file (%d) is registered" %
        sum(len(g["paths"]) for g in groups), missing_files[:20])
    tap(not wrong, "every file is registered once, in its own group", wrong[:20])
    bad = [(p, v) for p, v in fmap.items() if v[0][0] == "bad"]
    tap(not bad, "no file recorded bad (none was taken half-written)", bad[:20])
    lates = [p for g in groups for p in g["late"]]
    notlate = [(p, fmap.get(p)) for p in lates if not fmap.get(p) or fmap[p][0][0] != "late"]
    tap(not notlate, "the %d late files are recorded late" % len(lates), notlate[:20])
    # A subband delivered twice: one copy used (ok), the other duplicate
    # (which copy came first depends on the order a restart's scan met them),
    # or late when the group was claimed before the second copy came.
    dups = [pair for g in groups for pair in g["dup"]]
    notdup = []
    for pair in dups:
        st = sorted(fmap[p][0][0] if fmap.get(p) else "absent" for p in pair)
        if st not in (["duplicate", "ok"], ["late", "ok"]):
            notdup.append("%s: %s" % (pair, st))
    tap(not notdup, "each of the %d subbands delivered twice: one copy used, the other "
        "recorded duplicate (or late)" % len(dups), notdup[:20])
    crashes = [e for e in exits if not e[2] and e[1] not in (0,)]
    tap(not crashes, "no daemon exit the soak did not cause (%d starts, %d kill -9)"
        % (daemon["starts"], counts.get("kill", 0)),
        "\n".join("pid %d exit %d" % (e[0], e[1]) for e in crashes))
    with open(LOG, errors="replace") as f:
        logtext = f.read()
    san = re.findall(r".*(?:Sanitizer|runtime error:).*", logtext)
    tap(not san, "no sanitizer report in the daemon log", "\n".join(san[:10]))

    rss = [r[2] for r in rss_rows]
    ok, a, b = flat(rss, 1.2, 2048)
    tap(ok is not False, "RSS flat: last-quarter median %s kB <= 1.2 x second-quarter "
        "median %s kB + 2 MiB (%d samples)" % (b, a, len(rss))
        + (" # SKIP too few samples" if ok is None else ""))
    # The longest life of one daemon process, on its own: a restart must not
    # hide a slow leak.
    lives = {}
    for r in rss_rows:
        lives.setdefault(r[1], []).append(r)
    life = max(lives.values(), key=len) if lives else []
    ok, a, b = flat([r[2] for r in life], 1.2, 2048)
    tap(ok is not False, "RSS flat within the longest daemon life (%d samples, %s groups "
        "finished meanwhile): last quarter %s kB, second quarter %s kB"
        % (len(life), (life[-1][4] - life[0][4]) if life else 0, b, a)
        + (" # SKIP too few samples" if ok is None else ""))
    # Rescans that registered nothing and failed nothing: their cost is the
    # look-ups of the known files, the thing that must not grow with history.
    # Per file in the directory (retention keeps the directory at a few
    # thousand files while the history grows): the cost that must stay flat.
    pure = [r for r in rescan_rows if r[5] == 0 and r[7] == 0 and r[3] > 0]
    per = [1e6 * r[2] / r[3] for r in pure]
    ok, a, b = flat(per, 1.2, 20)
    tap(ok is not False, "rescan time per file flat: last-quarter median %s us <= 1.2 x "
        "second-quarter median %s us + 20 us (%d rescans)" % (b, a, len(per))
        + (" # SKIP too few rescans" if ok is None else ""))

    # Summary.
    say("summary: %d groups written in %.0f s, drained in %.0f s; states %s"
        % (len(groups), t_written, t_drain, states))
    say("chaos: %s" % ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    say("daemon starts %d, exits %s" % (daemon["starts"],
        ", ".join("%d:%s%s" % (e[0], e[1], "(soak)" if e[2] else "") for e in exits[:50])))
    for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]):
        say("failed x%d: %s" % (v, k))
    say("curves: %s (%d RSS samples, %d rescans)" % (CSV, len(rss_rows), len(rescan_rows)))
    # A small table of the curves over time (ten rows).
    if rss_rows:
        say("%8s %8s %8s %10s" % ("t_s", "done", "rss_kB", "rescan_s"))
        n = len(rss_rows)
        for i in range(10):
            seg = rss_rows[i * n // 10:(i + 1) * n // 10]
            if not seg:
                continue
            t0s, t1s = seg[0][0], seg[-1][0]
            rs = [r[2] for r in pure if t0s <= r[0] <= t1s + 5]
            say("%8.0f %8d %8d %10s" % (t1s, seg[-1][4], statistics.median([r[2] for r in seg]),
                                         "%.3f" % statistics.median(rs) if rs else "-"))
    # Keep the database for a post-mortem (the tmpfs goes with the mount).
    os.makedirs(os.path.join(W, "final"), exist_ok=True)
    for f in glob.glob(DB + "*"):
        subprocess.run(["cp", f, os.path.join(W, "final")], capture_output=True)
    for m in mounted:
        subprocess.run(["umount", "-l", m], capture_output=True)
    return 1 if ntap["fail"] else 0


if __name__ == "__main__":
    rc = 1
    try:
        rc = main()
    finally:
        stop_chaos.set()
        stop_all.set()
        p = daemon["proc"]
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()
    sys.exit(rc)
