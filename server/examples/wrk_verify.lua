-- wrk script: POST /v2/keys.verifyKey with a key and root key from the environment.
--   KEY=sk_... ROOT_KEY=... wrk -t2 -c32 -d10s -s server/examples/wrk_verify.lua http://127.0.0.1:7070
wrk.method = "POST"
wrk.path = "/v2/keys.verifyKey"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("ROOT_KEY") or "none")
wrk.body = '{"key":"' .. (os.getenv("KEY") or "none") .. '"}'

done = function(summary, latency, requests)
  io.write(string.format("requests/s: %.0f  p50: %.2f ms  p99: %.2f ms  errors: %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
