"""Pyramid 2 (Debian's python3-pyramid): hello and a multipart upload."""

import hashlib

from pyramid.config import Configurator
from pyramid.response import Response


def hello(request):
    return Response("Hello from Pyramid!", content_type="text/plain")


def upload(request):
    field = request.POST["file"]
    data = field.file.read()
    return {"filename": field.filename, "length": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "note": request.POST.get("note")}


def echo(request):
    return Response(body=request.body, content_type="application/octet-stream")


with Configurator() as config:
    config.add_route("hello", "/")
    config.add_route("upload", "/upload")
    config.add_route("echo", "/echo")
    config.add_view(hello, route_name="hello")
    config.add_view(upload, route_name="upload", renderer="json", request_method="POST")
    config.add_view(echo, route_name="echo", request_method="POST")
    app = config.make_wsgi_app()
