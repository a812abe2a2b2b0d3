"""Falcon 3 (Debian's python3-falcon): hello and an upload that returns the
body's length and sha256."""

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


app = falcon.App()
app.add_route("/", Hello())
app.add_route("/upload", Upload())
