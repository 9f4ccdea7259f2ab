"""`make bench`: every table (latency, heavy work, browser, memory, load, fuzz). Not part of `make test`.

Run one with `python -m benchmarks.latency` etc.; `python -m benchmarks quick`
uses smaller counts.
"""

import sys

from benchmarks import browser, fuzz, heavy, latency, load, memory
from benchmarks.common import machine

quick = sys.argv[1:2] == ["quick"]
print(f"# Benchmarks\n\nMachine: {machine()}")
latency.main(("en",), 2) if quick else latency.main()
heavy.main(("online_action",) if quick else ())
browser.main()
memory.main(100 if quick else 1000)
load.main("perceptron", 20, 3 if quick else 10)
fuzz.main(200 if quick else 10_000)
