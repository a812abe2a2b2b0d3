"""A small load generator for the chaos tests: N client threads send GET
requests for a bounded time (and count) and sort every outcome into a kind, so
that a test can say which kinds must be zero.

Kinds:
    ok          a complete 2xx response
    non2xx      a complete response with another status
    refused     connect() refused: nobody was listening (a reload must never
                cause this)
    reset       the connection was reset or cut while a request was in flight
                on a fresh connection, or after some bytes of the response came,
                or connect() itself was reset
    idle_close  keep-alive only: the request went out on a connection that had
                already served one, and the server closed it without a byte of
                response. The server closed an idle connection just as the
                client reused it; HTTP clients retry this for idempotent
                requests (RFC 9112 9.3.1), and it is reported apart
    timeout     no response within the timeout
    other       anything else (the repr is kept)

    with Load(port, threads=4, keepalive=False, limit=10) as load:
        ...chaos...
    load.counts()  -> {"ok": 1234, ...}
    load.shape()   -> {"threads": 4, "seconds": 3.1, "requests": 1240, ...}
"""

import socket
import threading
import time
from collections import Counter

KINDS = ("ok", "non2xx", "refused", "reset", "idle_close", "timeout", "other")


class _Client:
    def __init__(self, port, path, keepalive, timeout):
        self.port, self.path, self.keepalive, self.timeout = port, path, keepalive, timeout
        self.sock = None
        self.served = 0             # responses on the current connection
        self.buf = b""

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock, self.served, self.buf = None, 0, b""

    def request(self):
        """One request; returns (kind, detail)."""
        if self.sock is None:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
            except ConnectionRefusedError:
                return "refused", None
            except ConnectionResetError:
                # The handshake was answered with a reset: a queued connection dropped
                # by a closing listener, the same failure as a reset after sending.
                return "reset", "connect"
            except socket.timeout:
                return "timeout", "connect"
            except OSError as e:
                return "other", repr(e)
        reused = self.served > 0
        req = (f"GET {self.path} HTTP/1.1\r\nHost: load\r\n"
               + ("" if self.keepalive else "Connection: close\r\n") + "\r\n").encode()
        try:
            self.sock.sendall(req)
            status, close = self._read_response()
        except socket.timeout:
            self.close()
            return "timeout", "response"
        except (ConnectionResetError, BrokenPipeError, _Eof) as e:
            got_any = self.buf != b""        # part of a response had come
            self.close()
            if reused and not got_any:
                return "idle_close", None
            return "reset", repr(e)
        except OSError as e:
            self.close()
            return "other", repr(e)
        self.served += 1
        if close or not self.keepalive:
            self.close()
        return ("ok" if 200 <= status < 300 else "non2xx"), status

    def _read_response(self):
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get(b"content-length", b"0"))
        while len(self.buf) < length:
            self._recv()
        self.buf = self.buf[length:]
        return status, headers.get(b"connection", b"").lower() == b"close"

    def _recv(self):
        data = self.sock.recv(65536)
        if not data:
            raise _Eof("connection closed")
        self.buf += data


class _Eof(Exception):
    pass


class Load:
    def __init__(self, port, path="/", threads=4, keepalive=False, limit=10.0,
                 max_requests=200_000, timeout=10.0, pause=0.0):
        self.port, self.path, self.nthreads = port, path, threads
        self.keepalive, self.limit, self.max_requests = keepalive, limit, max_requests
        self.timeout, self.pause = timeout, pause
        self.results = Counter()
        self.details = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._started = self._stopped = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self._started = time.monotonic()
        deadline = self._started + self.limit
        for _ in range(self.nthreads):
            t = threading.Thread(target=self._run, args=(deadline,), daemon=True)
            t.start()
            self._threads.append(t)

    def _run(self, deadline):
        client = _Client(self.port, self.path, self.keepalive, self.timeout)
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                if sum(self.results.values()) >= self.max_requests:
                    break
            kind, detail = client.request()
            with self._lock:
                self.results[kind] += 1
                if kind not in ("ok", "idle_close") and len(self.details) < 20:
                    self.details.append((kind, detail))
            if kind != "ok" or self.pause:
                time.sleep(self.pause or 0.005)
        client.close()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 5)
        if self._stopped is None:
            self._stopped = time.monotonic()
        return self.counts()

    def counts(self):
        with self._lock:
            return {k: self.results.get(k, 0) for k in KINDS}

    def shape(self):
        """What load ran: client threads, connection mode, seconds and requests sent."""
        end = self._stopped or time.monotonic()
        return {"threads": self.nthreads,
                "connection": "keep-alive" if self.keepalive else "close",
                "seconds": round(end - self._started, 1) if self._started else 0.0,
                "requests": sum(self.counts().values())}

    def failures(self, allowed=("ok",)):
        """The counts of every kind not in `allowed` that happened."""
        return {k: v for k, v in self.counts().items() if v and k not in allowed}
