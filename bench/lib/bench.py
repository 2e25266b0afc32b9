#!/usr/bin/env python3
"""edgeway's side-by-side benchmark: edgeway against nginx, Varnish and HAProxy on the same core.

Started by bench/run.sh (which installs the tools and builds edgeway); see bench/README.md.
Standard library only. Everything it starts is pinned (server side / client side), bound to
loopback, and terminated on exit, including on errors and signals.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.join(os.path.dirname(HERE), "configs")
CLK_TCK = os.sysconf("SC_CLK_TCK")

# ---------------------------------------------------------------------------------------------
# Scenarios. `port` names the listener role each server exposes (see Server.ports); `count`
# names the origins whose request counters are read (to see misses and the balancing split).


class Scenario:
    def __init__(self, name, what, path, port, scheme="http", tool="wrk", peers=(), cached=False, count=("o1",), body=None):
        self.name, self.what, self.path, self.port = name, what, path, port
        self.scheme, self.tool, self.peers, self.cached, self.count = scheme, tool, list(peers), cached, list(count)
        self.body = body  # expected body size, checked before measuring


ALL3 = ("o1", "o2", "o3")
SCENARIOS = [
    Scenario("hit-1k", "cache hit, 1 KiB, HTTP/1.1 keep-alive", "/images/1k.bin", "HTTP", peers=("nginx", "varnish", "haproxy"), cached=True, body=1024),
    Scenario("hit-100k", "cache hit, 100 KiB, HTTP/1.1 keep-alive", "/media/100k.bin", "HTTP", peers=("nginx", "varnish", "haproxy"), cached=True, body=102400),
    Scenario("tls-hit-1k", "cache hit, 1 KiB, HTTP/1.1 over TLS", "/images/1k.bin", "HTTPS", "https", peers=("nginx", "haproxy"), cached=True, body=1024),
    Scenario("tls-hit-100k", "cache hit, 100 KiB, HTTP/1.1 over TLS", "/media/100k.bin", "HTTPS", "https", peers=("nginx", "haproxy"), cached=True, body=102400),
    Scenario("h2-tls-hit-1k", "cache hit, 1 KiB, HTTP/2 over TLS (h2load)", "/images/1k.bin", "HTTPS", "https", tool="h2load", peers=("nginx", "haproxy"), cached=True, body=1024),
    Scenario("pass-10k", "pass-through of an uncached 10 KiB page", "/page10k.html", "HTTP", peers=("nginx", "varnish", "haproxy"), body=10240),
    Scenario("balance", "round-robin over three origins (10 KiB page), split checked", "/page10k.html", "LB", peers=("nginx", "varnish", "haproxy"), count=ALL3, body=10240),
    Scenario("app-20ms-pass", "a 20 ms application, passed", "/app/slow", "HTTP", peers=("nginx", "varnish", "haproxy")),
    Scenario("app-20ms-cached", "the same 20 ms application, cached (max-age)", "/media/slow", "HTTP", peers=("nginx", "varnish", "haproxy"), cached=True),
    Scenario("chain-tls", "edge -> balancer -> 3 targets, TLS in and between (10 KiB page)", "/page10k.html", "CHAIN", "https", peers=("nginx->haproxy",), count=ALL3, body=10240),
]

# ---------------------------------------------------------------------------------------------
# Processes.

STARTED = []  # every Popen we started, terminated in reverse order on exit


def log(*a):
    print(*a, flush=True)


def cleanup():
    for p in reversed(STARTED):
        if p.poll() is None:
            try:
                p.terminate()
            except ProcessLookupError:
                pass
    deadline = time.time() + 8
    for p in reversed(STARTED):
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            try:
                p.kill()
                p.wait(timeout=3)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
    STARTED.clear()


def on_signal(signum, _frame):
    cleanup()
    sys.exit(128 + signum)


def pin(cpu):
    return ["taskset", "-c", str(cpu)] if cpu is not None else []


def die_with_parent():
    """In the child: get SIGTERM if this script dies, even by SIGKILL (Linux prctl)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start(cmd, logfile, cpu, env=None):
    out = open(logfile, "ab")
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, preexec_fn=die_with_parent)
    out.close()
    STARTED.append(p)
    return p


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def tree(pids):
    """The pids and all their descendants."""
    kids = children_map()
    out, todo = [], list(pids)
    for _ in range(10000):  # bounded walk
        if not todo:
            break
        p = todo.pop()
        if p in out:
            continue
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_ticks(pids):
    t = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        t += int(fields[11]) + int(fields[12])  # utime + stime
    return t


def status_kb(pids, key):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def system_busy_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)


def free_port(taken):
    for _ in range(200):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port not in taken:
            taken.add(port)
            return port
    raise RuntimeError("no free port")


def wait_port(port, proc, secs=30):
    deadline = time.time() + secs
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def render(template, out, values):
    with open(os.path.join(CONFIGS, template)) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace("{{" + k + "}}", str(v))
    left = re.findall(r"\{\{[A-Z0-9_]+\}\}", text)
    if left:
        raise RuntimeError(f"{template}: unfilled {left}")
    with open(out, "w") as f:
        f.write(text)
    return out


def fetch(scheme, port, path, timeout=10):
    """One GET over a fresh connection: (status, headers dict lower-case, body length)."""
    if scheme == "https":
        ctx = ssl._create_unverified_context()
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ctx)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Host": "localhost"})
        r = c.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, len(body)
    finally:
        c.close()


def origin_requests(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/_origin_status")
        text = c.getresponse().read().decode()
        c.close()
        # "server accepts handled requests\n N N N"
        return int(text.split("\n")[2].split()[2])
    except (OSError, ValueError, IndexError):
        return -1


# ---------------------------------------------------------------------------------------------
# Servers.


class Server:
    def __init__(self, name, procs, ports):
        self.name, self.procs, self.ports = name, procs, ports

    def pids(self):
        return tree([p.pid for p in self.procs])

    def alive(self):
        return all(p.poll() is None for p in self.procs)


def versions(edgeway):
    def first(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return "?"
    return {
        # run.sh says which commit it built; a binary given with EDGEWAY_BIN is just "prebuilt".
        "edgeway": first([edgeway, "--version"]) + " @ " + os.environ.get("BENCH_EDGEWAY_REV", "prebuilt binary " + edgeway),
        "nginx": first(["nginx", "-v"]),
        "varnish": first(["varnishd", "-V"]),
        "haproxy": first(["haproxy", "-v"]),
        "wrk": first(["wrk", "-v"]),
        "h2load": first(["h2load", "--version"]),
        "kernel": os.uname().release,
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
    }


# ---------------------------------------------------------------------------------------------
# Load generation.


def to_ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
    if not m:
        return None
    x = float(m.group(1))
    return {"us": x / 1000, "ms": x, "s": x * 1000, "m": x * 60000}[m.group(2)]


def parse_wrk(out):
    r = {"rps": 0.0, "requests": 0, "p50": None, "p99": None, "bad": 0, "errors": 0}
    for line in out.splitlines():
        s = line.strip()
        if s.startswith("Requests/sec:"):
            r["rps"] = float(s.split()[1])
        elif re.match(r"^\d+ requests in", s):
            r["requests"] = int(s.split()[0])
        elif s.startswith("50%"):
            r["p50"] = to_ms(s.split()[1])
        elif s.startswith("99%"):
            r["p99"] = to_ms(s.split()[1])
        elif s.startswith("Non-2xx or 3xx responses:"):
            r["bad"] = int(s.split(":")[1])
        elif s.startswith("Socket errors:"):
            r["errors"] = sum(int(x) for x in re.findall(r"\d+", s))
    return r


def parse_h2load(out, logfile):
    r = {"rps": 0.0, "requests": 0, "p50": None, "p99": None, "bad": 0, "errors": 0}
    for line in out.splitlines():
        s = line.strip()
        m = re.match(r"finished in [\d.]+\w*, ([\d.]+) req/s", s)
        if m:
            r["rps"] = float(m.group(1))
        m = re.match(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", s)
        if m:
            r["requests"] = int(m.group(1))
            r["errors"] = int(m.group(2)) + int(m.group(3)) + int(m.group(4))
        m = re.match(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", s)
        if m:
            r["bad"] = int(m.group(3)) + int(m.group(4))
    durations = []
    try:
        with open(logfile) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    durations.append(int(parts[2]))
    except OSError:
        pass
    if durations:
        durations.sort()
        r["p50"] = durations[len(durations) // 2] / 1000
        r["p99"] = durations[min(len(durations) - 1, int(len(durations) * 0.99))] / 1000
    return r


def load(sc, url, secs, conns, cpu, workdir):
    if sc.tool == "h2load":
        logfile = os.path.join(workdir, "h2load.log")
        if os.path.exists(logfile):
            os.remove(logfile)
        cmd = pin(cpu) + ["h2load", "-t", "1", "-c", str(conns), "-m", "1", "-D", str(secs), "--log-file", logfile, url]
    else:
        logfile = None
        cmd = pin(cpu) + ["wrk", "-t", "1", "-c", str(conns), "-d", f"{secs}s", "--latency", url]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
    STARTED.append(p)
    try:
        out, _ = p.communicate(timeout=secs + 60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate(timeout=10)
    STARTED.remove(p)
    out = out.decode(errors="replace")
    r = parse_h2load(out, logfile) if logfile else parse_wrk(out)
    r["raw"] = out
    return r


# ---------------------------------------------------------------------------------------------
# The run.


def setup(args, workdir, taken):
    cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
         "-days", "3", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60)
    pem = os.path.join(workdir, "cert+key.pem")
    with open(pem, "w") as f:
        f.write(open(cert).read() + open(key).read())

    www = os.path.join(workdir, "www")
    for d in ("images", "media", "app"):
        os.makedirs(os.path.join(www, d), exist_ok=True)
    def blob(path, n, html=False):
        unit = (b"<p>edgeway bench page</p>\n" if html else bytes(range(256)))
        data = (unit * (n // len(unit) + 1))[:n]
        with open(os.path.join(www, path), "wb") as f:
            f.write(data)
    blob("images/1k.bin", 1024)
    blob("media/100k.bin", 102400)
    blob("page10k.html", 10240, html=True)
    os.chmod(workdir, 0o755)

    user = "user root;" if os.geteuid() == 0 else ""
    p = {k: free_port(taken) for k in ("O1", "O2", "O3")}
    ports = {
        "nginx": {k: free_port(taken) for k in ("HTTP", "HTTPS", "LB", "CHAIN")},
        "haproxy": {k: free_port(taken) for k in ("HTTP", "HTTPS", "LB", "HAPROXY_CHAIN")},
        "varnish": {k: free_port(taken) for k in ("HTTP", "LB")},
        "edgeway": {k: free_port(taken) for k in ("HTTP", "HTTPS", "LB", "CHAIN", "ALB_HTTPS")},
    }
    common = dict(DIR=workdir, WWW=www, CERT=cert, KEY=key, PEM=pem, USER=user, **p)
    S = args.server_cpu

    servers, origins = {}, {}
    for i, name in enumerate(("o1", "o2", "o3"), 1):
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(workdir, f"origin{i}-tmp", sub), exist_ok=True)
        conf = render("origin-nginx.conf", os.path.join(workdir, f"origin{i}.conf"), dict(common, I=i, PORT=p[name.upper()]))
        proc = start(pin(S) + ["nginx", "-e", os.path.join(workdir, f"origin{i}.err"), "-c", conf], os.path.join(workdir, f"origin{i}.out"), S)
        origins[name] = Server(name, [proc], {"PORT": p[name.upper()]})

    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(workdir, "nginx-tmp", sub), exist_ok=True)
    nconf = render("nginx.conf", os.path.join(workdir, "nginx.conf"), dict(common, **ports["nginx"], HAPROXY_CHAIN=ports["haproxy"]["HAPROXY_CHAIN"]))
    nginx = start(pin(S) + ["nginx", "-e", os.path.join(workdir, "nginx.err"), "-c", nconf], os.path.join(workdir, "nginx.out"), S)
    servers["nginx"] = Server("nginx", [nginx], ports["nginx"])

    hconf = render("haproxy.cfg", os.path.join(workdir, "haproxy.cfg"), dict(common, **ports["haproxy"]))
    haproxy = start(pin(S) + ["haproxy", "-db", "-f", hconf], os.path.join(workdir, "haproxy.out"), S)
    servers["haproxy"] = Server("haproxy", [haproxy], ports["haproxy"])
    servers["nginx->haproxy"] = Server("nginx->haproxy", [nginx, haproxy], {"CHAIN": ports["nginx"]["CHAIN"]})

    vcl = render("varnish.vcl", os.path.join(workdir, "varnish.vcl"), common)
    vport = ports["varnish"]
    varnish = start(pin(S) + ["varnishd", "-F", "-j", "none", "-n", os.path.join(workdir, "varnish"),
                               "-a", f"main=127.0.0.1:{vport['HTTP']}", "-a", f"lb=127.0.0.1:{vport['LB']}",
                               "-f", vcl, "-s", "malloc,256m", "-p", "thread_pools=1", "-T", "none"],
                    os.path.join(workdir, "varnish.out"), S)
    servers["varnish"] = Server("varnish", [varnish], vport)

    econf = render("edgeway.toml", os.path.join(workdir, "edgeway.toml"), dict(common, **ports["edgeway"]))
    env = dict(os.environ, EDGEWAY_LOG=os.environ.get("EDGEWAY_LOG", "warn"))
    edgeway = start(pin(S) + [args.edgeway, "--state-dir", os.path.join(workdir, "state"), "run", "-c", econf], os.path.join(workdir, "edgeway.out"), S, env=env)
    servers["edgeway"] = Server("edgeway", [edgeway], ports["edgeway"])

    for s in list(origins.values()) + [servers[n] for n in ("nginx", "haproxy", "varnish", "edgeway")]:
        for role, port in s.ports.items():
            if not wait_port(port, s.procs[0], 60):
                raise RuntimeError(f"{s.name} did not listen on {role} 127.0.0.1:{port} (logs in {workdir})")
    return servers, origins


def check(sc, srv):
    """Before measuring: the URL answers 200 with the right body; for cached scenarios, a few
    requests fill the cache. Returns (problem or None, cache status header of the last answer)."""
    port = srv.ports[sc.port]
    last = None
    for _ in range(3 if sc.cached else 1):
        try:
            status, headers, size = fetch(sc.scheme, port, sc.path)
        except (OSError, http.client.HTTPException) as e:
            return f"GET {sc.path}: {e}", None
        if status != 200:
            return f"GET {sc.path}: status {status}", None
        if sc.body is not None and size != sc.body:
            return f"GET {sc.path}: body {size} bytes, want {sc.body}", None
        last = headers.get("x-cache-status") or headers.get("x-cache")
    return None, last


def run_one(args, sc, srv, origins, workdir):
    url = f"{sc.scheme}://127.0.0.1:{srv.ports[sc.port]}{sc.path}"
    problem, cache_hdr = check(sc, srv)
    if problem:
        return {"problem": problem}
    if not args.smoke and args.warmup > 0:
        load(sc, url, args.warmup, args.connections, args.client_cpu, workdir)
    spids = srv.pids()
    opids = tree([o.procs[0].pid for o in origins.values()])
    before_counts = {o: origin_requests(origins[o].ports["PORT"]) for o in sc.count}
    s0, o0, b0, t0 = cpu_ticks(spids), cpu_ticks(opids), system_busy_ticks(), time.time()
    ru0 = os.times()
    res = load(sc, url, args.duration, args.connections, args.client_cpu, workdir)
    ru1 = os.times()
    s1, o1, b1, t1 = cpu_ticks(spids), cpu_ticks(opids), system_busy_ticks(), time.time()
    after_counts = {o: origin_requests(origins[o].ports["PORT"]) for o in sc.count}
    client_ticks = ((ru1.children_user - ru0.children_user) + (ru1.children_system - ru0.children_system)) * CLK_TCK
    wall = max(t1 - t0, 1e-3)
    server_ticks = s1 - s0
    res["server_cpu_us_per_req"] = (server_ticks / CLK_TCK * 1e6 / res["requests"]) if res["requests"] else None
    res["server_cpu_pct"] = server_ticks / CLK_TCK / wall * 100
    res["origin_cpu_pct"] = (o1 - o0) / CLK_TCK / wall * 100
    res["client_cpu_pct"] = client_ticks / CLK_TCK / wall * 100
    other = (b1 - b0) - server_ticks - (o1 - o0) - client_ticks
    res["other_cpu_pct"] = max(0.0, other / CLK_TCK / wall * 100)
    res["peak_rss_mib"] = status_kb(spids, "VmHWM") / 1024
    # -1 per origin: the stub_status request that read the counter counts itself.
    deltas = {o: after_counts[o] - before_counts[o] - 1 for o in sc.count}
    res["origin_requests"] = deltas
    res["origin_per_req"] = (sum(deltas.values()) / res["requests"]) if res["requests"] else None
    res["cache_header"] = cache_hdr
    res["url"] = url
    return res


def fmt(v, spec, dash="-"):
    return dash if v is None else format(v, spec)


def line(r):
    if "problem" in r:
        return f"FAILED: {r['problem']}"
    split = ""
    if len(r["origin_requests"]) > 1:
        tot = sum(r["origin_requests"].values()) or 1
        split = "  split " + "/".join(f"{100 * v / tot:.1f}" for v in r["origin_requests"].values())
    return (f"{r['rps']:>10,.0f} req/s  p50 {fmt(r['p50'], '.2f')} ms  p99 {fmt(r['p99'], '.2f')} ms  "
            f"cpu/req {fmt(r['server_cpu_us_per_req'], '.1f')} us  rss {r['peak_rss_mib']:.1f} MiB  "
            f"origin/req {fmt(r['origin_per_req'], '.2f')}  other-cpu {r['other_cpu_pct']:.0f}%  "
            f"bad {r['bad']} err {r['errors']}{split}")


def problems_of(sc, srv_name, r, smoke):
    """Functional problems (never speed)."""
    if "problem" in r:
        return [r["problem"]]
    out = []
    if r["requests"] <= 0:
        out.append("no requests completed")
    if r["bad"] or r["errors"]:
        out.append(f"{r['bad']} bad responses, {r['errors']} socket errors")
    if len(sc.count) > 1 and r["requests"] > 0 and any(v <= 0 for v in r["origin_requests"].values()):
        out.append(f"an origin got no requests: {r['origin_requests']}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--edgeway", required=True, help="the edgeway binary (release build)")
    ap.add_argument("--smoke", action="store_true", help="one round, 1 s, every scenario; functional checks only")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    ap.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load before each run (not in smoke mode)")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--scenario", action="append", help="run only this scenario (repeatable, or comma-separated)")
    ap.add_argument("--out", help="write results.md and results.json into this folder")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (configs, logs)")
    args = ap.parse_args()
    if args.smoke:
        args.rounds, args.duration = 1, 1
    args.rounds = max(1, min(args.rounds, 50))
    args.duration = max(1, min(args.duration, 600))
    ncpu = len(os.sched_getaffinity(0))
    cpus = sorted(os.sched_getaffinity(0))
    if ncpu >= 2:
        args.server_cpu = int(os.environ.get("BENCH_SERVER_CPU", cpus[0]))
        args.client_cpu = int(os.environ.get("BENCH_CLIENT_CPU", cpus[1]))
    else:
        log("warning: one CPU only; nothing is pinned and numbers mean little")
        args.server_cpu = args.client_cpu = None

    wanted = None
    if args.scenario:
        wanted = {s for arg in args.scenario for s in arg.split(",") if s}
        unknown = wanted - {s.name for s in SCENARIOS}
        if unknown:
            log(f"unknown scenario(s): {', '.join(sorted(unknown))}; known: {', '.join(s.name for s in SCENARIOS)}")
            return 2
    scenarios = [s for s in SCENARIOS if wanted is None or s.name in wanted]

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    workdir = tempfile.mkdtemp(prefix="edgeway-bench.")
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "mode": "smoke" if args.smoke else "full",
        "duration": args.duration,
        "connections": args.connections,
        "server_cpu": args.server_cpu,
        "client_cpu": args.client_cpu,
        "load_before": open("/proc/loadavg").read().split()[:3],
        "versions": versions(args.edgeway),
    }
    log(f"work folder {workdir}")
    for k, v in meta["versions"].items():
        log(f"  {k:8} {v}")
    log(f"  load     {' '.join(meta['load_before'])} (1/5/15 min)")
    failures = []
    results = {}
    try:
        taken = set()
        servers, origins = setup(args, workdir, taken)
        rest = {n: status_kb(servers[n].pids(), "VmRSS") / 1024 for n in ("nginx", "varnish", "haproxy", "edgeway")}
        meta["rss_at_rest_mib"] = rest
        log("RSS at rest: " + ", ".join(f"{n} {v:.1f} MiB" for n, v in rest.items()))
        for sc in scenarios:
            log(f"\n== {sc.name}: {sc.what}")
            results[sc.name] = {}
            for rnd in range(args.rounds):
                # A B A B: every peer next to edgeway, the order flipped every other round.
                inter = []
                for p in sc.peers:
                    inter += [p, "edgeway"] if rnd % 2 == 0 else ["edgeway", p]
                for name in inter:
                    srv = servers[name]
                    if not srv.alive():
                        r = {"problem": f"{name} is not running (see {workdir})"}
                    else:
                        r = run_one(args, sc, srv, origins, workdir)
                    results[sc.name].setdefault(name, []).append(r)
                    log(f"  round {rnd + 1}  {name:15} {line(r)}")
                    for p in problems_of(sc, name, r, args.smoke):
                        failures.append(f"{sc.name} / {name}: {p}")
        meta["load_after"] = open("/proc/loadavg").read().split()[:3]
        # edgeway runs once next to each peer in every round; pair each peer run with that run.
        paired = {}
        for sc in scenarios:
            by = results[sc.name]
            ew_all = by.get("edgeway", [])
            k = len(sc.peers)
            paired[sc.name] = {p: by.get(p, []) for p in sc.peers}
            # edgeway runs are stored in order: round r, peer i -> index r*k + i
            paired[sc.name]["edgeway"] = ew_all
            for i, p in enumerate(sc.peers):
                paired[sc.name][f"edgeway@{p}"] = [ew_all[r * k + i] for r in range(args.rounds) if r * k + i < len(ew_all)]
        table, ratios = summarize_paired(paired, scenarios, args.rounds, meta)
        log("\n" + table)
        if args.out:
            os.makedirs(args.out, exist_ok=True)
            with open(os.path.join(args.out, "results.md"), "w") as f:
                f.write(table + "\n")
            with open(os.path.join(args.out, "results.json"), "w") as f:
                clean = {s: {n: [{k: v for k, v in r.items() if k != "raw"} for r in rs] for n, rs in by.items()} for s, by in results.items()}
                json.dump({"meta": meta, "results": clean, "ratios": ratios}, f, indent=1)
            log(f"results written to {args.out}")
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        failures.append(f"bench aborted: {e}")
    finally:
        cleanup()
        if not args.keep and not failures:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"work folder kept: {workdir}")
    if failures:
        log("\nFAILED:")
        for f in failures:
            log("  " + f)
        return 1
    log("\nok")
    return 0


def summarize_paired(paired, scenarios, rounds, meta):
    md = []
    md.append(f"{meta['date']}: {meta['mode']} run, {rounds} round(s) × {meta['duration']} s, {meta['connections']} connections, "
              f"wrk/h2load 1 thread; server CPU {meta['server_cpu']}, client CPU {meta['client_cpu']}; "
              f"load average before {' '.join(meta['load_before'])}, after {' '.join(meta['load_after'])}.")
    md.append("")
    md.append("| scenario | server | req/s | p50 ms | p99 ms | CPU µs/req | peak RSS MiB | origin req per req | other CPU % (max) | edgeway/peer | per-round ratios |")
    md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    ratios = {}

    def med(runs, k):
        xs = [r[k] for r in runs if r.get(k) is not None]
        return statistics.median(xs) if xs else None

    def row(scn, name, runs, ratio="", per_round=""):
        ok = [r for r in runs if "problem" not in r]
        if not ok:
            md.append(f"| {scn} | {name} | failed | | | | | | | | |")
            return
        split = ""
        if len(ok[0]["origin_requests"]) > 1:
            tot = [sum(r["origin_requests"].values()) for r in ok]
            shares = ["/".join(f"{100 * v / max(t, 1):.1f}" for v in r["origin_requests"].values()) for r, t in zip(ok, tot)]
            split = f" (split {shares[-1]})"
        md.append(f"| {scn} | {name} | {med(ok, 'rps'):,.0f} | {fmt(med(ok, 'p50'), '.2f')} | {fmt(med(ok, 'p99'), '.2f')} | "
                  f"{fmt(med(ok, 'server_cpu_us_per_req'), '.1f')} | {max(r['peak_rss_mib'] for r in ok):.1f} | "
                  f"{fmt(med(ok, 'origin_per_req'), '.2f')}{split} | {max(r['other_cpu_pct'] for r in ok):.0f} | {ratio} | {per_round} |")

    for sc in scenarios:
        by = paired.get(sc.name, {})
        for p in sc.peers:
            pr, er = by.get(p, []), by.get(f"edgeway@{p}", [])
            rr = [e["rps"] / q["rps"] for e, q in zip(er, pr) if "problem" not in e and "problem" not in q and q["rps"] > 0]
            ratio = f"**{statistics.median(rr):.2f}**" if rr else ""
            if rr:
                ratios[f"{sc.name}: edgeway/{p}"] = round(statistics.median(rr), 3)
            row(sc.name, p, pr, ratio, " ".join(f"{x:.2f}" for x in rr))
        row(sc.name, "edgeway", by.get("edgeway", []))
    md.append("")
    md.append("RSS at rest: " + ", ".join(f"{n} {v:.1f} MiB" for n, v in meta.get("rss_at_rest_mib", {}).items()) + ".")
    return "\n".join(md), ratios


if __name__ == "__main__":
    sys.exit(main())
