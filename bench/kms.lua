-- wrk script for the swift-kms benchmark (bench/run.sh).
--
-- Replays ONE pre-built HTTP request (method, headers and body exactly as
-- written by `kmsbench.py sign`) on every connection, counts responses whose
-- status is not 200, and prints one machine-readable line at the end:
--
--   BENCH_RESULT {"requests":...,"rps":...,"p99_us":...,"non200":...,...}
--
-- The request file is named by the environment variable BENCH_REQUEST_FILE.
-- Its format: line 1 = method, line 2 = path, then "Name: value" header lines,
-- an empty line, then the body (raw bytes up to end of file).

local request_file = os.getenv("BENCH_REQUEST_FILE")
if request_file == nil or request_file == "" then
   error("BENCH_REQUEST_FILE is not set")
end

local function load_request(path)
   local f = assert(io.open(path, "rb"))
   local method = f:read("*l")
   local req_path = f:read("*l")
   local headers = {}
   while true do
      local line = f:read("*l")
      if line == nil or line == "" then break end
      local name, value = line:match("^([^:]+):%s?(.*)$")
      if name == nil then error("bad header line in " .. path .. ": " .. line) end
      headers[name] = value
   end
   local body = f:read("*a")
   f:close()
   return method, req_path, headers, body
end

-- Runs at load time in every thread's Lua state (and the setup/done state).
-- wrk builds the request once from these fields; the path comes from the URL.
local method, _, headers, body = load_request(request_file)
wrk.method = method
wrk.headers = headers
if body ~= nil and body ~= "" then wrk.body = body end

-- ---- per-thread counters (globals, so done() can read them via thread:get) --
non200 = 0
first_error = ""
status_counts = {}

function response(status, _headers, resp_body)
   if status ~= 200 then
      non200 = non200 + 1
      local key = tostring(status)
      status_counts[key] = (status_counts[key] or 0) + 1
      if first_error == "" then
         first_error = key .. " " .. string.sub(resp_body or "", 1, 400)
      end
   end
end

-- ---- setup / done run in a separate Lua state --------------------------------
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

local function json_string(s)
   s = tostring(s)
   s = s:gsub('\\', '\\\\'):gsub('"', '\\"')
   s = s:gsub('[%c\128-\255]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. s .. '"'
end

function done(summary, latency, _requests)
   local total_non200 = 0
   local sample = ""
   local statuses = {}
   for _, thread in ipairs(threads) do
      total_non200 = total_non200 + (thread:get("non200") or 0)
      local e = thread:get("first_error") or ""
      if sample == "" and e ~= "" then sample = e end
      local sc = thread:get("status_counts") or {}
      for k, v in pairs(sc) do statuses[k] = (statuses[k] or 0) + v end
   end
   local status_parts = {}
   for k, v in pairs(statuses) do
      table.insert(status_parts, json_string(k) .. ":" .. string.format("%d", v))
   end

   local secs = summary.duration / 1e6
   local rps = 0
   if secs > 0 then rps = summary.requests / secs end
   local e = summary.errors
   local fields = {
      string.format('"requests":%d', summary.requests),
      string.format('"duration_us":%d', summary.duration),
      string.format('"bytes":%d', summary.bytes),
      string.format('"rps":%.2f', rps),
      string.format('"latency_min_us":%d', latency.min),
      string.format('"latency_mean_us":%.2f', latency.mean),
      string.format('"latency_max_us":%d', latency.max),
      string.format('"p50_us":%d', latency:percentile(50)),
      string.format('"p90_us":%d', latency:percentile(90)),
      string.format('"p99_us":%d', latency:percentile(99)),
      string.format('"p999_us":%d', latency:percentile(99.9)),
      string.format('"non200":%d', total_non200),
      '"status_counts":{' .. table.concat(status_parts, ",") .. '}',
      '"error_sample":' .. json_string(sample),
      string.format('"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d}',
                    e.connect, e.read, e.write, e.timeout),
      string.format('"status_errors":%d', e.status),
   }
   io.write("BENCH_RESULT {" .. table.concat(fields, ",") .. "}\n")
end
