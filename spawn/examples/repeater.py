#!/usr/bin/env python3
"""Child of the repeater examples: copies stdin to stdout, one line at a time.

Says on stderr when it starts and when it stops, which shows how long it lives
(as `repeater.py` of PyMOTW-3's subprocess chapter does).
"""

import sys

sys.stderr.write("repeater.py: starting\n")
sys.stderr.flush()

for line in sys.stdin:
    sys.stdout.write(line)
    sys.stdout.flush()

sys.stderr.write("repeater.py: exiting\n")
sys.stderr.flush()
