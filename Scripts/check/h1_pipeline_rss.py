"""Resident memory of a running rerankd under HTTP/1.1 pipelining slow readers (loopback only, bounded in time).

CONNECTIONS clients each send REQUESTS pipelined POST /v2/rerank requests at once, every one asking for its
~1.4 MB of documents back (return_documents), and never read a byte. The server's VmRSS is sampled every second
for SECONDS; then the clients close and it is sampled for AFTER more seconds. Prints one JSON line: baseline,
peak, and RSS after the clients went away. Standard library only.
  python3 Scripts/check/h1_pipeline_rss.py PORT SERVER_PID [CONNECTIONS] [REQUESTS] [SECONDS] [AFTER]
"""
import json
import socket
import sys
import time

from proc_status import rss_mib


def request_bytes():
    # 20 documents of ~70 kB each: cut to 200 words for scoring, echoed whole in the answer.
    words = " ".join(f"word{i % 997}" for i in range(8000))
    body = json.dumps({"query": "what is a word", "return_documents": True,
                       "documents": [f"{n} {words}" for n in range(20)]}).encode()
    head = (f"POST /v2/rerank HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return head + body


def main():
    port, pid = int(sys.argv[1]), int(sys.argv[2])
    connections = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    requests = int(sys.argv[4]) if len(sys.argv) > 4 else 30
    seconds = int(sys.argv[5]) if len(sys.argv) > 5 else 60
    after = int(sys.argv[6]) if len(sys.argv) > 6 else 15
    baseline = rss_mib(pid)
    one = request_bytes()
    clients = []
    for _ in range(connections):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 10)
        s.setblocking(False)
        clients.append([s, memoryview(one * requests), 0])
    peak, samples, started = baseline, [], time.time()
    next_sample = started
    while time.time() - started < seconds:
        for client in clients:  # push what the server reads; read nothing back
            s, data, sent = client
            if sent < len(data):
                try:
                    client[2] += s.send(data[sent:sent + (1 << 20)])
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    client[2] = len(data)
        if time.time() >= next_sample:
            rss = rss_mib(pid)
            samples.append(round(rss))
            peak = max(peak, rss)
            next_sample += 1
        time.sleep(0.01)
    for s, _, _ in clients:
        s.close()
    time.sleep(after)
    print(json.dumps({"connections": connections, "requests_each": requests, "request_bytes": len(one),
                      "baseline_mib": round(baseline), "peak_mib": round(peak), "after_mib": round(rss_mib(pid)),
                      "samples_mib": samples}))


if __name__ == "__main__":
    main()
