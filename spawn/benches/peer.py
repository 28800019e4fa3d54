"""Python's subprocess as a benchmark peer: `peer.py BENCH SIZE [N]` prints
one line `secs=<float> hwm_kib=<int>` for the measured part."""
import subprocess, sys, time

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0

bench, size = sys.argv[1], int(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 1
if bench == "spawn_true":
    t = time.perf_counter()
    for _ in range(n):
        subprocess.run(["/bin/true"], check=True)
    secs = (time.perf_counter() - t) / n
elif bench == "roundtrip":
    data = b"x" * size
    t = time.perf_counter()
    out = subprocess.run(["cat"], input=data, stdout=subprocess.PIPE, check=True).stdout
    # Done with the input within the timed part, as every contender is.
    del data
    secs = time.perf_counter() - t
    assert len(out) == size
elif bench == "oneway":
    t = time.perf_counter()
    out = subprocess.run(["head", "-c", str(size), "/dev/zero"], stdout=subprocess.PIPE, check=True).stdout
    secs = time.perf_counter() - t
    assert len(out) == size
else:
    raise SystemExit("unknown bench " + bench)
print(f"secs={secs} hwm_kib={hwm()}")
