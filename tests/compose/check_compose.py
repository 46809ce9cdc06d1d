#!/usr/bin/env python3
"""Checks of the container files that need no Docker engine (run by test_compose.sh).

    check_compose.py SRC_DIR GATEWAYD LOBBYD GAMED [BOT]

Every check prints "ok - ..." or "FAIL - ..." (with the reason); the last line reads
"N passed, N failed" and the exit status is 1 when any check failed.

  compose  docker-compose.yml is valid for Debian's docker-compose (`config`, with a copy of
           .env.example as the env file); without an env file it is refused (no default secret)
  env      every variable in a service's environment is one its daemon reads (the env names of
           the daemon's --help); required ones are set; service wiring is consistent
           (health check port = ADMIN_ADDR port, published port = LISTEN_ADDR port, the bot's
           gateway is a gateway service, host names are services it depends on, healthy ones
           waited for, stop_grace_period longer than DRAIN_TIMEOUT_MS)
  scale    the game service needs nothing else for --scale game=N
  build    the Dockerfile builds with the same cmake commands as scripts/up.sh, the normal
           build of scripts/test.sh and the docker-compose section of docs/operations.md: every cmake
           command is run with cmake replaced by a recorder and the argument lists compared
  docker   the Dockerfile parses (instructions, continuations, JSON forms, stages, COPY
           --from), is multi-stage debian:12 -> debian:12-slim with a non-root USER; its apt
           packages exist (apt-cache); the build stage installs exactly the build packages of
           scripts/deps.sh; the runtime stage installs every library the binaries link
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

import yaml

RESULTS = []  # (ok, name, detail)


def check(name, ok, detail=""):
    RESULTS.append((ok, name, detail))
    # the detail only for a failure: it says why
    print(("ok   - " if ok else "FAIL - ") + name
          + (("\n       " + detail.replace("\n", "\n       ")) if detail and not ok else ""), flush=True)
    return ok


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


SRC, GATEWAYD, LOBBYD, GAMED = (os.path.abspath(a) for a in sys.argv[1:5])
BOT = os.path.abspath(sys.argv[5]) if len(sys.argv) > 5 else None
BUILD = os.path.dirname(os.path.dirname(GATEWAYD))
TMP = tempfile.mkdtemp(prefix="test_compose.")
COMPOSE = os.path.join(SRC, "docker-compose.yml")
DOCKERFILE = os.path.join(SRC, "Dockerfile")
ENV_EXAMPLE = os.path.join(SRC, ".env.example")

# ------------------------------------------------------------------ the binaries and their --help
# Every executable the build made in build/src_*/ (what the Dockerfile installs).
BINARIES = {}
for d in sorted(os.listdir(BUILD)):
    p = os.path.join(BUILD, d)
    if d.startswith("src_") and os.path.isdir(p):
        for f in sorted(os.listdir(p)):
            fp = os.path.join(p, f)
            if os.path.isfile(fp) and os.access(fp, os.X_OK):
                BINARIES[f] = fp
for b in (GATEWAYD, LOBBYD, GAMED) + ((BOT,) if BOT else ()):
    BINARIES[os.path.basename(b)] = b
check("binaries built: gatewayd, lobbyd, gamed, bot",
      all(n in BINARIES and os.access(BINARIES[n], os.X_OK) for n in ("gatewayd", "lobbyd", "gamed", "bot")),
      "found: " + " ".join(sorted(BINARIES)))

OPTION_RE = re.compile(r"^\s+--[a-z0-9][a-z0-9-]*\s+([A-Z][A-Z0-9_]*)\s+(.*)$")


def help_options(path):
    """{ENV_NAME: description} from `BINARY --help`."""
    try:
        p = run([path, "--help"], timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    out = p.stdout + p.stderr
    opts = {}
    for line in out.splitlines():
        m = OPTION_RE.match(line)
        if m:
            opts[m.group(1)] = m.group(2)
    return opts, out


HELP = {}
for name, path in sorted(BINARIES.items()):
    opts, out = help_options(path)
    if opts:
        HELP[name] = opts
# clusterctl (the console service: clusterctl web) has commands, not an option table: the
# variables it reads are these (src_ctl/main.c, src_ctl/web.c).
if "clusterctl" in BINARIES:
    HELP["clusterctl"] = {"REDIS_URL": "", "REDIS_PREFIX": "", "CONSOLE_TOKEN": "", "CONSOLE_DIR": ""}
for name in ("gatewayd", "lobbyd", "gamed", "bot"):
    check(f"{name} --help lists its environment variables", bool(HELP.get(name)),
          "" if HELP.get(name) else f"no option line with an env name in `{name} --help`")

# ------------------------------------------------------------------ compose: config
def read_env_file(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            env[k.strip()] = v.strip()
    return env


COMPOSE_ENV = {k: v for k, v in os.environ.items()
               if not k.startswith("COMPOSE_") and k not in
               ("CLUSTER_SECRET", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "LOG_LEVEL", "BOT_COUNT", "BOT_DURATION",
                "DOCKER_HOST", "DOCKER_CONTEXT")}


def compose(env_file, *args):
    return run(["docker-compose", "--project-directory", SRC, "-f", COMPOSE, "--env-file", env_file]
               + list(args), env=COMPOSE_ENV, cwd=TMP, timeout=120)


example = read_env_file(ENV_EXAMPLE) if os.path.exists(ENV_EXAMPLE) else {}
check(".env.example has CLUSTER_SECRET, POSTGRES_PASSWORD and REDIS_PASSWORD placeholders",
      all(example.get(k) for k in ("CLUSTER_SECRET", "POSTGRES_PASSWORD", "REDIS_PASSWORD")),
      "" if example else f"{ENV_EXAMPLE} missing")
env_copy = os.path.join(TMP, "env")
with open(env_copy, "w") as f:
    f.write(open(ENV_EXAMPLE).read() if os.path.exists(ENV_EXAMPLE) else "")

p = compose(env_copy, "config")
CONFIG = None
if check("docker-compose config accepts docker-compose.yml (env file: a copy of .env.example)",
         p.returncode == 0, (p.stderr or p.stdout).strip()):
    CONFIG = yaml.safe_load(p.stdout)

empty = os.path.join(TMP, "empty.env")
open(empty, "w").close()
p = compose(empty, "config", "-q")
check("docker-compose config without CLUSTER_SECRET/POSTGRES_PASSWORD/REDIS_PASSWORD is refused (no default secret)",
      p.returncode != 0 and any(k in p.stderr for k in ("CLUSTER_SECRET", "POSTGRES_PASSWORD", "REDIS_PASSWORD")),
      f"exit {p.returncode}: {p.stderr.strip()}")

raw = open(COMPOSE).read()
leaked = [k for k in ("CLUSTER_SECRET", "POSTGRES_PASSWORD") if example.get(k) and example[k] in raw]
check("docker-compose.yml holds no secret value (both come from the env file)", not leaked,
      "the value of " + ", ".join(leaked) + " from .env.example is written in docker-compose.yml")

ignore = open(os.path.join(SRC, ".dockerignore")).read().split() if os.path.exists(
    os.path.join(SRC, ".dockerignore")) else []
check(".dockerignore keeps .env, build trees and .local out of the image",
      all(x in ignore for x in (".env", "build*", ".local")), "entries: " + " ".join(ignore))

# ------------------------------------------------------------------ compose: environment + wiring
def hostport(s):
    host, _, port = (s or "").rpartition(":")
    return host, (int(port) if port.isdigit() else None)


def conninfo_host(s):
    m = re.search(r"(?:^|\s)host\s*=\s*'?([^'\s]+)", s or "")
    if m:
        return m.group(1)
    m = re.match(r"postgres(?:ql)?://(?:[^@/]*@)?([^:/?]+)", s or "")
    return m.group(1) if m else None


def duration_ms(v):
    """Compose duration ("1m30s", "35s", "500ms", or seconds as a number) in ms."""
    if isinstance(v, (int, float)):
        return int(v * 1000)
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us)", str(v))
    if not parts or "".join(a + u for a, u in parts) != str(v):
        return None
    unit = {"h": 3600000, "m": 60000, "s": 1000, "ms": 1, "us": 0.001}
    return int(sum(float(a) * unit[u] for a, u in parts))


def service_binary(svc):
    cmd = svc.get("entrypoint") or svc.get("command")
    if isinstance(cmd, str):
        cmd = shlex.split(cmd)
    return os.path.basename(cmd[0]) if cmd else None


def published(port):
    """(host port, container port) of one entry of ports: in config's long or short form."""
    if isinstance(port, dict):
        return port.get("published"), port.get("target")
    parts = str(port).split("/")[0].split(":")
    return (parts[-2] if len(parts) > 1 else None), parts[-1]


if CONFIG:
    services = CONFIG.get("services", {})
    ours = {n: s for n, s in services.items()
            if s.get("image", "").startswith("cluster:") or "build" in s}
    daemons = {}
    for n, s in ours.items():
        b = service_binary(s)
        if check(f"service {n}: runs a binary of the image ({b})", b in HELP,
                 f"command/entrypoint {s.get('command')!r}: not one of {sorted(HELP)}"):
            daemons[n] = b
    check("services: redis, postgres, 2+ gatewayd, lobbyd, gamed, bot",
          {"redis", "postgres"} <= set(services)
          and sum(b == "gatewayd" for b in daemons.values()) >= 2
          and {"lobbyd", "gamed", "bot"} <= set(daemons.values()),
          "services: " + ", ".join(f"{n}={daemons.get(n, services[n].get('image'))}" for n in services))

    listen_port = {}
    for n, b in daemons.items():
        s = services[n]
        env = s.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
        unknown = sorted(set(env) - set(HELP[b]))
        check(f"service {n}: every environment variable is one {b} reads", not unknown,
              f"{b} --help has no {', '.join(unknown)}")
        required = [k for k, d in HELP[b].items() if "(required)" in d]
        missing = [k for k in required if not env.get(k)]
        check(f"service {n}: required variables set ({', '.join(required) or 'none'})", not missing,
              "missing: " + ", ".join(missing))
        for k, src in (("CLUSTER_SECRET", "CLUSTER_SECRET"),):
            if k in env:
                check(f"service {n}: {k} comes from the env file", env[k] == example.get(src),
                      f"{k}={env[k]!r}, .env.example has {example.get(src)!r}")
        if "REDIS_URL" in env:
            check(f"service {n}: REDIS_URL carries the registry's password from the env file",
                  f":{example.get('REDIS_PASSWORD', chr(0))}@" in env["REDIS_URL"], env["REDIS_URL"])
        if "DATABASE_URL" in env:
            check(f"service {n}: DATABASE_URL's password comes from the env file",
                  example.get("POSTGRES_PASSWORD", "\0") in env["DATABASE_URL"])
        h, port = hostport(env.get("LISTEN_ADDR"))
        listen_port[n] = port
        # every host name a daemon connects to is a service of this file
        deps = s.get("depends_on") or {}
        if isinstance(deps, list):
            deps = {d: {} for d in deps}
        for var, host in (("REDIS_URL", re.sub(r"^redis://(?:[^@]*@)?", "", env.get("REDIS_URL", "")).split(":")[0].split("/")[0]),
                          ("DATABASE_URL", conninfo_host(env.get("DATABASE_URL"))),
                          ("BOT_GATEWAY", hostport(env.get("BOT_GATEWAY"))[0])):
            if var in env:
                check(f"service {n}: {var} names a service ({host}) it depends on",
                      host in services and host in deps, f"depends_on: {sorted(deps)}")
        for d, cond in deps.items():
            if services.get(d, {}).get("healthcheck"):
                check(f"service {n}: waits for {d} to be healthy",
                      (cond or {}).get("condition") == "service_healthy", f"depends_on.{d}: {cond}")
        if b == "clusterctl":
            cmd = s.get("command") or []
            check(f"service {n}: clusterctl web beyond loopback with a CONSOLE_TOKEN from the env file",
                  cmd[1:2] == ["web"] and bool(env.get("CONSOLE_TOKEN"))
                  and env.get("CONSOLE_TOKEN") == example.get("CONSOLE_TOKEN"), f"command={cmd}")
            continue
        if b == "bot":
            check(f"service {n}: one-off under the loadtest profile, echo scenario",
                  "loadtest" in (s.get("profiles") or []) and s.get("restart", "no") == "no"
                  and env.get("BOT_SCENARIO", "echo") == "echo",
                  f"profiles={s.get('profiles')} restart={s.get('restart')} BOT_SCENARIO={env.get('BOT_SCENARIO')}")
            gw, gport = hostport(env.get("BOT_GATEWAY"))
            check(f"service {n}: BOT_GATEWAY={env.get('BOT_GATEWAY')} is a gateway service's LISTEN_ADDR port",
                  daemons.get(gw) == "gatewayd" and gport is not None and gport == listen_port.get(gw, -1)
                  if gw in listen_port else daemons.get(gw) == "gatewayd")
            continue
        # the daemons: admin address, health check on it, restart policy
        ah, aport = hostport(env.get("ADMIN_ADDR"))
        check(f"service {n}: ADMIN_ADDR reachable from the health check (0.0.0.0 or 127.0.0.1, fixed port)",
              ah in ("0.0.0.0", "127.0.0.1", "") and bool(aport), f"ADMIN_ADDR={env.get('ADMIN_ADDR')!r}")
        test = (s.get("healthcheck") or {}).get("test") or []
        test_s = " ".join(test) if isinstance(test, list) else str(test)
        m = re.search(r"http://(?:127\.0\.0\.1|localhost):(\d+)/healthz", test_s)
        check(f"service {n}: health check fetches /healthz on the ADMIN_ADDR port with curl",
              "curl" in test_s and m is not None and aport is not None and int(m.group(1)) == aport,
              f"healthcheck.test={test_s!r} ADMIN_ADDR={env.get('ADMIN_ADDR')!r}")
        check(f"service {n}: restart: unless-stopped", s.get("restart") == "unless-stopped",
              f"restart={s.get('restart')!r}")
        # docker stops a container with SIGTERM, then SIGKILL after stop_grace_period (10 s by
        # default): the daemon's drain must fit in it
        if "DRAIN_TIMEOUT_MS" in HELP[b]:
            dm = re.search(r"\(default: (\d+)\)", HELP[b]["DRAIN_TIMEOUT_MS"])
            drain_ms = int(env.get("DRAIN_TIMEOUT_MS") or (dm.group(1) if dm else 0))
            grace_ms = duration_ms(s.get("stop_grace_period", "10s"))
            check(f"service {n}: stop_grace_period outlasts DRAIN_TIMEOUT_MS",
                  grace_ms is not None and grace_ms > drain_ms,
                  f"stop_grace_period={s.get('stop_grace_period', '10s (default)')} DRAIN_TIMEOUT_MS={drain_ms}")
        if b == "gatewayd":
            # every client listener (TCP, TLS, ws, wss) is published, and nothing else
            lports = {v: hostport(env.get(v))[1] for v in ("LISTEN_ADDR", "TLS_LISTEN_ADDR", "WS_LISTEN_ADDR",
                                                          "WSS_LISTEN_ADDR") if env.get(v)}
            ports = [published(x) for x in s.get("ports") or []]
            targets = {str(t) for _, t in ports}
            check(f"service {n}: publishes each client listener's port, and only those ({lports})",
                  bool(ports) and all(hp for hp, _ in ports) and targets == {str(p) for p in lports.values()},
                  f"ports={ports}")
            if "TLS_LISTEN_ADDR" in lports or "WSS_LISTEN_ADDR" in lports:
                mounts = [v.get("target") if isinstance(v, dict) else str(v).split(":")[1]
                          for v in s.get("volumes") or []]
                files = [env.get("TLS_CERT_FILE", ""), env.get("TLS_KEY_FILE", "")]
                check(f"service {n}: TLS_CERT_FILE and TLS_KEY_FILE lie in a mounted folder",
                      all(f and any(m and f.startswith(m.rstrip("/") + "/") for m in mounts) for f in files),
                      f"files={files} mounts={mounts}")
    gw_ports = sorted(str(hp) for n, b in daemons.items() if b == "gatewayd"
                      for hp, t in (published(x) for x in services[n].get("ports") or [])
                      if str(t) == str(listen_port.get(n)))
    check("gateways publish client TCP ports 7000 and 7001", gw_ports == ["7000", "7001"], f"published: {gw_ports}")

    pg = services.get("postgres", {})
    vols = CONFIG.get("volumes") or {}
    named = [v for v in pg.get("volumes") or []
             if (v.get("source") if isinstance(v, dict) else str(v).split(":")[0]) in vols
             and "/var/lib/postgresql/data" in (v.get("target") if isinstance(v, dict) else str(v))]
    check("postgres keeps its data in a named volume", bool(named), f"volumes={pg.get('volumes')}")
    pgenv = pg.get("environment") or {}
    check("postgres: POSTGRES_PASSWORD comes from the env file",
          pgenv.get("POSTGRES_PASSWORD") == example.get("POSTGRES_PASSWORD"), "")

    # ------------------------------------------------------------------ scale
    for n, b in daemons.items():
        if b != "gamed":
            continue
        s = services[n]
        env = s.get("environment") or {}
        nets = s.get("networks") or {}
        fixed_ip = [k for k, v in (nets.items() if isinstance(nets, dict) else [])
                    if isinstance(v, dict) and (v.get("ipv4_address") or v.get("ipv6_address"))]
        problems = []
        if s.get("container_name"):
            problems.append(f"container_name={s['container_name']}")
        if s.get("hostname"):
            problems.append(f"hostname={s['hostname']}")
        if s.get("ports"):
            problems.append(f"ports={s['ports']} (a host port can be bound once)")
        if fixed_ip:
            problems.append(f"fixed address on networks {fixed_ip}")
        if s.get("network_mode"):
            problems.append(f"network_mode={s['network_mode']}")
        if env.get("ADVERTISE_ADDR"):
            problems.append(f"ADVERTISE_ADDR={env['ADVERTISE_ADDR']} (every replica would publish it)")
        lh, lp = hostport(env.get("LISTEN_ADDR", "0.0.0.0:0"))
        if lh not in ("0.0.0.0", ""):
            problems.append(f"LISTEN_ADDR={env.get('LISTEN_ADDR')} (not the wildcard address)")
        for v in s.get("volumes") or []:
            if (v.get("type") if isinstance(v, dict) else "bind") == "bind":
                problems.append(f"bind mount {v}")
        check(f"service {n}: `--scale {n}=3` needs no other change", not problems, "; ".join(problems))
        replicas = (s.get("deploy") or {}).get("replicas", s.get("scale", 1))
        check(f"service {n}: two game daemons by default", replicas == 2, f"replicas={replicas}")

# ------------------------------------------------------------------ Dockerfile parse
INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
                "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}


def parse_dockerfile(text):
    """[(lineno, INSTRUCTION, args)] with continuation lines joined; raises ValueError."""
    out, cur, start = [], None, 0
    lines = text.split("\n")
    directives = True
    for i, line in enumerate(lines, 1):
        s = line.strip()
        if directives and re.match(r"#\s*(syntax|escape|check)\s*=", s):
            if re.match(r"#\s*escape\s*=\s*`", s):
                raise ValueError("escape=` is not handled by this check")
            continue
        if s.startswith("#") or (not s and cur is None):
            directives = directives and s.startswith("#")
            continue
        directives = False
        if cur is None:
            m = re.match(r"([A-Za-z]+)(\s+|$)(.*)$", s)
            if not m:
                raise ValueError(f"line {i}: not an instruction: {s!r}")
            start, cur = i, [m.group(1).upper(), m.group(3)]
        elif s:
            cur[1] += " " + s
        if cur[1].endswith("\\"):
            cur[1] = cur[1][:-1].rstrip()
            continue
        out.append((start, cur[0], cur[1].strip()))
        cur = None
    if cur is not None:
        raise ValueError(f"line {start}: continuation runs past the end of the file")
    return out


DF = []
try:
    DF = parse_dockerfile(open(DOCKERFILE).read())
    bad = [(ln, ins) for ln, ins, _ in DF if ins not in INSTRUCTIONS]
    if bad:
        raise ValueError(f"unknown instruction(s): {bad}")
    for ln, ins, args in DF:
        if not args:
            raise ValueError(f"line {ln}: {ins} without arguments")
        if ins in ("CMD", "ENTRYPOINT", "RUN", "SHELL") and args.startswith("["):
            v = json.loads(args)
            if not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
                raise ValueError(f"line {ln}: {ins} JSON form is not a list of strings")
    first = [ins for _, ins, _ in DF if ins != "ARG"][:1]
    if first != ["FROM"]:
        raise ValueError("the first instruction (after ARGs) is not FROM")
    stages, names = [], set()
    for ln, ins, args in DF:
        if ins == "FROM":
            m = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+[Aa][Ss]\s+([A-Za-z][A-Za-z0-9_.-]*))?", args)
            if not m:
                raise ValueError(f"line {ln}: FROM {args!r}")
            if m.group(2):
                if m.group(2).lower() in names:
                    raise ValueError(f"line {ln}: stage {m.group(2)} defined twice")
                names.add(m.group(2).lower())
            stages.append({"image": m.group(1), "name": m.group(2), "ins": []})
        else:
            stages[-1]["ins"].append((ln, ins, args))
            if ins in ("COPY", "ADD"):
                for frm in re.findall(r"--from=(\S+)", args):
                    if frm.lower() not in names and not frm.isdigit():
                        raise ValueError(f"line {ln}: COPY --from={frm}: no earlier stage of that name")
    check("Dockerfile parses (instructions, continuations, JSON forms, stages, COPY --from)", True,
          f"{len(DF)} instructions, stages: " + ", ".join(f"{s['name'] or '-'}={s['image']}" for s in stages))
except (OSError, ValueError) as e:
    check("Dockerfile parses (instructions, continuations, JSON forms, stages, COPY --from)", False, str(e))
    stages = []

if stages:
    build_st, run_st = stages[0], stages[-1]
    check("Dockerfile: multi-stage, built on debian:12, run on debian:12-slim",
          len(stages) >= 2 and build_st["image"] == "debian:12" and run_st["image"] == "debian:12-slim",
          " -> ".join(s["image"] for s in stages))
    users = [a for _, i, a in run_st["ins"] if i == "USER"]
    check("Dockerfile: the runtime stage runs as a non-root user",
          bool(users) and users[-1].split(":")[0] not in ("root", "0"), f"USER {users}")
    copies = [a for _, i, a in run_st["ins"] if i == "COPY" and "--from=" in a]
    check("Dockerfile: the binaries go to /usr/local/bin of the runtime image",
          any(a.rstrip("/").endswith("/usr/local/bin") for a in copies), f"COPY --from: {copies}")
    ents = [a for _, i, a in run_st["ins"] if i in ("ENTRYPOINT",)]
    check("Dockerfile: no ENTRYPOINT (compose's command: names the binary)", not ents, f"ENTRYPOINT {ents}")


def apt_packages(stage):
    pkgs = []
    for _, ins, args in stage["ins"]:
        if ins != "RUN":
            continue
        for seg in re.split(r"&&|\|\||;", args):
            w = shlex.split(seg)
            if len(w) >= 2 and w[0] in ("apt-get", "apt") and "install" in w:
                pkgs += [x for x in w[w.index("install") + 1:] if not x.startswith("-")]
    return pkgs


def deps_packages():
    text = open(os.path.join(SRC, "scripts", "deps.sh")).read()
    m = re.search(r"^PKGS=\((.*?)^\)", text, re.S | re.M)
    if not m:
        return None
    body = "\n".join(line.split("#", 1)[0] for line in m.group(1).splitlines())
    return body.split()


def base_packages():
    """What debian:12-slim has: the Essential and Priority required packages and everything they
    depend on (computed from this machine's dpkg status: the same release)."""
    out = run(["dpkg-query", "-W", "-f", "${Package}\t${Essential}\t${Priority}\t${Pre-Depends}, ${Depends}\n"]).stdout
    deps, todo = {}, []
    for line in out.splitlines():
        name, ess, prio, dep = (line.split("\t") + ["", "", ""])[:4]
        deps[name] = [alt.split("|")[0].split("(")[0].split(":")[0].strip() for alt in dep.split(",")]
        if ess == "yes" or prio == "required":
            todo.append(name)
    base = set()
    while todo:
        n = todo.pop()
        if n and n not in base:
            base.add(n)
            todo += deps.get(n, [])
    return base


BASE = base_packages()
SANITIZER_LIB = re.compile(r"^lib(asan|ubsan|lsan|tsan|hwasan|clang_rt)")
if stages:
    bpk, rpk = apt_packages(build_st), apt_packages(run_st)
    # the packages exist (in this Debian 12's apt lists: the same release as the images)
    lists = [f for f in os.listdir("/var/lib/apt/lists") if "_Packages" in f] if os.path.isdir("/var/lib/apt/lists") else []
    release = open("/etc/debian_version").read().strip() if os.path.exists("/etc/debian_version") else "?"
    if check("apt lists present on this machine (for apt-cache show)", bool(lists),
             "no /var/lib/apt/lists/*_Packages: run `apt-get update` first"):
        shown = set(re.findall(r"^Package: (\S+)$",
                               run(["apt-cache", "show", "--no-all-versions"] + bpk + rpk).stdout, re.M))
        missing = [p_ for p_ in bpk + rpk if p_ not in shown]
        check(f"Dockerfile: every apt package exists (apt-cache show; this machine: Debian {release})",
              not missing and release.startswith("12"),
              ("not found: " + " ".join(missing)) if missing else
              ("" if release.startswith("12") else "not Debian 12: package names not comparable"))
    # build stage = the build packages of scripts/deps.sh (not its servers, sanitizer and fuzz tools)
    dp = deps_packages()
    if check("scripts/deps.sh: PKGS=(...) found", dp is not None):
        want = {x for x in dp if (x.endswith("-dev") or x in ("build-essential", "cmake", "pkg-config",
                                                              "protobuf-c-compiler"))
                and not x.startswith("libclang-rt")}
        check("Dockerfile: the build stage installs exactly the build packages of scripts/deps.sh",
              set(bpk) == want,
              f"only in deps.sh: {sorted(want - set(bpk))}; only in the Dockerfile: {sorted(set(bpk) - want)}")
    check("Dockerfile: the runtime stage installs no -dev package and no compiler",
          not [x for x in rpk if x.endswith("-dev") or x in ("build-essential", "cmake", "gcc", "clang")],
          " ".join(rpk))
    check("Dockerfile: the runtime stage has curl (the compose health checks use it)", "curl" in rpk)
    # every shared library the binaries link comes from a runtime package (or the base image)
    problems, seen = [], {}
    for name, path in sorted(BINARIES.items()):
        needed = re.findall(r"\(NEEDED\).*\[(.+?)\]", run(["readelf", "-d", path]).stdout)
        ldd = dict(re.findall(r"^\s*(\S+) => (\S+)", run(["ldd", path]).stdout, re.M))
        for so in needed:
            if SANITIZER_LIB.match(so):
                continue  # sanitizer builds (build-asan/): not what the image builds
            if so in seen:
                continue
            lib = ldd.get(so)
            pkg = None
            cands = [lib, os.path.realpath(lib)] if lib else []
            cands += [c.replace("/usr/lib/", "/lib/", 1) if c.startswith("/usr/lib/") else "/usr" + c
                      for c in list(cands)]
            for c in cands + [f"*/{so}"]:
                q = run(["dpkg", "-S", c])
                if q.returncode == 0:
                    pkg = q.stdout.split(":")[0].split(",")[0].strip()
                    break
            seen[so] = pkg
            if not pkg:
                problems.append(f"{name}: {so} ({lib}) belongs to no package")
                continue
            if pkg in rpk:
                continue
            if pkg not in BASE:
                problems.append(f"{name}: {so} is in {pkg}, which the runtime stage does not install")
    check("Dockerfile: the runtime stage installs every library the binaries link",
          not problems, "\n".join(problems) or ", ".join(f"{k}={v}" for k, v in sorted(seen.items())))

# ------------------------------------------------------------------ build steps
REC = os.path.join(TMP, "cmake.rec")
RECORDER = 'cmake() { local a; for a in "$@"; do printf "%s\\037" "$a"; done >>"$REC"; printf "\\n" >>"$REC"; }; '


def record(script, extra_env=None):
    """Runs bash SCRIPT with cmake replaced by a recorder; returns the argv lists."""
    if os.path.exists(REC):
        os.unlink(REC)
    env = dict(os.environ, REC=REC, **(extra_env or {}))
    p = run(["bash", "-c", RECORDER + 'die() { :; }; ' + script], env=env, cwd=TMP, timeout=30)
    if p.returncode != 0:
        raise ValueError(f"bash exited {p.returncode}: {p.stderr.strip()}")
    if not os.path.exists(REC):
        return []
    calls = []
    for line in open(REC).read().splitlines():
        args = line.split("\037")[:-1]
        norm, skip = [], False
        for i, a in enumerate(args):
            if skip:
                skip = False
                continue
            if re.fullmatch(r"-j\d*|--parallel(=\d+)?", a):
                norm.append("-j")  # the job count depends on the machine
                if i + 1 < len(args) and args[i + 1].isdigit():
                    skip = True
                continue
            norm.append(a)
        calls.append(norm)
    return calls


def cmake_segments(text):
    """The commands of a shell text whose first word is cmake."""
    segs = []
    for seg in re.split(r"&&|\|\||;|\n", text):
        s = seg.strip()
        if re.match(r"cmake(\s|$)", s):
            segs.append(s)
    return segs


def fmt(calls):
    return " && ".join(shlex.join(["cmake"] + c) for c in calls) or "(none)"


steps = {}
# the Dockerfile: cmake commands of its RUNs, which must run at the root of the copied sources
try:
    dcalls, wd, copied_root = [], None, False
    for _, ins, args in (stages[0]["ins"] if stages else []):
        if ins == "WORKDIR":
            wd, copied_root = args, False
        elif ins == "COPY" and "--from" not in args:
            w = shlex.split(args)
            w = [x for x in w if not x.startswith("--")]
            if w[:-1] == ["."] and w[-1] in (".", "./", wd, (wd or "") + "/"):
                copied_root = True
        elif ins == "RUN" and cmake_segments(args):
            check("Dockerfile: cmake runs at the root of the copied sources (WORKDIR + COPY . .)",
                  copied_root, f"WORKDIR {wd}")
            dcalls += record("\n".join(cmake_segments(args)))
    steps["Dockerfile"] = dcalls
except ValueError as e:
    check("Dockerfile: cmake commands can be replayed", False, str(e))

# scripts/up.sh: its lines that start with cmake
try:
    up = open(os.path.join(SRC, "scripts", "up.sh")).read()
    lines = [l.strip() for l in up.splitlines() if re.match(r"\s*cmake\s", l)]
    steps["scripts/up.sh"] = record("\n".join(lines))
except (OSError, ValueError) as e:
    check("scripts/up.sh: cmake commands can be replayed", False, str(e))

# scripts/test.sh: its build() helper, called as the normal build stage calls it
try:
    ts = open(os.path.join(SRC, "scripts", "test.sh")).read()
    fn = re.search(r"^build\(\)\s*\{.*?^\}", ts, re.S | re.M)
    call = re.search(r'stage\s+"build \(RelWithDebInfo\)"\s+(build\s+[^;\n]*?)\s*;\s*then', ts)
    if not fn or not call:
        raise ValueError("no build() function or no `stage \"build (RelWithDebInfo)\" build ...; then` line")
    steps["scripts/test.sh (normal build)"] = record(fn.group(0) + "\n" + call.group(1), {"JOBS": "2"})
except (OSError, ValueError) as e:
    check("scripts/test.sh: the normal build can be replayed", False, str(e))

# docs/operations.md: the cmake commands of its "### Running it with docker-compose" part
readme = open(os.path.join(SRC, "docs", "operations.md")).read()
m = re.search(r"^## Running it\s*$(.*?)(?=^## |\Z)", readme, re.S | re.M)
part = re.search(r"^### Running it with docker-compose\s*$(.*?)(?=^##|\Z)", m.group(1) if m else "", re.S | re.M)
check('docs/operations.md: "### Running it with docker-compose" under "## Running it"', part is not None)
if part:
    fences = re.findall(r"^```[a-z]*\n(.*?)^```", part.group(1), re.S | re.M)
    segs = cmake_segments("\n".join(fences))
    if segs:
        try:
            steps["docs/operations.md (docker-compose part)"] = record("\n".join(segs))
        except ValueError as e:
            check("docs/operations.md: cmake commands can be replayed", False, str(e))

ref = steps.get("Dockerfile")
check("Dockerfile: has cmake configure + build commands", bool(ref), fmt(ref or []))
for where, calls in steps.items():
    if where != "Dockerfile" and ref:
        check(f"build steps: Dockerfile = {where}", calls == ref,
              f"Dockerfile: {fmt(ref)}\n{where}: {fmt(calls)}")

# ------------------------------------------------------------------ summary
failed = sum(1 for ok, _, _ in RESULTS if not ok)
print(f"\n{len(RESULTS) - failed} passed, {failed} failed")
subprocess.run(["rm", "-rf", TMP])
sys.exit(1 if failed else 0)
