#!/usr/bin/env python3
"""Writes a synthetic C program with N functions for the analysis benchmark.

The functions mix the shapes the analysis handles: straight-line libc calls,
branches, loops, switches, calls to earlier functions (a layered call graph with
shared helpers), recursion, and indirect calls through a table of function
pointers. The output is deterministic for a given N.
"""
import random
import sys


def main() -> None:
    n = int(sys.argv[1])
    rng = random.Random(n)
    out = [
        "#include <stdio.h>",
        "#include <stdlib.h>",
        "#include <string.h>",
        "#include <unistd.h>",
        "typedef int (*op_t)(int);",
    ]
    out += [f"int f{i}(int x);" for i in range(n)]
    out.append(f"static op_t table[{min(n, 64)}] = {{ {', '.join(f'f{i}' for i in range(min(n, 64)))} }};")
    libc = [
        'printf("%d\\n", x)', "puts(\"step\")", "x += (int)strlen(\"abc\")",
        "free(malloc((size_t)x + 1))", "x ^= getpid()", "fflush(stdout)",
        "x += abs(x - 3)", "x += atoi(\"7\")",
    ]
    for i in range(n):
        body = []
        for _ in range(rng.randint(2, 6)):
            kind = rng.random()
            if kind < 0.35:
                body.append(f"  {rng.choice(libc)};")
            elif kind < 0.55 and i > 0:
                body.append(f"  x += f{rng.randrange(max(0, i - 50), i)}(x - 1);")
            elif kind < 0.7:
                body.append(f"  if (x % {rng.randint(2, 9)} == 0) {{ {rng.choice(libc)}; }} else {{ {rng.choice(libc)}; }}")
            elif kind < 0.8:
                body.append(f"  for (int k = 0; k < (x & 3); k++) {{ {rng.choice(libc)}; }}")
            elif kind < 0.9:
                cases = " ".join(f"case {c}: {rng.choice(libc)}; break;" for c in range(rng.randint(2, 5)))
                body.append(f"  switch (x & 7) {{ {cases} default: break; }}")
            else:
                body.append(f"  if (x > 1000) x = table[x % {min(n, 64)}](x / 2);")
        if rng.random() < 0.05:
            body.append(f"  if (x > 0 && x < 10) return f{i}(x - 1);")
        out.append(f"int f{i}(int x) {{")
        out += body
        out.append("  return x;")
        out.append("}")
    out.append("int main(int argc, char **argv) {")
    out.append("  (void)argv;")
    out.append(f"  return f{n - 1}(argc) & 1;")
    out.append("}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
