-- Shared by get.lua and put.lua: user names and a JSON summary line at the end.
-- Users are "bench" + the decimal number with digits spelled as letters (0 -> a ... 9 -> j),
-- the same names benchmarks/app.yml inserts before the run (WRK_USERS of them).
local M = {}

M.users = tonumber(os.getenv("WRK_USERS") or "10000")

function M.name(i)
  return "bench" .. (tostring(i):gsub("%d", function(d) return string.char(97 + tonumber(d)) end))
end

-- One line the playbook parses: requests/s, latency percentiles (ms) and every kind of failure.
function M.done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_s": %.3f, "rps": %.1f, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, '
      .. '"max_ms": %.3f, "non_2xx_3xx": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end

return M
