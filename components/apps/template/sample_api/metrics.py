"""Prometheus text exposition (format 0.0.4) for a request counter, without a client library."""
import threading
import time

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Paths outside this set are counted as "other": a scanner must not create unbounded series.
KNOWN_PATHS = ("/", "/health", "/health/ready", "/metrics")


def _escape(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    def __init__(self, version):
        self._lock = threading.Lock()
        self._requests = {}
        self._version = version
        self._started = time.time()

    def observe(self, method, path, code):
        label = path if path in KNOWN_PATHS else "other"
        key = (method, label, str(code))
        with self._lock:
            self._requests[key] = self._requests.get(key, 0) + 1

    def count(self, code=None):
        with self._lock:
            return sum(v for (_, _, c), v in self._requests.items() if code is None or c == str(code))

    def render(self):
        lines = [
            "# HELP http_requests_total HTTP requests handled, by method, path and status code.",
            "# TYPE http_requests_total counter",
        ]
        with self._lock:
            items = sorted(self._requests.items())
        for (method, path, code), value in items:
            lines.append(
                'http_requests_total{code="%s",method="%s",path="%s"} %d'
                % (_escape(code), _escape(method), _escape(path), value)
            )
        lines += [
            "# HELP sample_api_info Build information.",
            "# TYPE sample_api_info gauge",
            'sample_api_info{version="%s"} 1' % _escape(self._version),
            "# HELP process_start_time_seconds Start time of the process since the Unix epoch.",
            "# TYPE process_start_time_seconds gauge",
            "process_start_time_seconds %.3f" % self._started,
        ]
        return "\n".join(lines) + "\n"
