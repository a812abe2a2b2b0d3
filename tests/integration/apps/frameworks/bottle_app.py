"""Bottle (Debian's python3-bottle): hello, a raw body echo, a multipart upload, a
form post and a streamed response."""

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


@app.post("/form")
def form():
    bottle.response.content_type = "text/plain"
    forms = bottle.request.forms
    return f"name={forms.getunicode('name')} tags={','.join(forms.getall('tag'))}"


@app.get("/stream")
def stream():
    bottle.response.content_type = "text/plain"
    n = int(bottle.request.query.get("n", "3"))
    return (f"line {i}\n".encode() for i in range(n))
