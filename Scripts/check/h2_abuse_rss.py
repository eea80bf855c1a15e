"""Resident memory of a running rerankd under HTTP/2 abuse (loopback only, bounded in time).

  zero-window:  CONNECTIONS clients set SETTINGS_INITIAL_WINDOW_SIZE to 0 and open 128 streams each, asking
                for large responses (documents returned) that they never let the server send;
  held-bodies:  CONNECTIONS clients open 128 streams each and send ~1.9 MB of body per stream without ever
                ending it, pinging every 5 s.
Samples the server's VmRSS every second for SECONDS and prints one JSON line: baseline, peak, and when the
server closed the connections. Usage (needs the h2 package; the test venv has it):
  python Scripts/check/h2_abuse_rss.py MODE PORT SERVER_PID [CONNECTIONS] [SECONDS]
"""
import json
import socket
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from proc_status import rss_mib


class Client:
    def __init__(self, port, window=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=1)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        if window is not None:
            self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.flush()
        self.closed_at = None

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def poll(self):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return
        except OSError:
            data = b""
        if not data:
            self.closed_at = self.closed_at or time.time()
            return
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.ConnectionTerminated):
                self.closed_at = self.closed_at or time.time()
        try:
            self.flush()
        except OSError:
            self.closed_at = self.closed_at or time.time()


def zero_window(c):
    documents = ["rainbow light water " * 2500] * 8  # ~400 kB of documents returned per response
    body = json.dumps({"query": "rainbows", "documents": documents, "return_documents": True}).encode()
    for _ in range(128):
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(":method", "POST"), (":path", "/v1/rerank"), (":scheme", "http"),
                                  (":authority", "abuse"), ("content-type", "application/json")])
        send_body(c, sid, body, end=True)
    return c


def send_body(c, sid, body, end):
    """Sends as much of `body` as the windows allow, waiting for WINDOW_UPDATEs; gives up on a stream
    the server stopped reading."""
    sent, stalls = 0, 0
    while sent < len(body) and c.closed_at is None:
        window = min(c.conn.local_flow_control_window(sid), c.conn.max_outbound_frame_size, len(body) - sent)
        if window == 0:
            c.poll()
            stalls += 1
            if stalls > 20:
                return
            continue
        stalls = 0
        last = end and sent + window == len(body)
        c.conn.send_data(sid, body[sent:sent + window], end_stream=last)
        sent += window
        c.flush()
    c.poll()


def held_bodies(c):
    body = b"x" * 1_900_000
    for _ in range(128):
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(":method", "POST"), (":path", "/rerank"), (":scheme", "http"),
                                  (":authority", "abuse"), ("content-type", "application/json")])
        send_body(c, sid, body, end=False)
    return c


def main():
    mode, port, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    connections = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    seconds = int(sys.argv[5]) if len(sys.argv) > 5 else 45
    baseline = rss_mib(pid)
    started = time.time()
    clients = []
    lock = threading.Lock()

    def open_one():
        client = Client(port, window=0 if mode == "zero-window" else None)
        with lock:
            clients.append(client)
        try:
            (zero_window if mode == "zero-window" else held_bodies)(client)
        except (OSError, h2.exceptions.ProtocolError):
            client.closed_at = client.closed_at or time.time()  # the server cut the connection mid-attack

    threads = [threading.Thread(target=open_one) for _ in range(connections)]
    for t in threads:
        t.start()
    peak, samples = baseline, []
    last_ping = time.time()
    while time.time() - started < seconds:
        time.sleep(1)
        rss = rss_mib(pid)
        peak = max(peak, rss)
        samples.append(round(rss))
        with lock:
            for c in clients:
                if c.closed_at is None:
                    if mode == "held-bodies" and time.time() - last_ping > 5:
                        try:
                            c.conn.ping(b"12345678")
                        except Exception:
                            pass
                    c.poll()
        if time.time() - last_ping > 5:
            last_ping = time.time()
    for t in threads:
        t.join(timeout=1)
    closed = [round(c.closed_at - started, 1) for c in clients if c.closed_at]
    print(json.dumps({"mode": mode, "connections": connections, "baseline_mib": round(baseline),
                      "peak_mib": round(peak), "end_mib": round(rss_mib(pid)), "closed_after_s": sorted(closed),
                      "rss_every_second": samples}))


if __name__ == "__main__":
    main()
