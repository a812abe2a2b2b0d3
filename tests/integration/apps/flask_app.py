"""A Flask app for the integration tests: a hello world, a route with a URL
variable, a POST form and a JSON response."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/")
def index():
    return "Hello from Flask!"


@app.route("/user/<name>")
def user(name):
    return f"Hello, {name}!"


@app.route("/form", methods=["POST"])
def form():
    return f"name={request.form['name']} age={request.form['age']}"


@app.route("/json")
def as_json():
    return jsonify(framework="flask", method=request.method, args=request.args.to_dict())
