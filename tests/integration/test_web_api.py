#!/usr/bin/python3
"""contimg-web's JSON API against `contimgctl ... --json` on the same state
database (run by tests/integration/test_web_api.sh, which builds the database
and starts the server).  Prints TAP lines; the exit code is 0.

Environment: WEB (http://127.0.0.1:PORT), CTL (contimgctl --config FILE),
DB (the state database), PROD (products_dir), G_LATEST, G_OLD, SEFD.
"""
import http.client
import json
import math
import os
import shlex
import sqlite3
import subprocess
import sys
import time
import urllib.parse

NAME = "test_web_api"
BASE = os.environ["WEB"]
HOST = urllib.parse.urlparse(BASE).hostname
PORT = urllib.parse.urlparse(BASE).port
CTL = shlex.split(os.environ["CTL"])
DB = os.environ["DB"]
PROD = os.environ["PROD"]
G_LATEST = os.environ["G_LATEST"]
G_OLD = os.environ["G_OLD"]
SEFD = float(os.environ.get("SEFD", "6500"))


def ok(cond, what, detail=""):
    print(("ok - " if cond else "not ok - ") + NAME + ": " + what, flush=True)
    if not cond and detail:
        for line in str(detail).splitlines()[:20]:
            print("    " + line, file=sys.stderr)
    return cond


def get(path, method="GET"):
    """(status, headers, body bytes) of one request sent with the path as is
    (no client-side normalisation of '..' or escapes)."""
    c = http.client.HTTPConnection(HOST, PORT, timeout=10)
    c.putrequest(method, path, skip_accept_encoding=True)
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    h = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, h, body


def api(path):
    st, h, body = get(path)
    return st, h, (json.loads(body) if body else None)


def ctl(*args):
    p = subprocess.run(CTL + list(args), capture_output=True, text=True)
    return p.returncode, (json.loads(p.stdout) if p.returncode == 0 else None)


def same(a, b, path="", tol=0.0, skip=()):
    """First difference of two JSON values ('' when equal); floats within a
    relative tol; keys in skip ignored at any depth."""
    if isinstance(a, dict) and isinstance(b, dict):
        ka, kb = set(a) - set(skip), set(b) - set(skip)
        if ka != kb:
            return "%s: keys differ: %s" % (path, sorted(ka ^ kb))
        for k in sorted(ka):
            d = same(a[k], b[k], path + "." + k, tol, skip)
            if d:
                return d
        return ""
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return "%s: %d vs %d elements" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = same(x, y, "%s[%d]" % (path, i), tol, skip)
            if d:
                return d
        return ""
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
                abs(a - b) <= tol * max(abs(a), abs(b)):
            return ""
    if a != b or type(a) != type(b):
        return "%s: %r vs %r" % (path, a, b)
    return ""


db = sqlite3.connect("file:%s?mode=ro" % DB, uri=True)
q = lambda sql, *a: db.execute(sql, a).fetchall()

# ---- the same objects as the CLI ----
st, h, status = api("/api/status")
rc, cstatus = ctl("status", "--json")
ok(st == 200 and rc == 0, "/api/status answers 200 (contimgctl status --json exit 0)")
ok(h.get("content-type", "").startswith("application/json"), "JSON has Content-Type application/json")
ok(h.get("cache-control") == "no-store", "JSON is Cache-Control: no-store")
# free_gb: a reading of the disk, which other processes change between the
# two calls (seen when tests run side by side).
d = same(status, cstatus, skip=("heartbeat_age_s", "elapsed_s", "free_gb"))
ok(not d, "/api/status equals contimgctl status --json", d)
ok(status["counts"]["completed"] == q("SELECT count(*) FROM groups WHERE state='completed'")[0][0],
   "/api/status counts the completed groups of the database")

st, h, groups = api("/api/groups")
rc, cgroups = ctl("groups", "--json")
ok(st == 200 and not same(groups, cgroups), "/api/groups equals contimgctl groups --json",
   same(groups, cgroups))
ok(len(groups) == 31 and groups[0]["group_id"] == G_LATEST,
   "/api/groups: 31 groups, newest (%s) first" % G_LATEST, [g["group_id"] for g in groups[:3]])
st, h, g2 = api("/api/groups?state=completed&limit=5&since=2026-02-20")
rc, c2 = ctl("groups", "--state", "completed", "--limit", "5", "--since", "2026-02-20", "--json")
ok(st == 200 and len(g2) == 5 and not same(g2, c2),
   "/api/groups?state&limit&since equals the CLI with the same filters", same(g2, c2))

for g in (G_LATEST, G_OLD):
    st, h, show = api("/api/groups/" + g)
    rc, cshow = ctl("show", g, "--json")
    d = same(show, cshow)
    ok(st == 200 and rc == 0 and not d, "/api/groups/%s equals contimgctl show --json" % g, d)
st, h, show = api("/api/groups/" + G_LATEST)
ok([r["stage"] for r in show["stage_runs"]][:3] == ["load", "convert", "flag"],
   "show of a processed group has its stage timings")
st, h, body = api("/api/groups/2026-01-01T00:00:00")
ok(st == 404 and body.get("error"), "a well-formed group id that does not exist is 404")

st, h, cal = api("/api/caltables")
rc, ccal = ctl("caltables", "--json")
# caltables --json prints 12 significant digits; the service json-c's shortest exact form
d = same(cal, ccal, tol=1e-11)
ok(st == 200 and len(cal) == 1 and not d, "/api/caltables equals contimgctl caltables --json", d)

st, h, cand = api("/api/candidates")
rc, ccand = ctl("candidates", "--json")
ok(st == 200 and not same(cand, ccand), "/api/candidates equals contimgctl candidates --json",
   same(cand, ccand))
ok([c["source"] for c in cand] == ["J0834+5512", "J0900+5500"] and
   cand[1]["note"] == "RFI epochs; see 2026-02-10 log" and cand[1]["status"] == "dismissed",
   "candidates: best first, with their vetting state and note")

st, h, lc = api("/api/sources/J0834+5512/lightcurve")
rc, clc = ctl("lightcurve", "J0834+5512", "--json")
d = same(lc, clc, skip=("group_names", "model", "stamps", "stamp_groups"))
ok(st == 200 and not d, "/api/sources/NAME/lightcurve equals contimgctl lightcurve --json", d)
ok(len(lc["points"]) == 31, "the light curve has 31 points", len(lc["points"]))
names = dict((str(i), n) for i, n in q("SELECT id, name FROM groups"))
ok(all(lc["group_names"][str(p["group_id"])] == names[str(p["group_id"])] for p in lc["points"]),
   "group_names maps each point's groups.id to its group id")
m = lc["model"]
ok(m is not None and m["t0_mjd"] == 61087.75 and m["f0_jy"] == 0.5 and len(m["curve"]) >= 100,
   "the candidate's light curve carries its ESE model (t0, f0, a sampled curve)")
fm = [f for t, f in m["curve"]]
ok(min(fm) < 0.5 and abs(fm[0] - 0.5) < 0.05 and abs(fm[-1] - 0.5) < 0.05,
   "the model is a dip from f0 = 0.5 Jy (over-dense lens, alpha 0.25)",
   "min %g first %g last %g" % (min(fm), fm[0], fm[-1]))
st, h, lc2 = api("/api/sources/J0836+5430/lightcurve")
ok(st == 200 and lc2["model"] is None, "a source that is no candidate has model null")
st, h, body = api("/api/sources/J9999+0000/lightcurve")
rc, _ = ctl("lightcurve", "J9999+0000", "--json")
ok(st == 404 and rc == 1, "a source without photometry: 404 (the CLI: exit 1)")

# ---- the views only the service has ----
st, h, im = api("/api/images/latest")
row = q("SELECT i.path, i.noise_jy, i.bandwidth_hz, i.integration_s, i.dynamic_range,"
        " i.bmaj_arcsec, (SELECT fraction FROM flag_stats f WHERE f.group_id = g.id AND kind='total'),"
        " (SELECT count(*) FROM flag_stats f WHERE f.group_id = g.id AND kind='antenna'),"
        " i.expected_noise_jy"
        " FROM images i JOIN groups g ON g.id = i.group_id WHERE g.name = ? AND i.pbcor = 0",
        G_LATEST)[0]
ok(st == 200 and im["group_id"] == G_LATEST, "/api/images/latest is the newest group's image")
ok(im["product"] == os.path.basename(row[0]) and "/" not in im["product"],
   "the product is named without its directory", im["product"])
ok(im["rms_jy"] == row[1] and im["dynamic_range"] == row[4] and im["beam"]["bmaj_arcsec"] == row[5],
   "rms, dynamic range and beam are the images row's")
nant, ff = row[7], row[6]
expect = row[8]
ok(expect is not None and expect > 0 and im["expected_rms_source"] == "data" and
   abs(im["expected_rms_jy"] - expect) <= 1e-12 * expect and
   abs(im["rms_ratio"] - row[1] / expect) <= 1e-9,
   "expected rms is the image stage's radiometer expectation from the data (images.expected_noise_jy)",
   "%r vs %r (%r)" % (im.get("expected_rms_jy"), expect, im.get("expected_rms_source")))
nat = SEFD / math.sqrt(2 * nant * (nant - 1) / 2 * row[2] * row[3] * (1 - ff))
ok(nant == 16 and nat < expect, "the natural-weighting SEFD formula with the group's 16 antennas "
   "is below it (Briggs 0)", "%r vs %r" % (nat, expect))
ok(im["quicklook_url"] == "/products/%s/quicklook.png" % G_LATEST, "quicklook_url of a group with a picture")
st, h, png = get(im["quicklook_url"])
with open(os.path.join(PROD, G_LATEST[:10], G_LATEST, "quicklook.png"), "rb") as f:
    ok(st == 200 and png == f.read() and h.get("content-type") == "image/png",
       "the quick-look picture is served byte for byte as image/png")
st, h, imgs = api("/api/images?limit=3")
ok(st == 200 and [i["group_id"] for i in imgs] == ["2026-03-03T05:41:22", "2026-03-02T05:45:18",
                                                   "2026-03-01T05:49:14"],
   "/api/images: the three processed groups, newest first")
ok(imgs[1]["quicklook_url"] is None, "quicklook_url is null when the group has no picture")
st, h, body = get("/products/2026-03-02T05:45:18/quicklook.png")
ok(st == 404, "a quick-look picture that does not exist is 404")

st, h, s1 = api("/api/sources?q=0834")
ok(st == 200 and [s["source"] for s in s1] == ["J0834+5512"] and s1[0]["n"] == 31 and
   s1[0]["score"] == 0.87, "search by name finds the source, its epochs and score")
st, h, s2 = api("/api/sources?q=" + urllib.parse.quote("128.6 55.2 7"))
dist = lambda a, b, c, d: math.degrees(math.acos(min(1, math.sin(math.radians(b)) * math.sin(math.radians(d)) +
                                                      math.cos(math.radians(b)) * math.cos(math.radians(d)) *
                                                      math.cos(math.radians(c - a)))))
want = sorted(((dist(128.6, 55.2, r, d), n) for n, r, d in
               q("SELECT source, avg(ra_deg), avg(dec_deg) FROM photometry GROUP BY source")))
want = [n for dd, n in want if dd <= 7]
ok(st == 200 and [s["source"] for s in s2] == want and s2[0]["distance_deg"] < 1e-6,
   "search by position: every source within the radius, nearest first", [s["source"] for s in s2])
st, h, s3 = api("/api/sources?ra=135&dec=55&r=0.5")
ok(st == 200 and [s["source"] for s in s3] == ["J0900+5500"], "search by ra=&dec=&r=")

# ---- the routes other modules fill in at merge time ----
st, h, al = api("/api/alerts")
rc, cal_ = ctl("alerts", "--json")
ok(st == 200 and rc == 0 and not same(al, cal_), "/api/alerts equals contimgctl alerts --json",
   same(al, cal_))
st, h, al = api("/api/alerts?since=3")
rc, cal_ = ctl("alerts", "--since", "3", "--json")
ok(st == 200 and not same(al, cal_), "/api/alerts?since=3 equals alerts --since 3 --json")
st, h, body = api("/api/alerts?since=yesterday")
ok(st == 400 and "error" in body, "/api/alerts?since=yesterday: 400")
ok(all("ongoing" in c and "best_alternative" in c and "bright_neighbour" in c for c in cand),
   "candidates carry the vetting context (ongoing, best_alternative, bright_neighbour)")
st, h, body = get("/metrics")
p = subprocess.run(CTL + ["metrics"], capture_output=True, text=True)
fam = lambda t: sorted(l.split()[2] for l in t.splitlines() if l.startswith("# TYPE "))
ok(st == 200 and h.get("content-type", "").startswith("text/plain; version=0.0.4") and
   p.returncode == 0 and fam(body.decode()) == fam(p.stdout) and len(fam(p.stdout)) > 10,
   "/metrics: the same metric families as contimgctl metrics, as text format 0.0.4",
   (st, h.get("content-type")))
st, h, body = get("/api/sources/J0834+5512/stamps/%s.png" % G_OLD)
ok(st == 404 and b"no image" in body, "stamps of a group without an image: 404, says so", body[:80])
ok(lc.get("stamps") is True and G_OLD not in lc.get("stamp_groups", [G_OLD]),
   "lightcurve: stamps served, stamp_groups lists only groups with an image")
# A source measured on a real processed group (its pbcor image registered):
# the stamp is cut from that image, centred on the source.
con = sqlite3.connect(DB, timeout=30)
gid, ra0, dec0 = con.execute(
    "SELECT g.id, i.ra_deg, i.dec_deg FROM groups g JOIN images i ON i.group_id = g.id"
    " JOIN products p ON p.group_id = g.id AND p.name = 'pbcor' WHERE g.name = ?",
    (G_LATEST,)).fetchone()
con.execute("INSERT INTO photometry (group_id, source, mjd, ra_deg, dec_deg, flux_jy, flux_err_jy,"
            " calibrated) VALUES (?, 'JSTAMP+0000', 61200.0, ?, ?, 0.1, 0.01, 1)", (gid, ra0, dec0))
con.commit()
con.close()
st, h, png = get("/api/sources/JSTAMP+0000/stamps/%s.png" % G_LATEST)
ok(st == 200 and h.get("content-type") == "image/png" and png[:8] == b"\x89PNG\r\n\x1a\n",
   "a stamp of a source on a processed group: 200, a PNG", (st, png[:40]))
st, h, lc2 = api("/api/sources/JSTAMP+0000/lightcurve")
ok(st == 200 and lc2.get("stamp_groups") == [G_LATEST], "... and its light curve lists that group for stamps",
   lc2.get("stamp_groups"))
# The source is found by its exact name: 64 others whose names contain it and
# sort before it (all a substring search capped at 64 would give), and one
# whose name it is a prefix of, all 10 degrees north of the image, change
# nothing.
decoys = ["A%02dJSTAMP+0000" % i for i in range(64)] + ["JSTAMP+00001"]
con = sqlite3.connect(DB, timeout=30)
con.executemany("INSERT INTO photometry (group_id, source, mjd, ra_deg, dec_deg, flux_jy,"
                " flux_err_jy, calibrated) VALUES (?, ?, 61200.0, ?, ?, 0.1, 0.01, 1)",
                [(gid, d, ra0, dec0 + 10) for d in decoys])
con.commit()
st, h, png = get("/api/sources/JSTAMP+0000/stamps/%s.png" % G_LATEST)
st2, h2, lc3 = api("/api/sources/JSTAMP+0000/lightcurve")
st3, h3, body3 = get("/api/sources/JSTAMP+00001/stamps/%s.png" % G_LATEST)
con.execute("DELETE FROM photometry WHERE source IN (%s)" % ",".join("?" * len(decoys)), decoys)
con.commit()
con.close()
ok(st == 200 and png[:8] == b"\x89PNG\r\n\x1a\n" and st2 == 200 and
   lc3.get("stamp_groups") == [G_LATEST],
   "stamps and light curve find the source by its exact name among 65 that contain it",
   (st, st2, lc3 and lc3.get("stamp_groups")))
ok(st3 == 404 and b"outside" in body3,
   "... and the prefix-sharing source at its own position (outside the image): 404", (st3, body3[:80]))

# ---- strict validation ----
bad = [
    ("/api/groups/../../etc/passwd", (400, 404)),
    ("/api/groups/%2e%2e%2f%2e%2e%2fetc%2fpasswd", (400,)),
    ("/api/groups/2026-03-03T05:41:22%00", (400,)),
    ("/api/groups/2026-03-03T05:41:22%2", (400,)),
    ("/api/groups/2026-13-03T05:41:22", (400,)),
    ("/api/groups/2026-03-03%2005:41:22", (400,)),
    ("/api/sources/..%2F..%2Fetc%2Fpasswd/lightcurve", (400,)),
    ("/api/sources/%2e%2e/lightcurve", (400,)),
    ("/api/sources/" + "J" * 64 + "/lightcurve", (400,)),
    ("/api/sources/J0834%3C5512/lightcurve", (400,)),
    ("/api/sources/J0834+5512/stamps/../../x.png", (400, 404)),
    ("/api/sources/J0834+5512/stamps/2026-02-05T06:00:00.svg", (400,)),
    ("/products/2026-03-03T05:41:22/../../../etc/passwd", (400, 404)),
    ("/products/..%2F..%2Fetc/passwd", (400,)),
    ("/products/2026-03-03T05:41:22/image.fits", (404,)),
    ("/products/2026-03-03T05:41:22/%2e%2e%2fquicklook.png", (400,)),
    ("/" + "a" * 600, (414,)),
    ("/api/groups?limit=-1", (400,)),
    ("/api/groups?state=bogus", (400,)),
    ("/api/groups?limit=5%00", (400,)),
    ("/api/sources?q=%3Cscript%3E", (400,)),
    ("/api/sources?ra=nan&dec=1", (400,)),
    ("/api/sources", (400,)),
    ("/etc/passwd", (404,)),
    ("/api/nothing", (404,)),
]
for path, want in bad:
    st, h, body = get(path)
    ok(st in want and b"root:" not in body, "%s is %s" % (path[:70], "/".join(map(str, want))),
       "status %d" % st)
st, h, body = get("/api/status", method="POST")
ok(st == 405 and h.get("allow") == "GET, HEAD", "POST is 405 (read-only service)")
st, h, body = get("/api/status", method="DELETE")
ok(st == 405, "DELETE is 405")

# ---- the page and the security headers ----
st, h, page = get("/")
ok(st == 200 and h.get("content-type", "").startswith("text/html") and b"/app.js" in page,
   "the page is served at /")
csp = h.get("content-security-policy", "")
ok("default-src 'self'" in csp and "frame-ancestors 'none'" in csp,
   "Content-Security-Policy default-src 'self'", csp)
ok(h.get("x-content-type-options") == "nosniff", "X-Content-Type-Options: nosniff")
st, h, js = get("/app.js")
ok(st == 200 and h.get("content-type", "").startswith("text/javascript") and b"EventSource" in js,
   "app.js is served as JavaScript")
st, h, css = get("/style.css")
ok(st == 200 and h.get("content-type", "").startswith("text/css"), "style.css is served as CSS")
ok(b"http://" not in page + css and b"https://" not in page + css and b"https://" not in js,
   "the page loads nothing from another site (no CDN)")

# ---- the event stream: a requeue is pushed within a few seconds ----
c = http.client.HTTPConnection(HOST, PORT, timeout=10)
c.request("GET", "/api/events")
r = c.getresponse()
ok(r.status == 200 and r.getheader("Content-Type", "").startswith("text/event-stream"),
   "/api/events is text/event-stream")


def next_event(resp, timeout):
    """The next 'event: queue' block's data as JSON, or None after timeout."""
    end = time.time() + timeout
    ev, data = None, None
    while time.time() < end:
        line = resp.fp.readline().decode()
        if not line:
            return None
        line = line.rstrip("\n")
        if line.startswith("event: "):
            ev = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and ev == "queue" and data:
            return json.loads(data)
    return None


first = next_event(r, 5)
ok(first is not None and first["counts"]["completed"] == 31, "the stream starts with the queue's counts",
   first)
t0 = time.time()
p = subprocess.run(CTL + ["requeue", G_OLD, "--reason", "web test"], capture_output=True, text=True)
ev = next_event(r, 6)
dt = time.time() - t0
ok(p.returncode == 0 and ev is not None and ev["counts"]["pending"] == 1 and
   ev["counts"]["completed"] == 30, "contimgctl requeue is pushed as a queue event (%.1f s)" % dt, ev)
ok(dt < 5, "... within 5 s")
c.close()
st, h, g = api("/api/groups/" + G_OLD)
ok(g["state"] == "pending", "the service reads the change (the group is pending)")
