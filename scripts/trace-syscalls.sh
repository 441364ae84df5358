#!/usr/bin/env bash
# Traces the system calls Kiln's toolchains and workspace tools make, to derive
# (and re-derive, or extend) the seccomp allowlist in
# crates/sandbox/src/seccomp/tables.rs. See docs/seccomp.md.
#
# Every program of the project's own corpus (crates/lang/testdata,
# loadtest/corpus, examples/) is compiled and run with the catalogue's
# commands (crates/lang/src/builtin.rs) under `strace -f -c`, in a scratch
# directory, with the box's environment (PATH, HOME=TMPDIR=scratch, LANG and
# the language's own variables); then what workspaces run interactively: a
# shell with coreutils, git, python3 -m venv / pip, the standard libraries of
# Python and Node (threads, subprocesses, sockets, asyncio), and bash and the
# Python REPL on a terminal. Prints the union of the syscall names, sorted, one
# a line, on stdout; progress goes to stderr.
#
# Usage:
#   scripts/trace-syscalls.sh [--keep DIR] [--check] [GROUP...]
#   scripts/trace-syscalls.sh [--keep DIR] [--check] -- COMMAND [ARG...]
#
#   GROUP      python javascript c cpp java rust go bash ruby php perl lua
#              interactive (default: all of them)
#   -- CMD     trace one command instead (run in the current directory), e.g.
#              a new language's compiler and its hello:
#                scripts/trace-syscalls.sh -- ocamlfind ocamlopt -o hello hello.ml
#   --keep DIR keep the per-step traces (DIR/<step>.names, .strace, .out)
#   --check    also print, on stderr, every traced name that is neither in the
#              allowlist nor in the refused lists of seccomp/tables.rs; exit 1 if any
#
# Needs strace (apt-get install -y strace) and the toolchains
# (scripts/install-toolchains.sh). Runs as any user; nothing outside the
# scratch directory is written. Takes a few minutes (javac and a cold `go
# build` dominate).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECCOMP_DIR="$ROOT/crates/sandbox/src/seccomp"
keep=""
check=0
groups=()
command_mode=0
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=${2:?--keep needs a directory}; shift 2 ;;
    --check) check=1; shift ;;
    --) command_mode=1; shift; break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *) groups+=("$1"); shift ;;
  esac
done
if [ $command_mode = 1 ] && [ $# -eq 0 ]; then
  echo "-- needs a command to trace" >&2; exit 2
fi

command -v strace >/dev/null || { echo "strace not found: apt-get install -y strace" >&2; exit 1; }

SCRATCH=$(mktemp -d /tmp/kiln-trace.XXXXXX)
cleanup() { rm -rf "$SCRATCH"; }
trap cleanup EXIT
OUT=${keep:-$SCRATCH/traces}
mkdir -p "$OUT"

# The box's environment (crates/lang: PATH, HOME, TMPDIR and LANG for all).
BOX_PATH=/usr/local/bin:/usr/bin:/bin
base_env() {
  echo "PATH=$BOX_PATH" "HOME=$1" "TMPDIR=$1" "LANG=C.UTF-8"
}

# trace STEP DIR STDIN [VAR=VALUE...] -- COMMAND...: runs COMMAND in DIR with
# a clean environment under strace -f -c and records the syscall names in
# $OUT/STEP.names. A failing command is expected (compile errors, runtime
# errors) and only noted.
trace() {
  local step=$1 dir=$2 input=$3; shift 3
  local vars=()
  while [ "$1" != "--" ]; do vars+=("$1"); shift; done
  shift
  local rc=0
  (cd "$dir" && env -i $(base_env "$dir") "${vars[@]}" \
      strace -f -qq -c -U name -o "$OUT/$step.strace" "$@" <"$input" >"$OUT/$step.out" 2>&1) || rc=$?
  names_of "$OUT/$step.strace" >"$OUT/$step.names"
  last_rc=$rc
  printf '  %-40s %3d syscalls%s\n' "$step" "$(wc -l <"$OUT/$step.names")" \
    "$([ $rc = 0 ] || echo " (exit $rc)")" >&2
}

# The names column of `strace -c -U name`, without its header and total.
names_of() {
  grep -v -e '^syscall$' -e '^-' -e '^total$' "$1" | sed 's/ *$//' | grep . || true
}

if [ $command_mode = 1 ]; then
  echo "tracing: $*" >&2
  strace -f -qq -c -U name -o "$OUT/command.strace" "$@" >&2 || echo "  (exit $?)" >&2
  names_of "$OUT/command.strace" >"$OUT/command.names"
else
  ALL=(python javascript c cpp java rust go bash ruby php perl lua interactive)
  [ ${#groups[@]} -gt 0 ] || groups=("${ALL[@]}")
  for g in "${groups[@]}"; do
    case " ${ALL[*]} " in *" $g "*) ;; *) echo "unknown group $g (one of: ${ALL[*]})" >&2; exit 2 ;; esac
  done

  # Tools as a box sees them: /usr/bin first; rustc is Debian's or the real
  # binary of the rustup toolchain (never the rustup proxy), as detection does.
  RUSTC=/usr/bin/rustc
  if [ ! -x "$RUSTC" ]; then
    proxy=$(command -v rustc || echo "${HOME:-/root}/.cargo/bin/rustc")
    RUSTC="$("$proxy" --print sysroot)/bin/rustc"
  fi
  GOROOT_ENV=()
  if [ -x /usr/bin/go ]; then GOROOT_ENV=("GOROOT=$(/usr/bin/go env GOROOT)"); fi
  HEAP_MB=256

  ext_of() {
    case "$1" in
      python) echo py ;; javascript) echo js ;; c) echo c ;; cpp) echo cpp ;;
      java) echo java ;; rust) echo rs ;; go) echo go ;; bash) echo sh ;;
      ruby) echo rb ;; php) echo php ;; perl) echo pl ;; lua) echo lua ;;
    esac
  }

  # The catalogue's commands (crates/lang/src/builtin.rs); $main is the main
  # file, $files every source file of the language.
  lang_env() {
    case "$1" in
      python) echo PYTHONDONTWRITEBYTECODE=1 PYTHONNOUSERSITE=1 ;;
      javascript) echo NODE_REPL_HISTORY= ;;
      go) echo "GOCACHE=$2/go-cache GOPATH=$2/go GO111MODULE=off GOFLAGS=-buildvcs=false GOTELEMETRY=off ${GOROOT_ENV[*]}" ;;
    esac
  }
  compile_cmd() {
    local lang=$1 main=$2; shift 2
    case "$lang" in
      c) echo /usr/bin/gcc -O2 -std=c17 -o main "$@" -lm ;;
      cpp) echo /usr/bin/g++ -O2 -std=c++20 -o main "$@" ;;
      java) echo /usr/bin/javac "-J-Xmx${HEAP_MB}m" -J-XX:+UseSerialGC -J-XX:TieredStopAtLevel=1 \
              -J-XX:-UsePerfData -encoding UTF-8 -d . "$@" ;;
      rust) echo "$RUSTC" -O --edition 2021 -C linker=/usr/bin/gcc -o main "$main" ;;
      go) echo /usr/bin/go build -o main "$@" ;;
    esac
  }
  run_cmd() {
    local lang=$1 main=$2
    case "$lang" in
      python) echo /usr/bin/python3 -B "$main" ;;
      javascript) echo /usr/bin/node "$main" ;;
      c|cpp|rust|go) echo ./main ;;
      java) echo /usr/bin/java "-Xmx${HEAP_MB}m" -Xss64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
              -XX:-UsePerfData -Dfile.encoding=UTF-8 -cp . "${main%.java}" ;;
      bash) echo /usr/bin/bash "$main" ;;
      ruby) echo /usr/bin/ruby "$main" ;;
      php) echo /usr/bin/php -d display_errors=stderr -d log_errors=0 "$main" ;;
      perl) echo /usr/bin/perl "$main" ;;
      lua) echo /usr/bin/lua5.4 "$main" ;;
    esac
  }

  # One program: $src holds its files (and maybe the corpus's input.txt).
  trace_program() {
    local lang=$1 step=$2 src=$3 main=$4
    local dir="$SCRATCH/work/$step"
    rm -rf "$dir"; mkdir -p "$dir"
    cp -r "$src"/. "$dir"/
    local ext; ext=$(ext_of "$lang")
    local files=()
    for f in "$dir"/*."$ext"; do files+=("$(basename "$f")"); done
    local input=/dev/null
    [ -f "$dir/input.txt" ] && input="$dir/input.txt"
    [ "$step" = "${step%echo}" ] || { printf 'line one\r\nNUL\0 and no final newline' >"$dir/stdin.bin"; input="$dir/stdin.bin"; }
    # shellcheck disable=SC2046 # word splitting of the command lines is intended
    local c; c=$(compile_cmd "$lang" "$main" "${files[@]}")
    last_rc=0
    if [ -n "$c" ]; then
      trace "$step.compile" "$dir" /dev/null $(lang_env "$lang" "$dir") -- $c
    fi
    if [ $last_rc = 0 ]; then
      trace "$step.run" "$dir" "$input" $(lang_env "$lang" "$dir") -- $(run_cmd "$lang" "$main")
    fi
  }

  trace_language() {
    local lang=$1 ext; ext=$(ext_of "$lang")
    local td="$ROOT/crates/lang/testdata/$lang"
    for kind in hello echo runtime_error compile_error; do
      local s="$SCRATCH/src/$lang-$kind"; rm -rf "$s"; mkdir -p "$s"
      if [ "$lang" = java ]; then
        [ -d "$td/$kind" ] || continue
        cp "$td/$kind/Main.java" "$s/"; trace_program java "$lang.testdata.$kind" "$s" Main.java
      else
        [ -f "$td/$kind.$ext" ] || continue
        cp "$td/$kind.$ext" "$s/main.$ext"; trace_program "$lang" "$lang.testdata.$kind" "$s" "main.$ext"
      fi
    done
    for d in "$ROOT/loadtest/corpus/$lang"/*/; do
      [ -d "$d" ] || continue
      local main="main.$ext"; [ "$lang" = java ] && main=Main.java
      trace_program "$lang" "$lang.corpus.$(basename "$d")" "$d" "$main"
    done
    local ex="$ROOT/examples/hello.$ext"
    if [ -f "$ex" ]; then
      local s="$SCRATCH/src/$lang-example"; rm -rf "$s"; mkdir -p "$s"
      # Java's public class is named like its file (examples/hello.java: hello).
      local main="main.$ext"; [ "$lang" = java ] && main=hello.java
      cp "$ex" "$s/$main"; trace_program "$lang" "$lang.example.hello" "$s" "$main"
    fi
  }

  trace_interactive() {
    local dir="$SCRATCH/work/interactive"; rm -rf "$dir"; mkdir -p "$dir"
    local py=/usr/bin/python3
    # A shell and the coreutils people type in a workspace terminal.
    cat >"$dir/shell.sh" <<'EOF'
set -u
mkdir -p d/e && cd d && echo hello >f.txt && cp f.txt g.txt && mv g.txt e/h.txt
ln -s f.txt link && ln f.txt hard && readlink -f link && realpath e/h.txt
ls -la . e >/dev/null && ls -lR >/dev/null && stat f.txt >/dev/null && du -sh . >/dev/null && df -h . >/dev/null || true
chmod 600 f.txt && touch -d 2020-01-01 f.txt && cat f.txt link | wc -l
find . -name '*.txt' -type f | sort | uniq | xargs grep -l hello
printf 'b\na\nc\n' | sort -r | head -n 2 | tail -n 1 | tr a-z A-Z | cut -c1 | sed 's/A/x/' | awk '{print $1}'
seq 1 1000 | paste -sd+ | bc 2>/dev/null || expr 1 + 2
yes | head -c 10000 | md5sum >/dev/null; sha256sum f.txt | base64 | od -c | head -1 >/dev/null
tar czf a.tgz f.txt e && mkdir x && tar xzf a.tgz -C x && gzip -k f.txt && gunzip -c f.txt.gz >/dev/null
diff f.txt x/f.txt && cmp f.txt x/f.txt && tee t.txt <f.txt >/dev/null
date >/dev/null; date -u +%s >/dev/null; env >/dev/null; id; whoami 2>/dev/null; pwd; hostname 2>/dev/null; uname -a; nproc
sleep 0.1 & wait; timeout 1 sleep 5 || true; nohup true >/dev/null 2>&1
sleep 10 & kill $! ; wait 2>/dev/null || true
ps aux >/dev/null 2>&1 || true; top -b -n 1 >/dev/null 2>&1 || true; free >/dev/null 2>&1 || true
command -v ls; type cd; umask; ulimit -a >/dev/null; trap 'echo trapped' USR1; kill -USR1 $$
exec 3<f.txt; read -r line <&3; exec 3<&-; echo "$line"
mkfifo p && (echo through-fifo >p &) && cat p
rm -rf x a.tgz f.txt.gz p && rmdir e 2>/dev/null || rm -r e
EOF
    trace interactive.bash-coreutils "$dir" /dev/null -- /usr/bin/bash "$dir/shell.sh"
    trace interactive.sh-c "$dir" /dev/null -- /bin/sh -c 'cd /tmp && echo $(ls | head -1) >/dev/null; for i in 1 2; do true; done; exit 0'
    # git, as in a workspace: a repository, commits, branches, a local clone.
    cat >"$dir/git.sh" <<'EOF'
set -e
git config --global user.email box@kiln.invalid; git config --global user.name box
git config --global init.defaultBranch main
git init -q repo && cd repo && echo a >a && git add a && git commit -qm one
git checkout -qb side && echo b >>a && git commit -qam two && git checkout -q main
git merge -q side && git log --oneline >/dev/null && git status --short && git diff HEAD~1 >/dev/null
echo c >>a && git stash -q && git stash pop -q && git branch -a >/dev/null && git tag v1
cd .. && git clone -q repo clone && cd clone && git log -1 --format=%H >/dev/null && git gc -q
git grep -q a && git blame a >/dev/null && git show --stat >/dev/null
EOF
    trace interactive.git "$dir" /dev/null -- /usr/bin/bash "$dir/git.sh"
    # python3 -m venv and pip (no network in a box: an unreachable index).
    trace interactive.python-venv "$dir" /dev/null -- $py -m venv "$dir/venv"
    if [ -x "$dir/venv/bin/python" ]; then
      trace interactive.pip-version "$dir" /dev/null -- "$dir/venv/bin/python" -m pip --version
      trace interactive.pip-list "$dir" /dev/null -- "$dir/venv/bin/python" -m pip list
      trace interactive.pip-install "$dir" /dev/null -- "$dir/venv/bin/python" -m pip install \
        --retries 0 --timeout 2 --index-url http://127.0.0.1:9/simple kiln-no-such-package
    fi
    # The standard library's system-facing parts, as user programs use them.
    cat >"$dir/stdlib.py" <<'EOF'
import asyncio, concurrent.futures, hashlib, json, mmap, multiprocessing, os, resource
import select, shutil, signal, socket, sqlite3, subprocess, sys, tempfile, threading, time, zlib
def sq(x): return x * x
if __name__ == "__main__":
    with concurrent.futures.ThreadPoolExecutor(4) as ex: list(ex.map(sq, range(100)))
    with multiprocessing.Pool(2) as p: p.map(sq, range(10))
    subprocess.run(["echo", "sub"], capture_output=True, check=True)
    subprocess.run("true | cat", shell=True)
    a, b = socket.socketpair(); a.send(b"x"); select.select([b], [], [], 1); b.recv(1)
    s = socket.socket(); s.settimeout(1)
    try: s.connect(("127.0.0.1", 9))
    except OSError: pass
    srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(); srv.close()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b"x", ("127.0.0.1", 9)); u.close()
    async def main():
        await asyncio.sleep(0.01)
        p = await asyncio.create_subprocess_exec("true"); await p.wait()
    asyncio.run(main())
    d = tempfile.mkdtemp(); f = os.path.join(d, "f")
    with open(f, "wb") as fh: fh.write(os.urandom(1 << 16))
    shutil.copy(f, f + "2"); shutil.copytree(d, d + "-copy"); shutil.rmtree(d + "-copy")
    with open(f, "r+b") as fh:
        m = mmap.mmap(fh.fileno(), 0); m[0:1] = b"x"; m.flush(); m.close()
    list(os.scandir(d)); os.stat(f); os.utime(f); os.chmod(f, 0o600); os.rename(f, f + "3")
    db = sqlite3.connect(os.path.join(d, "db")); db.execute("create table t(x)"); db.commit(); db.close()
    signal.signal(signal.SIGALRM, lambda *a: None); signal.setitimer(signal.ITIMER_REAL, 0.01); time.sleep(0.05)
    resource.getrusage(resource.RUSAGE_SELF); resource.getrlimit(resource.RLIMIT_NOFILE); os.cpu_count()
    time.time(); time.monotonic(); time.process_time(); time.thread_time()
    hashlib.sha256(b"x").hexdigest(); zlib.compress(b"x" * 1000); json.dumps({"a": 1})
    os.getloadavg(); os.sched_getaffinity(0); os.nice(0); os.getppid(); os.getpgrp(); os.times()
    try: os.sched_yield()
    except Exception: pass
    print("stdlib ok")
EOF
    trace interactive.python-stdlib "$dir" /dev/null -- $py "$dir/stdlib.py"
    cat >"$dir/stdlib.js" <<'EOF'
const fs = require("fs"), cp = require("child_process"), http = require("http"), net = require("net");
const os = require("os"), crypto = require("crypto"), zlib = require("zlib");
const { Worker } = require("worker_threads");
fs.writeFileSync("n.txt", "x".repeat(100000)); fs.copyFileSync("n.txt", "m.txt"); fs.readdirSync(".");
fs.statSync("n.txt"); fs.renameSync("m.txt", "o.txt"); fs.unlinkSync("o.txt"); fs.mkdirSync("nd", { recursive: true });
cp.execSync("echo sub"); cp.spawnSync("true");
crypto.randomBytes(16); crypto.createHash("sha256").update("x").digest("hex"); zlib.gzipSync("x".repeat(1000));
os.cpus(); os.totalmem(); os.loadavg(); os.networkInterfaces(); os.hostname(); os.userInfo();
new Worker("require('worker_threads').parentPort.postMessage(1)", { eval: true }).on("message", () => {});
fs.promises.readFile("n.txt").then(() => fs.promises.rm("nd", { recursive: true }));
const c = net.connect(9, "127.0.0.1"); c.on("error", () => {});
const srv = http.createServer((q, s) => s.end("ok")).listen(0, "127.0.0.1", () => {
  http.get({ port: srv.address().port, host: "127.0.0.1" }, (r) => { r.resume(); r.on("end", () => srv.close()); });
});
setTimeout(() => console.log("stdlib ok"), 50);
EOF
    trace interactive.node-stdlib "$dir" /dev/null -- /usr/bin/node "$dir/stdlib.js"
    # A shell and the Python REPL on a terminal: script(1) makes the pty and
    # is not traced itself (strace cannot run under strace); only what runs
    # on the terminal is.
    if command -v script >/dev/null; then
      printf 'ls -la\necho $((6*7))\ncd /tmp; pwd\nstty -a >/dev/null\nsleep 0.1 & wait\nexit\n' >"$dir/pty-bash.in"
      printf 'import os\nprint(6*7)\nos.get_terminal_size()\nexit()\n' >"$dir/pty-python.in"
      local shell
      for shell in bash python; do
        local cmd="/usr/bin/bash -i"; [ $shell = python ] && cmd="$py -i"
        (cd "$dir" && env -i $(base_env "$dir") TERM=xterm /usr/bin/script -qec \
          "strace -f -qq -c -U name -o $OUT/interactive.pty-$shell.strace $cmd" /dev/null \
          <"$dir/pty-$shell.in" >"$OUT/interactive.pty-$shell.out" 2>&1) || true
        names_of "$OUT/interactive.pty-$shell.strace" >"$OUT/interactive.pty-$shell.names"
        printf '  %-40s %3d syscalls\n' "interactive.pty-$shell" "$(wc -l <"$OUT/interactive.pty-$shell.names")" >&2
      done
    fi
  }

  for g in "${groups[@]}"; do
    echo "tracing $g" >&2
    if [ "$g" = interactive ]; then trace_interactive; else trace_language "$g"; fi
  done
fi

union=$(cat "$OUT"/*.names | sort -u)
echo "$union"

if [ $check = 1 ]; then
  # Names the filter knows: the SYS_ names of the seccomp module (its tables).
  known=$(grep -rho 'SYS_[a-z0-9_]*' "$SECCOMP_DIR" | sed 's/^SYS_//' | sort -u)
  missing=$(comm -23 <(echo "$union") <(echo "$known"))
  if [ -n "$missing" ]; then
    echo "traced but neither allowed nor refused in $SECCOMP_DIR:" >&2
    echo "$missing" | sed 's/^/  /' >&2
    exit 1
  fi
  echo "every traced syscall is in $SECCOMP_DIR" >&2
fi
