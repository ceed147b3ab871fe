"""tests/integration/promparse.py — a small, strict parser of the Prometheus
text exposition format 0.0.4 (prometheus/docs, content/docs/instrumenting/
exposition_formats.md), for test_metrics.sh.

    python3 promparse.py FILE            check FILE, print one line per problem,
                                         exit 1 when there is any
    python3 promparse.py FILE --json     also print {"name{labels}": value, ...}

Checks: every line is a comment, blank, or a sample `name{l="v",...} value`
with a valid metric name, label names and escaped label values and a float
value (Go ParseFloat syntax, NaN/+Inf/-Inf); every sample's family has exactly
one # HELP and one # TYPE, before its samples, and a family's samples are not
split by another family's; no sample is repeated; histograms have
_bucket{le} samples with cumulative (non-decreasing) counts in increasing le,
a le="+Inf" bucket equal to _count, and _sum.
"""
import json
import re
import sys

NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*'
SAMPLE = re.compile(r'^(' + NAME + r')(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$')
LABELVAL = re.compile(r'\s*(' + LABEL + r')="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)')
FLOAT = re.compile(r'^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|Inf|NaN)$')


def parse_labels(s):
    out, pos = [], 0
    while pos < len(s):
        m = LABELVAL.match(s, pos)
        if not m:
            raise ValueError('bad labels: %r' % s)
        out.append((m.group(1), unescape(m.group(2))))
        pos = m.end()
    return out


def unescape(v):
    return re.sub(r'\\(.)', lambda m: {'n': '\n'}.get(m.group(1), m.group(1)), v)


def fval(s):
    if not FLOAT.match(s):
        raise ValueError('bad value %r' % s)
    return float(s)


def family_of(name, types):
    for suf in ('_bucket', '_sum', '_count'):
        if name.endswith(suf) and types.get(name[:-len(suf)]) in ('histogram', 'summary'):
            return name[:-len(suf)]
    return name


def check(text):
    problems, helps, types, samples = [], {}, {}, {}
    order, seen_done, cur = [], set(), None
    for n, line in enumerate(text.split('\n'), 1):
        if line == '':
            continue
        if line.startswith('#'):
            p = line.split(None, 3)
            if len(p) >= 3 and p[1] in ('HELP', 'TYPE'):
                fam = p[2]
                if not re.match('^' + NAME + '$', fam):
                    problems.append('%d: bad name %r' % (n, fam))
                d = helps if p[1] == 'HELP' else types
                if fam in d:
                    problems.append('%d: second %s for %s' % (n, p[1], fam))
                if fam in seen_done or (fam in order and fam != cur):
                    problems.append('%d: %s of %s after its samples' % (n, p[1], fam))
                d[fam] = p[3] if len(p) > 3 else ''
                if p[1] == 'TYPE' and d[fam] not in ('counter', 'gauge', 'histogram',
                                                      'summary', 'untyped'):
                    problems.append('%d: bad type %r' % (n, d[fam]))
            continue
        m = SAMPLE.match(line)
        if not m:
            problems.append('%d: not a sample: %r' % (n, line))
            continue
        name, labels, value = m.group(1), m.group(3) or '', m.group(4)
        try:
            lab = parse_labels(labels)
            v = fval(value)
        except ValueError as e:
            problems.append('%d: %s' % (n, e))
            continue
        fam = family_of(name, types)
        if fam not in helps or fam not in types:
            problems.append('%d: %s has no HELP/TYPE before it' % (n, fam))
        if cur is not None and fam != cur:
            seen_done.add(cur)
        if fam in seen_done:
            problems.append('%d: samples of %s are split' % (n, fam))
        if fam not in order:
            order.append(fam)
        cur = fam
        key = name + '{' + ','.join('%s="%s"' % kv for kv in sorted(lab)) + '}'
        if key in samples:
            problems.append('%d: repeated sample %s' % (n, key))
        samples[key] = (name, dict(lab), v)
    for fam, t in types.items():
        if t != 'histogram':
            continue
        series = {}
        for key, (name, lab, v) in samples.items():
            if name == fam + '_bucket':
                if 'le' not in lab:
                    problems.append('%s: bucket without le' % key)
                    continue
                rest = tuple(sorted((k, x) for k, x in lab.items() if k != 'le'))
                series.setdefault(rest, []).append((fval(lab['le']), v))
        for rest, bks in series.items():
            lbl = ','.join('%s="%s"' % kv for kv in rest)
            bks.sort()
            counts = [c for _, c in bks]
            if counts != sorted(counts):
                problems.append('%s{%s}: buckets not cumulative: %s' % (fam, lbl, counts))
            if not bks or bks[-1][0] != float('inf'):
                problems.append('%s{%s}: no le="+Inf" bucket' % (fam, lbl))
            cnt = samples.get(fam + '_count{' + lbl + '}')
            sm = samples.get(fam + '_sum{' + lbl + '}')
            if cnt is None or sm is None:
                problems.append('%s{%s}: no _count or _sum' % (fam, lbl))
            elif bks and bks[-1][1] != cnt[2]:
                problems.append('%s{%s}: +Inf bucket %g != count %g' % (fam, lbl, bks[-1][1],
                                                                      cnt[2]))
    if not text.endswith('\n'):
        problems.append('no newline at the end')
    return problems, {k: v for k, (_, _, v) in samples.items()}


def main():
    text = open(sys.argv[1]).read()
    problems, samples = check(text)
    for p in problems:
        print(p)
    if '--json' in sys.argv:
        print(json.dumps(samples))
    sys.exit(1 if problems else 0)


if __name__ == '__main__':
    main()
