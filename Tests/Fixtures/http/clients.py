"""Independent HTTP clients for HTTPServerTests: httpx (HTTP/1.1) and the h2 state machine over a
raw socket (HTTP/2 prior knowledge). Each mode prints one JSON object. Needs httpx and h2
(Scripts/fixtures/requirements-http.txt)."""
import json
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings


def httpx_mode(url):
    import httpx
    out = {}
    with httpx.Client(http2=False, headers={"accept-encoding": "gzip"}) as client:
        r = client.get(url + "/path?x=1")
        out["get"] = [r.status_code, r.http_version, r.headers.get("x-path"), r.headers.get("x-query"), r.text]
        r = client.post(url + "/post", json={"query": "q", "texts": ["a", "b"]})
        out["post"] = [r.status_code, r.text]
        r = client.get(url + "/big")
        out["big"] = [r.status_code, r.headers.get("content-encoding"), len(r.content), r.content[:16].decode()]
        r = client.head(url + "/big")
        out["head"] = [r.status_code, r.headers.get("content-length"), len(r.content)]
    return out


class H2:
    def __init__(self, port, window=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        if window is not None:
            self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.flush()
        self.bodies, self.headers, self.ended, self.reset, self.goaway = {}, {}, set(), {}, None
        self.remote_settings = {}
        self.closed = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path, body=b"", method=None, extra=()):
        sid = self.conn.get_next_available_stream_id()
        headers = [(":method", method or ("POST" if body else "GET")), (":path", path),
                   (":scheme", "http"), (":authority", "test")] + list(extra)
        self.conn.send_headers(sid, headers, end_stream=not body)
        if body:
            self.send_body(sid, body)
        self.flush()
        return sid

    def send_body(self, sid, body):
        offset = 0
        while offset < len(body):
            window = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if window == 0:
                self.pump()
                continue
            chunk = body[offset:offset + window]
            offset += len(chunk)
            self.conn.send_data(sid, chunk, end_stream=offset == len(body))
            self.flush()

    def pump(self):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return  # nothing arrived in time; the connection is still open
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                self.headers[event.stream_id] = dict(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                self.bodies.setdefault(event.stream_id, b"")
                self.bodies[event.stream_id] += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.ended.add(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                self.reset[event.stream_id] = int(event.error_code)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.goaway = [int(event.error_code), event.last_stream_id]
            elif isinstance(event, h2.events.RemoteSettingsChanged):
                for code, setting in event.changed_settings.items():
                    self.remote_settings[int(code)] = setting.new_value
        self.flush()

    def wait(self, done, timeout=10):
        deadline = time.time() + timeout
        while not done() and not self.closed and time.time() < deadline:
            self.pump()


def concurrent_mode(port):
    c = H2(port, window=16384)  # a small window forces WINDOW_UPDATE round trips on /big
    ids = {c.request(f"/s{i}", body=(f"body {i} " * 200).encode()): i for i in range(50)}
    big = c.request("/big")
    c.wait(lambda: set(ids) | {big} <= c.ended)
    ok = sum(1 for sid, i in ids.items() if c.bodies.get(sid) == (f"body {i} " * 200).encode()
             and c.headers[sid].get(":status") == "200")
    return {"ok": ok, "big": len(c.bodies.get(big, b"")),
            "max_streams": c.remote_settings.get(int(h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS))}


def rapid_reset_mode(port):
    c = H2(port)
    sent = 0
    try:
        for _ in range(5000):
            sid = c.request("/")
            c.conn.reset_stream(sid)
            c.flush()
            sent += 1
    except (BrokenPipeError, ConnectionResetError, h2.exceptions.ProtocolError):
        pass
    c.wait(lambda: c.goaway is not None, timeout=5)
    return {"sent": sent, "goaway": c.goaway}


def header_flood_mode(port):
    c = H2(port)
    sid = c.request("/flood", extra=[(f"x-flood-{i}", "v" * 100) for i in range(400)])
    c.wait(lambda: sid in c.ended or sid in c.reset or c.goaway is not None)
    status = c.headers.get(sid, {}).get(":status")
    after = c.request("/after") if c.goaway is None else None
    if after is not None:
        c.wait(lambda: after in c.ended)
    return {"status": status, "reset": c.reset.get(sid), "goaway": c.goaway,
            "after": c.headers.get(after, {}).get(":status") if after else None}


def reset_one_mode(port):
    c = H2(port)
    sid = c.request("/never")
    time.sleep(0.3)
    c.conn.reset_stream(sid)
    c.flush()
    time.sleep(0.3)
    return {"reset": sid}


def slow_body_mode(port):
    c = H2(port)
    sid = c.conn.get_next_available_stream_id()
    c.conn.send_headers(sid, [(":method", "POST"), (":path", "/slow-body"), (":scheme", "http"),
                              (":authority", "test")], end_stream=False)
    c.flush()
    started = time.time()
    c.wait(lambda: c.goaway is not None, timeout=10)
    return {"goaway": c.goaway, "seconds": round(time.time() - started, 2)}


def zero_window_mode(port):
    """Never opens its window (SETTINGS_INITIAL_WINDOW_SIZE 0) and asks for bodies: the server must give up."""
    c = H2(port, window=0)
    ids = [c.request("/big") for _ in range(32)]
    started = time.time()
    c.wait(lambda: c.goaway is not None, timeout=15)
    return {"goaway": c.goaway, "closed": c.closed, "headers": sum(1 for sid in ids if sid in c.headers),
            "seconds": round(time.time() - started, 2)}


def held_bodies_mode(port):
    """Opens streams with 100 kB of body each and never ends them; the later ones must be refused."""
    c = H2(port)
    ids = []
    for _ in range(40):
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(":method", "POST"), (":path", "/held"), (":scheme", "http"),
                                  (":authority", "test")], end_stream=False)
        c.flush()
        body = b"x" * 100_000
        offset = 0
        while offset < len(body) and sid not in c.headers and sid not in c.reset and not c.closed:
            window = min(c.conn.local_flow_control_window(sid), c.conn.max_outbound_frame_size, len(body) - offset)
            if window == 0:
                c.pump()
                continue
            c.conn.send_data(sid, body[offset:offset + window])
            offset += window
            c.flush()
        ids.append(sid)
    c.sock.settimeout(0.5)
    c.pump()
    refused = [sid for sid in ids if c.headers.get(sid, {}).get(":status") == "503"]
    return {"streams": len(ids), "refused": len(refused), "first_refused": ids.index(refused[0]) if refused else None}


def ping_keeps_body_mode(port):
    """A stalled request body with PINGs arriving all the while: PINGs are no progress, the body times out."""
    c = H2(port)
    sid = c.conn.get_next_available_stream_id()
    c.conn.send_headers(sid, [(":method", "POST"), (":path", "/slow-body"), (":scheme", "http"),
                              (":authority", "test")], end_stream=False)
    c.conn.send_data(sid, b"partial")
    c.flush()
    started = time.time()
    c.sock.settimeout(0.1)
    while c.goaway is None and not c.closed and time.time() - started < 10:
        try:
            c.conn.ping(b"12345678")
            c.flush()
        except (BrokenPipeError, ConnectionResetError, h2.exceptions.ProtocolError):
            break
        c.pump()
    return {"goaway": c.goaway, "closed": c.closed, "seconds": round(time.time() - started, 2)}


def reset_in_same_read_mode(port):
    """Requests each reset in the same write as its HEADERS: none should reach the handler."""
    c = H2(port)
    for _ in range(20):
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(":method", "GET"), (":path", "/counted"), (":scheme", "http"),
                                  (":authority", "test")], end_stream=True)
        c.conn.reset_stream(sid)
    c.flush()
    after = c.request("/after")
    c.wait(lambda: after in c.ended)
    return {"after": c.headers.get(after, {}).get(":status")}


def one_stalled_stream_mode(port):
    """Two request bodies: one trickles a byte every 100 ms, the other stops. The stopped one is reset on
    its own; the trickling one is not held hostage and completes."""
    c = H2(port)
    headers = [(":method", "POST"), (":path", "/p"), (":scheme", "http"), (":authority", "test")]
    moving, stalled = c.conn.get_next_available_stream_id(), None
    c.conn.send_headers(moving, headers, end_stream=False)
    stalled = c.conn.get_next_available_stream_id()
    c.conn.send_headers(stalled, headers, end_stream=False)
    c.conn.send_data(stalled, b"x")
    c.flush()
    c.sock.settimeout(0.1)
    started = time.time()
    while time.time() - started < 2.5 and c.goaway is None and not c.closed:
        c.conn.send_data(moving, b"y")
        c.flush()
        c.pump()
    c.conn.send_data(moving, b"z", end_stream=True)
    c.flush()
    c.sock.settimeout(5)
    c.wait(lambda: moving in c.ended)
    return {"stalled_reset": c.reset.get(stalled), "moving_status": c.headers.get(moving, {}).get(":status"),
            "goaway": c.goaway}


if __name__ == "__main__":
    mode, target = sys.argv[1], sys.argv[2]
    modes = {"httpx": httpx_mode, "concurrent": concurrent_mode, "rapid-reset": rapid_reset_mode,
             "header-flood": header_flood_mode, "reset-one": reset_one_mode,
             "slow-body": slow_body_mode, "zero-window": zero_window_mode, "held-bodies": held_bodies_mode,
             "ping-keeps-body": ping_keeps_body_mode, "reset-in-same-read": reset_in_same_read_mode,
             "one-stalled-stream": one_stalled_stream_mode}
    result = modes[mode](target if mode == "httpx" else int(target))
    print(json.dumps(result), flush=True)
