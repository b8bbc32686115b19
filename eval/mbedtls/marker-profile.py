#!/usr/bin/env python3
"""Where the markers of a run come from: a histogram of a `sbx record` trace by
marker, named with the program's policy (libc symbol; call site as caller -> callee
at its source line; callback function).

    marker-profile.py PROG.dyck RUN.trace [TOP]

Prints the total, the count per kind, and the TOP (default 25) most frequent
markers with their share. A call site's CALL and RET markers are counted together.
"""
import collections
import re
import sys


def main():
    policy, trace = sys.argv[1], sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
    syms, funcs, sites = {}, {}, {}
    with open(policy) as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            if w[0] == "sym":
                syms[int(w[1])] = w[2]
            elif w[0] == "func":
                funcs[int(w[1])] = w[2]
            elif w[0] == "site":
                # site ID caller F callees G... direct|indirect @loc
                caller = int(w[3])
                callees = []
                i = 5
                while i < len(w) and re.fullmatch(r"\d+", w[i]):
                    callees.append(int(w[i]))
                    i += 1
                loc = next((x for x in w if x.startswith("@")), "")
                sites[int(w[1])] = (caller, callees, loc)
    counts = collections.Counter()
    kinds = collections.Counter()
    with open(trace) as f:
        for line in f:
            if not line.startswith("m "):
                continue
            _, _, _, kind, ident = line.split()
            kinds[kind] += 1
            k = "site" if kind in ("call", "ret", "tail") else kind
            counts[(k, int(ident))] += 1
    total = sum(kinds.values())
    print("markers: %d (%s)" % (total, ", ".join("%s %d" % kv for kv in kinds.most_common())))
    libc_total = collections.Counter()
    for (k, i), n in counts.items():
        if k == "libc":
            libc_total[syms.get(i, str(i))] += n
    print("libc markers by function: " + ", ".join("%s %d (%.1f%%)" % (s, n, 100.0 * n / total)
                                                   for s, n in libc_total.most_common(12)))
    print("%10s %6s  %s" % ("markers", "share", "marker"))
    for (k, i), n in counts.most_common(top):
        if k == "libc":
            what = "libc %s" % syms.get(i, i)
        elif k == "site":
            caller, callees, loc = sites.get(i, (None, [], ""))
            names = [funcs.get(c, str(c)) for c in callees]
            what = "site %d: %s -> %s%s %s" % (i, funcs.get(caller, caller), ", ".join(names[:3]),
                                              " (+%d)" % (len(names) - 3) if len(names) > 3 else "", loc)
        else:
            what = "%s %s" % (k, funcs.get(i, i))
        print("%10d %5.1f%%  %s" % (n, 100.0 * n / total, what))


if __name__ == "__main__":
    main()
