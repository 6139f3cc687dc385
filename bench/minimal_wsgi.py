"""The yardstick for bench/load_client.py: the smallest useful Flask page.

One route that renders a short HTML page from an inline Jinja template, with
no database, session or extension, served by the same gunicorn configuration
as Latchkey in the same run, so the ratio of the two throughputs says what
Latchkey's own work costs on this machine.
"""

from flask import Flask, render_template_string

app = Flask(__name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><main><h1>{{ title }}</h1><p>{{ text }}</p></main></body></html>"""


@app.get("/")
def index():
    return render_template_string(PAGE, title="Hello", text="A minimal Flask page.")
