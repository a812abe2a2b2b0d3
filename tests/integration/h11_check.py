"""A strict check of what greenc sends: raw response bytes parsed by h11
(Debian's python3-h11), an HTTP/1.1 implementation independent of greenc's,
so that a malformed status line, header, Content-Length or chunked framing
fails the test that received it.

    responses = h11_responses(raw, methods=("GET", "HEAD"), closed=raw.closed)

h11 is a client here: for each response it expects, it first "sends" a
request with the given method (HEAD matters: its response has no body), then
reads one response. Interim 1xx responses are collected too.
"""

from dataclasses import dataclass, field

import h11


@dataclass
class H11Response:
    status: int
    headers: dict                       # lower-case name -> value (last one wins)
    header_list: list                   # [(name, value)] as sent, lower-case names
    body: bytes = b""
    complete: bool = False              # h11 saw EndOfMessage
    interim: list = field(default_factory=list)   # 1xx statuses before it

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)


class MalformedResponse(AssertionError):
    pass


def h11_responses(raw, methods=("GET",), closed=True, max_responses=64):
    """Parse every response in raw. methods gives the request method for each
    response in order (the last one repeats). Raises MalformedResponse when h11
    refuses the bytes or when bytes follow the last complete response;
    a last response cut short is returned with complete=False only when the
    connection was closed (close-delimited bodies end that way)."""
    conn = h11.Connection(our_role=h11.CLIENT)
    out = []
    data = bytes(raw)
    if not data:
        return out
    conn.receive_data(data)
    if closed:
        conn.receive_data(b"")
    interim = []
    for i in range(max_responses):
        method = methods[min(i, len(methods) - 1)]
        if conn.our_state is h11.IDLE:
            conn.send(h11.Request(method=method, target="/", headers=[("Host", "check")]))
            conn.send(h11.EndOfMessage())
        current = None
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as e:
                if current is None and not conn.trailing_data[0] and closed:
                    return out              # closed with nothing more to say
                raise MalformedResponse(f"response {i} is malformed: {e}; bytes: "
                                        f"{data[:600]!r}") from None
            if event is h11.NEED_DATA:
                if current is not None:
                    if not closed:
                        current.complete = False
                        out.append(current)
                        return out
                    raise MalformedResponse(f"response {i} is truncated: {data[:600]!r}")
                return out
            if event is h11.PAUSED:
                break
            if isinstance(event, h11.InformationalResponse):
                interim.append(event.status_code)
                continue
            if isinstance(event, h11.Response):
                hl = [(n.decode("latin-1").lower(), v.decode("latin-1"))
                      for n, v in event.headers.raw_items()]
                current = H11Response(event.status_code, dict(hl), hl, interim=interim)
                interim = []
                continue
            if isinstance(event, h11.Data):
                current.body += bytes(event.data)
                continue
            if isinstance(event, h11.EndOfMessage):
                current.complete = True
                out.append(current)
                current = None
                break
            if isinstance(event, h11.ConnectionClosed):
                return out
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        else:
            # The server said it closes (Connection: close, HTTP/1.0): nothing may follow.
            rest = conn.trailing_data[0]
            if rest:
                raise MalformedResponse(f"{len(rest)} bytes after the last response, which "
                                        f"announced a close: {rest[:200]!r}")
            return out
    raise MalformedResponse(f"more than {max_responses} responses")
