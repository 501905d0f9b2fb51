"""Reads the wrk runs scripts/bench saved (target/bench/{rust,typescript}.wrk, .rss,
.errors) into target/bench/load.json."""

import json
import re
import sys


def ms(value):
    number, unit = re.match(r"([\d.]+)(us|ms|s)$", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def percentile(text, p):
    return ms(re.search(rf"^\s+{p}%\s+(\S+)\s*$", text, re.MULTILINE).group(1))


result = {"threads": int(sys.argv[1]), "connections": int(sys.argv[2]), "duration": sys.argv[3]}
for name in ["rust", "typescript"]:
    text = open(f"target/bench/{name}.wrk").read()
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    result[name] = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "p50_ms": percentile(text, 50),
        "p99_ms": percentile(text, 99),
        "rss_mib": int(open(f"target/bench/{name}.rss").read()) / 1024,
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }
json.dump(result, open("target/bench/load.json", "w"), indent=2)
print(json.dumps(result, indent=2))
