#!/usr/bin/python3
"""tests/soak/curves.py CSV [ROWS] — the soak's curves (tests/soak/soak.py
writes the CSV) as a Markdown table of ROWS (default 12) time slices: the
groups finished by then, the daemon's RSS (median of the slice's samples),
the duration of the SIGUSR1 rescans that registered nothing (median), the
files in the ingest directory, plus an ASCII plot of both curves."""
import csv
import statistics
import sys


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    rss = [r for r in rows if r["kind"] == "rss"]
    scans = [r for r in rows if r["kind"] == "rescan" and r["rescan_registered"] == "0"]
    if not rss:
        print("no samples")
        return 1
    t_end = max(float(r["t_s"]) for r in rows)
    print("| t (s) | groups finished | RSS (MiB) | rescan (s) | rescans | files in ingest dir |")
    print("|---:|---:|---:|---:|---:|---:|")
    cells = []
    for i in range(n):
        a, b = t_end * i / n, t_end * (i + 1) / n
        sr = [r for r in rss if a <= float(r["t_s"]) < b or (i == n - 1 and float(r["t_s"]) == b)]
        ss = [float(r["rescan_s"]) for r in scans if a <= float(r["t_s"]) < b]
        if not sr:
            continue
        m_rss = statistics.median(int(r["rss_kb"]) for r in sr) / 1024
        m_scan = statistics.median(ss) if ss else None
        cells.append((b, m_rss, m_scan))
        print("| %.0f | %s | %.1f | %s | %d | %s |" % (
            b, sr[-1]["groups_done"], m_rss, "%.3f" % m_scan if m_scan is not None else "-",
            len(ss), sr[-1]["ingest_files"]))
    # ASCII plot: one line per slice, RSS as '#', rescan as '*'.
    top_r = max(c[1] for c in cells)
    top_s = max((c[2] for c in cells if c[2] is not None), default=1) or 1
    print()
    print("```")
    print("t (s)    RSS (# = %.1f MiB full scale)            rescan (* = %.3f s full scale)" % (top_r, top_s))
    for b, r, s in cells:
        print("%6.0f   %-40s %s" % (b, "#" * int(round(40 * r / top_r)),
                                     "*" * int(round(30 * s / top_s)) if s is not None else ""))
    print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
