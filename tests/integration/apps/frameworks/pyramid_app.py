"""Pyramid 2 (Debian's python3-pyramid): hello, a multipart upload, a body echo, a
form post and a streamed response."""

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


def form(request):
    return Response(f"name={request.POST.get('name')} "
                    f"tags={','.join(request.POST.getall('tag'))}", content_type="text/plain")


def stream(request):
    n = int(request.GET.get("n", "3"))
    return Response(app_iter=(f"line {i}\n".encode() for i in range(n)),
                    content_type="text/plain")


with Configurator() as config:
    config.add_route("hello", "/")
    config.add_route("upload", "/upload")
    config.add_route("echo", "/echo")
    config.add_route("form", "/form")
    config.add_route("stream", "/stream")
    config.add_view(hello, route_name="hello")
    config.add_view(upload, route_name="upload", renderer="json", request_method="POST")
    config.add_view(echo, route_name="echo", request_method="POST")
    config.add_view(form, route_name="form", request_method="POST")
    config.add_view(stream, route_name="stream")
    app = config.make_wsgi_app()
