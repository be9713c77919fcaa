"""Framework-free apps for `otelkit run`: nothing here mentions otelkit.

``python plain_shop.py PORT`` serves the Flask app with werkzeug's plain server (no reloader).
"""

import sys

from flask import Flask

app = Flask(__name__)


@app.get("/orders/<int:order_id>")
def order(order_id: int) -> dict[str, int]:
    return {"order_id": order_id}


if __name__ == "__main__":
    from werkzeug.serving import make_server

    make_server("127.0.0.1", int(sys.argv[1]), app).serve_forever()
