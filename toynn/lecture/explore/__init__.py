"""`toynn explore`: your own network, live in the browser. A local server (server.py, the standard library's
ThreadingHTTPServer) serves one page (static/: hand-written HTML, CSS and JS, nothing fetched from outside) and a
JSON API (api.py, one function per endpoint) computed by plain functions of the model (compute.py): every layer's
output as you draw, one unit's arithmetic, filters and their top-k crops, gradients, the graph, and live training
(training.py).

From Python, any model (a Sequential of your own too):

    from toynn.lecture.explore import Explorer, make_server
    server = make_server(Explorer(model, (1, 28, 28), classes, data="mnist", test=(x_test, y_test)), port=0)
    print(server.url); server.serve_forever()
"""

from .compute import UnitError
from .server import make_server
from .session import Explorer

__all__ = ["Explorer", "UnitError", "make_server"]
