#!/usr/bin/env bash
# The attack suite (issue 14, "Tests / Attack suite"): real memory-corruption attacks
# on victims built with dyck-cc, first shown to work natively, then expected to be
# killed by the monitor under `sbx run --mode dyck` and `--mode nfa`; and benign runs
# that must equal their native runs. Host side: builds the victims into
# build/attacks, records what the attacker knows (attacks.py prepare), then runs
# guest.sh in one guest boot (sbx vm). Never loads anything into the host's kernel.
#   Tests/attacks/run.sh [--native-only] [BIN_DIR]
#     BIN_DIR: where sbx and dyck-cc are (default .build/debug)
#     --native-only (or ATTACKS_NATIVE_ONLY=1): no guest; run the victims natively on
#       this machine, to check that every attack really works without the sandbox.
# SBX_KO: another build of the module (default: kmod/sbx_dyck.ko, built here).
# ATTACKS_ONLY=REGEX: only the attacks and benign runs whose name matches (guest.sh).
# ATTACKS_INLINE=K: build the victims with dyck-cc --dyck-inline=K (inlining of small
#   callees, specs/analysis.md); unset or empty: dyck-cc's default. The preparation
#   finds what it needs at any K (attacks.py: libc markers, not call sites).
set -euo pipefail
cd "$(dirname "$0")/../.."
native_only=${ATTACKS_NATIVE_ONLY:-0}
if [ "${1:-}" = --native-only ]; then native_only=1; shift; fi
root=$PWD
bin=$(cd "${1:-.build/debug}" && pwd)
out=$root/build/attacks
rm -rf "$out" && mkdir -p "$out"
say() { printf '[attacks] %s\n' "$*" >&2; }
src=Tests/attacks
inline=${ATTACKS_INLINE:+--dyck-inline=$ATTACKS_INLINE}

say "building the victims and the benign program with dyck-cc (-O0 and -O2) ${inline:-(default inlining)}"
for opt in O0 O2; do
    # The stack victim: -fno-stack-protector, or the overflow of its return address
    # would be caught by the canary check before the return.
    "$bin/dyck-cc" -$opt -g -fno-stack-protector $inline $src/stack.c -o "$out/stack-$opt" 2>>"$out/build.log"
    "$bin/dyck-cc" -$opt -g $inline $src/notes.c -o "$out/notes-$opt" 2>>"$out/build.log"
    # Non-PIE, with the administrator's hook (system() in the PLT, at a fixed address).
    "$bin/dyck-cc" -$opt -g -fno-pie -no-pie -DADMIN_HOOK $inline $src/notes.c -o "$out/notes-plt-$opt" 2>>"$out/build.log"
    "$bin/dyck-cc" -$opt -g -pthread $inline $src/benign.c -o "$out/benign-$opt" -ldl 2>>"$out/build.log"
    # stack.c's bug with bufferable libc calls, built with buffered events (issue 19).
    "$bin/dyck-cc" -$opt -g -fno-stack-protector --dyck-buffer $inline $src/bufd.c -o "$out/bufd-$opt" 2>>"$out/build.log"
done

# What the build's K did: the call sites left in each victim's policy.
for f in "$out"/*-O[02]; do
    say "$(basename "$f"): $(sed -n 's/^sites //p' "$f.dyck") sites"
done

say "the attacker's knowledge: symbols, gadgets, PLT, libc offsets, marker sites, a recorded walk"
for opt in O0 O2; do
    # The forged-marker attack replays the markers of a benign run (sbx record is
    # ptrace only: no kernel module) from handle_post()'s return to log's fputs.
    printf 'post 5\nhellolog walk\nquit\n' >"$out/walk.in"
    (cd "$out" && "$bin/sbx" record -o "stack-$opt.walk.trace" -- ./stack-$opt <walk.in >/dev/null)
    rm -f "$out/stackd.log"
    /usr/bin/python3 $src/attacks.py prepare "$out/stack-$opt" --walk "$out/stack-$opt.walk.trace"
    /usr/bin/python3 $src/attacks.py prepare "$out/notes-$opt"
    /usr/bin/python3 $src/attacks.py prepare "$out/notes-plt-$opt"
    # The evbuf-* attacks forge into bufd's event buffer the events of a benign run
    # (sbx record drains the buffer as the kernel does) from handle_post() to log's open.
    printf 'post 5\nhellolog w\nquit\n' >"$out/bufwalk.in"
    (cd "$out" && "$bin/sbx" record -o "bufd-$opt.walk.trace" -- ./bufd-$opt <bufwalk.in >/dev/null)
    rm -f "$out/bufd.log"
    /usr/bin/python3 $src/attacks.py prepare "$out/bufd-$opt" --evbuf-walk "$out/bufd-$opt.walk.trace"
done

if [ "$native_only" = 1 ]; then
    say "native only: running the victims on this machine"
    exec bash $src/guest.sh --native-only "$bin" "$out"
fi
ko=${SBX_KO:-}
if [ -z "$ko" ]; then make -C kmod >/dev/null; ko=kmod/sbx_dyck.ko; fi
say "booting the guest"
# 3000 s: 133 tests took more than 1500 s in one boot on a busy 2-core host.
exec "$bin/sbx" vm --cpus 2 --timeout 3000 --module "$ko" ${ATTACKS_ONLY:+--env "ATTACKS_ONLY=$ATTACKS_ONLY"} -- \
    bash $src/guest.sh "$bin" "$out"
