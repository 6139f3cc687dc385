-- wrk script for bench/load_client.py: every request comes from its own
-- client address (X-Forwarded-For, trusted from the loopback proxy), so the
-- per-IP rate limit runs with its storage but never refuses; one header line
-- can be added through the WRK_HEADER environment variable ("Name: value").
-- At the end, one JSON line with throughput, latency percentiles and errors.

local counter = 0
local extra_name, extra_value = nil, nil

function init(args)
  local header = os.getenv("WRK_HEADER")
  if header and header ~= "" then
    extra_name, extra_value = header:match("^([^:]+):%s*(.*)$")
  end
end

function request()
  counter = counter + 1
  local id = math.random(1, 250) .. "." .. math.random(0, 255) .. "." .. (counter % 256)
  local headers = { ["X-Forwarded-For"] = "10." .. id, ["X-Forwarded-Proto"] = "https" }
  if extra_name then headers[extra_name] = extra_value end
  return wrk.format("GET", nil, headers)
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.2f, "p95_ms": %.2f, ' ..
    '"p99_ms": %.2f, "max_ms": %.2f, "non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
