-- wrk script of the AI throughput rows: every call POSTs one non-streaming chat completion.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"gpt-bench","messages":[{"role":"user","content":"Say hello."}]}'
