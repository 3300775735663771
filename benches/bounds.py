#!/usr/bin/env python3
"""Whole-process cost of `envref` on generated .env files of 1k, 10k and 100k lines:
wall time (best of RUNS) and peak RSS (GNU time's %M, the VmHWM of envref), plus the
10k -> 100k ratios, which must be about 10 (linear).

Shapes: the mixed corpus of envref-bench/src/lib.rs, a forward chain
(C_i=${C_(i+1)}), a reverse chain (C_i=${C_(i-1)}) and lines without `=` (error report).

Usage: benches/bounds.py [path/to/envref]   (default: target/release/envref)
"""
import os, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENVREF = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/envref"))
RUNS = int(os.environ.get("RUNS", "5"))
TIME = "/usr/bin/time"
SIZES = [1_000, 10_000, 100_000]


def mixed(n):  # the same lines as envref-bench/src/lib.rs
    out = []
    for i in range(n):
        k = i % 5
        if k == 0:
            out.append(f"# section {i}")
        elif k == 1:
            out.append(f"KEY_{i}=plain-value-{i}")
        elif k == 2:
            out.append(f'export QUOTED_{i}="double ${{KEY_{i-1}}} and \\n escape"')
        elif k == 3:
            out.append(f"SINGLE_{i}='literal $NOT {i}'")
        else:
            out.append(f"LITERAL_{i}=ref-like-but-plain/key_{i}")
    return "\n".join(out) + "\n"


def forward(n):
    return "".join(f"C_{i}=${{C_{i+1}}}\n" for i in range(n - 1)) + f"C_{n-1}=end\n"


def reverse(n):
    return "C_0=start\n" + "".join(f"C_{i}=${{C_{i-1}}}\n" for i in range(1, n))


def bad(n):
    return "".join(f"token{i}\n" for i in range(n))


SHAPES = [("mixed", mixed, "resolve", 0), ("forward chain", forward, "resolve", 0),
          ("reverse chain", reverse, "resolve", 0), ("lines without =", bad, "list", 1)]


def measure(cwd, args, expect):
    """Best wall time (s) and the largest peak RSS (KiB) over RUNS runs. RSS comes from
    /usr/bin/time (GNU), whose own small child execs envref: a child forked from this
    Python process would count Python's pages before the exec."""
    best, peak = float("inf"), 0
    for _ in range(RUNS):
        with tempfile.NamedTemporaryFile("r") as rss:
            start = time.perf_counter()
            code = subprocess.run([TIME, "-q", "-f", "%M", "-o", rss.name, ENVREF] + args, cwd=cwd,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
            best = min(best, time.perf_counter() - start)
            peak = max(peak, int(rss.read().split()[-1]))
        if code != expect:
            sys.exit(f"{args} in {cwd}: exit {code}, expected {expect}")
    return best, peak


def main():
    if not os.access(ENVREF, os.X_OK):
        sys.exit("build it first: cargo build --release -p cargo-envref")
    if not os.access(TIME, os.X_OK):
        sys.exit("needs GNU time at /usr/bin/time (apt-get install time)")
    with tempfile.TemporaryDirectory() as work:
        os.environ.update(HOME=work, XDG_CONFIG_HOME=f"{work}/.config", NO_COLOR="1")
        print(f"{'shape':<16} {'lines':>7} {'file':>9} {'time':>9} {'peak RSS':>10} {'RSS/file':>8}")
        ratios = []
        for name, gen, cmd, expect in SHAPES:
            rows = {}
            for n in SIZES:
                d = os.path.join(work, f"{name.replace(' ', '_')}_{n}")
                os.makedirs(d)
                open(os.path.join(d, ".envref.yaml"), "w").write("project: bench\n")
                text = gen(n)
                open(os.path.join(d, ".env"), "w").write(text)
                t, rss = measure(d, [cmd], expect)
                rows[n] = (t, rss)
                size = len(text)
                print(f"{name:<16} {n:>7} {size/1024:>7.0f}Ki {t*1000:>7.1f}ms {rss/1024:>8.1f}Mi {rss*1024/size:>8.1f}")
            (t1, r1), (t2, r2) = rows[10_000], rows[100_000]
            ratios.append((name, t2 / t1, r2 / r1))
        print()
        print(f"{'10k -> 100k':<16} {'time':>7} {'peak RSS':>9}")
        for name, tr, rr in ratios:
            print(f"{name:<16} {tr:>6.1f}x {rr:>8.1f}x")


main()
