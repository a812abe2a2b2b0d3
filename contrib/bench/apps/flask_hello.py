"""Flask hello world for the `flask` workload: "/" answers 200 "Hello world!\\n".

Debian's python3-flask; same module and callable (`flask_hello:application`)
for every server.
"""

from flask import Flask

HELLO = b"Hello world!\n"

application = Flask(__name__)


@application.route("/")
def hello():
    return HELLO, 200, {"Content-Type": "text/plain"}
