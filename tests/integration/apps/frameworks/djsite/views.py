from django.http import HttpResponse, StreamingHttpResponse
from django.middleware.csrf import get_token


def hello(request):
    return HttpResponse("Hello from Django!", content_type="text/plain")


def form(request):
    """GET: a form with a CSRF token; POST (CSRF-checked by the middleware): echo."""
    if request.method == "POST":
        return HttpResponse(f"name={request.POST.get('name')} "
                            f"items={','.join(request.POST.getlist('item'))}",
                            content_type="text/plain")
    return HttpResponse(f'<form method="post"><input type="hidden" '
                        f'name="csrfmiddlewaretoken" value="{get_token(request)}"></form>')


def stream(request):
    n = int(request.GET.get("n", "5"))
    return StreamingHttpResponse((f"row {i}\n".encode() for i in range(n)),
                                 content_type="text/plain")
