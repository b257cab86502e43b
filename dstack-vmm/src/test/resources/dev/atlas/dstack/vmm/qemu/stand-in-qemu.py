#!/usr/bin/python3
# A stand-in for qemu-system-x86_64 in the qemu backend's lifecycle tests (QemuBackendLifecycleTest): it records its
# arguments to ./stand-in-args.json (the VM work directory is its cwd), writes "serial" output to the -chardev
# logfile= path, prints to stdout/stderr, serves QMP on the -qmp unix: socket (greeting, qmp_capabilities,
# quit / system_powerdown -> exit 0), exits 0 on SIGTERM like QEMU ("terminating on signal 15").
# Behaviour switches, files in the work directory: stand-in-crash (exit 3 at once while ./stand-in-runs has fewer
# lines than the number in the file), stand-in-ignore-term (SIGTERM is ignored, so only SIGKILL ends it).
import json, os, signal, socket, sys

args = sys.argv[1:]
with open("stand-in-args.json", "w") as f:
    json.dump(args, f)
with open("stand-in-runs", "a") as f:
    f.write("run\n")

def opt(name):
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == name]

serial = None
for c in opt("-chardev"):
    for part in c.split(","):
        if part.startswith("logfile="):
            serial = part[len("logfile="):]
if serial:
    with open(serial, "a") as f:
        f.write("SeaBIOS (stand-in)\nBooting dstack guest, cid %s\n" % ",".join(opt("-device")))
print("stand-in qemu pid %d" % os.getpid(), flush=True)

if os.path.exists("stand-in-crash"):
    runs = len(open("stand-in-runs").read().splitlines())
    if runs <= int(open("stand-in-crash").read().strip() or "0"):
        print("stand-in crash %d" % runs, file=sys.stderr, flush=True)
        sys.exit(3)

def on_term(signum, frame):
    print("qemu-system-x86_64: terminating on signal 15 from pid %d" % os.getppid(), file=sys.stderr, flush=True)
    sys.exit(0)

if os.path.exists("stand-in-ignore-term"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:
    signal.signal(signal.SIGTERM, on_term)

qmp = [q for q in opt("-qmp")]
if qmp:
    path = qmp[0][len("unix:"):].split(",")[0]
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    print("stand-in qmp ready", flush=True)
    while True:
        conn, _ = srv.accept()
        f = conn.makefile("rwb", buffering=0)
        f.write(b'{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 9}}, "capabilities": []}}\n')
        for line in f:
            cmd = json.loads(line).get("execute")
            f.write(b'{"return": {}}\n')
            if cmd in ("quit", "system_powerdown"):
                print("stand-in qmp %s" % cmd, flush=True)
                conn.close()
                os.unlink(path)
                sys.exit(0)
        conn.close()
else:
    print("stand-in running", flush=True)
    while True:
        signal.pause()
