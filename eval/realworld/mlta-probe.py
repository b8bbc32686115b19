#!/usr/bin/env python3
# What a TBAA-keyed struct-field narrowing of indirect calls (MLTA, issue 19) could buy,
# estimated over one linked textual IR file (clang-19 -O2 -S -emit-llvm, llvm-link-19 -S).
# It is a probe, not the tool's analysis: its own call graph and reach fixpoint, so
# compare its modes with each other, not with dyck-gen's figures.
#   type:  candidates = address-taken functions of the call's LLVM function type
#          (what Analysis.swift does today).
#   field: the conservative TBAA rule: a call whose callee is a load with a struct-path
#          tag (base, offset) gets the functions stored as constants under that tag plus
#          the wild ones (address used any other way), unless the field is ever given a
#          non-constant value, its base is anonymous, or its LLVM struct type has
#          initializers holding functions: then the whole type bucket. Still unsound
#          (untyped copies, scalar any-pointer stores): an upper bound on a sound rule.
#   upper: trusts every struct-path tag and ignores non-constant stores (unsound;
#          the most any TBAA-keyed narrowing could give).
# Usage: python3 eval/realworld/mlta-probe.py linked.ll
import re, sys
src = open(sys.argv[1]).read().split('\n')
md = {}
for l in src:
    m = re.match(r'^!(\d+) = !\{(.*)\}$', l)
    if m: md[m.group(1)] = m.group(2)
def split_top(s):
    out, d, cur = [], 0, ''
    for c in s:
        if c in '([{<': d += 1
        if c in ')]}>': d -= 1
        if c == ',' and d == 0: out.append(cur.strip()); cur = ''
        else: cur += c
    if cur.strip(): out.append(cur.strip())
    return out
def tytok(p):
    p = p.strip()
    if p.startswith('{'):
        return p[:p.index('}')+1]
    return p.split()[0]
def tag(line):
    t = re.search(r'!tbaa !(\d+)', line)
    if not t: return None
    f = [x.strip() for x in md[t.group(1)].split(',')]
    base, acc, off = f[0].lstrip('!'), f[1].lstrip('!'), f[2].split()[-1]
    if base == acc: return ('scalar',)
    name = re.match(r'!"([^"]*)"', md[base]).group(1)
    return (name, off)
funcs, sig, body, cur = {}, {}, {}, None
decls = set()
for l in src:
    m = re.match(r'^define .*?(\S+) @([\w.$]+)\((.*)\)[^(]*\{$', l)
    if m:
        cur = m.group(2); body[cur] = []
        ps = [tytok(p) for p in split_top(m.group(3)) if p != '...']
        rt = m.group(1)
        sig[cur] = (rt, tuple(ps), '...' in m.group(3)); continue
    m = re.match(r'^declare .*?@([\w.$]+)\(', l)
    if m and not m.group(1).startswith('llvm.'): decls.add(m.group(1))
    if cur is not None:
        if l == '}': cur = None
        else: body[cur].append(l)
defined = set(body)
# address-taken uses, classified
wild, fieldfns, ncstore, initfns = set(), {}, set(), set()
inittypes = set()
for l in src:
    if l.startswith('@') and '=' in l:
        for f in re.findall(r'@([\w.$]+)', l.split('=',1)[1]):
            if f in defined:
                initfns.add(f)
        for t in re.findall(r'%struct\.([\w.]+)', l): inittypes.add(t)
calls = []  # (fn, kind, target/calltype, key)
for fn, ls in body.items():
    loads = {}
    for l in ls:
        m = re.match(r'\s*(%[\w.]+) = load ptr, ptr (?:[^,(]+|[^,(]*\(.*?\)), align \d+(.*)$', l)
        if m: loads[m.group(1)] = tag(m.group(2))
    for l in ls:
        s = l.strip()
        m = re.match(r'(?:%[\w.]+ = )?(?:tail |musttail |notail )?call (.*?)(@[\w.$]+|%[\w.]+)\((.*)\)', s)
        if m and 'asm ' not in s:
            rt = m.group(1).split()[-1] if m.group(1).split() else 'void'
            tgt = m.group(2); args = split_top(m.group(3))
            argt = tuple(tytok(a) for a in args)
            if tgt.startswith('@'):
                calls.append((fn, 'd', tgt[1:], None))
                rest = m.group(3)
            else:
                calls.append((fn, 'i', (rt, argt), loads.get(tgt, 'notload')))
                rest = m.group(3)
            for f in re.findall(r'@([\w.$]+)', rest):
                if f in defined: wild.add(f)
            continue
        m = re.match(r'store ptr (\S+), ptr (?:[^,(]+|[^,(]*\(.*?\)), align \d+(.*)$', s)
        if m:
            v, tg = m.group(1), tag(m.group(2))
            if v.startswith('@') and v[1:] in defined:
                if tg and tg[0] != 'scalar': fieldfns.setdefault(tg, set()).add(v[1:])
                else: wild.add(v[1:])
            elif v not in ('null', 'undef', 'poison') and not v.startswith('@'):
                ncstore.add(tg if tg else 'untagged')
            continue
        if re.match(r'icmp ', s): continue
        for f in re.findall(r'@([\w.$]+)', s):
            if f in defined and not re.search(r'call .*@' + re.escape(f) + r'\(', s): wild.add(f)
addr = wild | initfns | set().union(set(), *fieldfns.values())
def bucket(ct):
    rt, at = ct
    return {f for f in addr if sig[f][0] == rt and (sig[f][1] == at or (sig[f][2] and at[:len(sig[f][1])] == sig[f][1]))}
def cands(ct, key, mode):
    b = bucket(ct)
    if mode == 'type' or key in ('notload', None) or key == ('scalar',): return b, False
    if mode == 'field' and (key in ncstore or key[0] in inittypes or key[0] == ''):
        return b, False
    keep = (fieldfns.get(key, set()) | (wild & b))
    return b & keep, True
def run(mode):
    C = [(fn, k, t, key, *(cands(t, key, mode) if k == 'i' else (None, None))) for fn, k, t, key in calls]
    reach = {f for f in defined if any(k == 'd' and t in decls for g, k, t, *_ in C if g == f)}
    changed = True
    while changed:
        changed = False
        for fn, k, t, key, cs, _ in C:
            if fn not in reach and ((k == 'd' and t in reach) or (k == 'i' and cs & reach)):
                reach.add(fn); changed = True
    ind = [c for c in C if c[1] == 'i']
    lens = [len(c[4]) for c in ind]
    sites = sum(1 for fn, k, t, key, cs, _ in C if (k == 'd' and t in reach) or (k == 'i' and cs & reach))
    print(f"{mode:6} indirect {len(ind)}, narrowed {sum(1 for c in ind if c[5])}, "
          f"candidates {sum(lens)} (max {max(lens)}), indirect sites {sum(1 for c in ind if c[4] & reach)}, "
          f"sites {sites} of {len(C)} calls, reaching libc {len(reach)} of {len(defined)}")
for mode in ('type', 'field', 'upper'):
    run(mode)
from collections import Counter
why = Counter()
for fn, k, t, key in calls:
    if k != 'i': continue
    if key in ('notload', None): why['callee not a plain load' if key == 'notload' else 'untagged load'] += 1
    elif key == ('scalar',): why['scalar tag'] += 1
    elif key[0] == '': why['anonymous struct base'] += 1
    elif key in ncstore: why['field given a non-constant value'] += 1
    elif key[0] in inittypes: why['type has function-holding initializers'] += 1
    else: why['narrowable'] += 1
print('indirect calls by callee:', dict(why))
