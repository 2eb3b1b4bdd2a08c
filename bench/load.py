"""Drive a server with wrk: one Lua script per case, results read from the script's `done` hook."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.cases import Case

# `request` builds each request (random ids, bodies, auth header); `done` prints the summary as JSON
# so nothing depends on wrk's human-readable output.
_SCRIPT = """
local method = %(method)s
local path = %(path)s
local body = %(body)s
local headers = %(headers)s
local max_id = %(max_id)d

math.randomseed(os.time())

request = function()
  local id = tostring(math.random(1, max_id))
  local p = path:gsub("{id}", id)
  local b = nil
  if body ~= nil then b = body:gsub("{rand}", tostring(math.random(0, 99999))) end
  return wrk.format(method, p, headers, b)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nBENCH-JSON {"requests":%%d,"duration_us":%%d,"connect":%%d,"read":%%d,"write":%%d,' ..
    '"status":%%d,"timeout":%%d,"p50_us":%%d,"p99_us":%%d,"max_us":%%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass
class LoadResult:
    """What wrk measured for one case on one server."""

    requests: int
    seconds: float
    errors: int
    non_2xx: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


def _lua(value: str | None) -> str:
    return "nil" if value is None else json.dumps(value)


def _lua_table(headers: dict[str, str]) -> str:
    return "{" + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()) + "}"


def ensure_wrk() -> str:
    """Return the path of wrk, or explain how to install it."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: run bench/ensure_wrk.sh (as root) or apt-get install wrk")
    return found


def run_wrk(
    base_url: str,
    case: Case,
    headers: dict[str, str],
    *,
    seconds: float,
    connections: int,
    threads: int,
    max_id: int,
) -> LoadResult:
    """Run wrk against one case for `seconds` and return its summary."""
    all_headers = {**case.headers, **headers}
    script = _SCRIPT % {
        "method": _lua(case.method),
        "path": _lua(case.path),
        "body": _lua(case.body),
        "headers": _lua_table(all_headers),
        "max_id": max_id,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        script_path = Path(handle.name)
    try:
        command = [
            ensure_wrk(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script_path),
            base_url,
        ]
        out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60)
    finally:
        script_path.unlink(missing_ok=True)
    line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH-JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out.stdout}\n{out.stderr}")
    data = json.loads(line.removeprefix("BENCH-JSON "))
    socket_errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=socket_errors + data["status"],
        non_2xx=data["status"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
    )
