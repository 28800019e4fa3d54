#!/usr/bin/env python3
"""Child of the signal examples: installs a handler for SIGUSR1 and waits for it.

Prints each step (flushed, so that the parent can read a line and know where
the child is), then waits at most TIMEOUT seconds (first argument, default 10)
for the signal, and says whether it came (as `signal_child.py` of PyMOTW-3's
subprocess chapter does, which sleeps 3 seconds instead of returning as soon
as the signal arrived).
"""

import os
import signal
import sys
import time

pid = os.getpid()
timeout = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
received = False


def on_usr1(signum, frame):
    global received
    received = True
    print("CHILD {:>6}: Received USR1".format(pid), flush=True)


print("CHILD {:>6}: Setting up signal handler".format(pid), flush=True)
signal.signal(signal.SIGUSR1, on_usr1)
print("CHILD {:>6}: Pausing to wait for signal".format(pid), flush=True)

deadline = time.monotonic() + timeout
while not received and time.monotonic() < deadline:
    time.sleep(0.01)

if not received:
    print("CHILD {:>6}: Never received signal".format(pid), flush=True)
