"""Flask (Debian's python3-flask) for test_frameworks.py: forms, JSON, a
multipart upload, a streaming response and send_file. $GREENC_FW_DATA is a
directory the test fills with the files send_file serves."""

import hashlib
import os

from flask import Flask, Response, jsonify, request, send_file, stream_with_context

app = Flask(__name__)
DATA = os.environ.get("GREENC_FW_DATA", "/tmp")


@app.route("/")
def index():
    return "Hello from Flask!"


@app.route("/form", methods=["POST"])
def form():
    tags = ",".join(request.form.getlist("tag"))
    return f"name={request.form['name']} tags={tags} q={request.args.get('q', '')}"


@app.route("/json", methods=["POST"])
def post_json():
    data = request.get_json()
    return jsonify(received=data, total=sum(data.get("numbers", [])))


@app.route("/upload", methods=["POST"])
def upload():
    f = request.files["file"]
    content = f.read()
    return jsonify(filename=f.filename, content_type=f.mimetype, size=len(content),
                   sha256=hashlib.sha256(content).hexdigest(),
                   note=request.form.get("note"))


@app.route("/stream")
def stream():
    n = int(request.args.get("n", "5"))

    def generate():
        for i in range(n):
            yield f"line {i} of {request.args.get('tag', 'stream')}\n"
    return Response(stream_with_context(generate()), mimetype="text/plain")


@app.route("/download/<name>")
def download(name):
    return send_file(os.path.join(DATA, os.path.basename(name)),
                     mimetype="application/octet-stream", as_attachment=True,
                     download_name="data.bin", conditional=True, etag=True)


@app.route("/read-unbounded", methods=["POST"])
def read_unbounded():
    # read() without a size: what both validators forbid (PEP 3333 promises no EOF marker).
    # The negative control of test_framework_validators.py.
    return f"read {len(request.environ['wsgi.input'].read())} bytes"
