"""Falcon 3 (Debian's python3-falcon): hello, an upload that returns the
body's length and sha256, a form post and a streamed response."""

import hashlib

import falcon


class Hello:
    def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = "Hello from Falcon!"


class Upload:
    def on_post(self, req, resp):
        data = req.bounded_stream.read()
        resp.media = {"length": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                      "content_type": req.content_type}

    def on_put(self, req, resp):
        resp.content_type = req.content_type or falcon.MEDIA_TEXT
        resp.data = req.bounded_stream.read()


class Form:
    def on_post(self, req, resp):
        form = req.get_media()              # application/x-www-form-urlencoded
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = f"name={form.get('name')} tags={','.join(form.get('tag', []))}"


class Stream:
    def on_get(self, req, resp):
        n = req.get_param_as_int("n", default=3)
        resp.content_type = falcon.MEDIA_TEXT
        resp.stream = (f"line {i}\n".encode() for i in range(n))


app = falcon.App()
app.add_route("/", Hello())
app.add_route("/upload", Upload())
app.add_route("/form", Form())
app.add_route("/stream", Stream())
