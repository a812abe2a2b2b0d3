"""Bottle (Debian's python3-bottle): hello, a raw body echo and a multipart upload."""

import hashlib

import bottle

app = bottle.Bottle()


@app.get("/")
def hello():
    bottle.response.content_type = "text/plain"
    return "Hello from Bottle!"


@app.post("/echo")
def echo():
    bottle.response.content_type = "application/octet-stream"
    return bottle.request.body.read()


@app.post("/upload")
def upload():
    f = bottle.request.files.get("file")
    data = f.file.read()
    return {"filename": f.raw_filename, "length": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}
