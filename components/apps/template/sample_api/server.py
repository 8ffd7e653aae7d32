"""HTTP server: /, /health (liveness), /health/ready (readiness), /metrics (Prometheus)."""
import json
import os
import random
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import pgcheck
from .metrics import CONTENT_TYPE, Metrics

# The port the image documents (Dockerfile EXPOSE); the manifests name it "http" (PM-06, PM-33).
DEFAULT_PORT = 8080


def read_version():
    path = Path(__file__).resolve().parent.parent / "VERSION"
    try:
        return path.read_text(encoding="utf-8").strip() or "0.0.0-dev"
    except OSError:
        return "0.0.0-dev"


def database_from_env(env):
    """The client settings the platform's Secret provides; None when no database is configured.

    DATABASE_PASSWORD_FILE (a mounted Secret) wins over DATABASE_PASSWORD: the file is read again for
    every connection, so a rotated password reaches a running pod (the kubelet refreshes mounted
    Secrets; environment variables stay as they were at start).
    """
    host = env.get("DATABASE_HOST", "").strip()
    if not host:
        return None
    db = {
        "host": host,
        "port": int(env.get("DATABASE_PORT", "5432")),
        "user": env.get("DATABASE_USER", "postgres"),
        "password": env.get("DATABASE_PASSWORD", ""),
        "database": env.get("DATABASE_NAME", "postgres"),
    }
    if env.get("DATABASE_PASSWORD_FILE", "").strip():
        db["password_file"] = env["DATABASE_PASSWORD_FILE"].strip()
    return db


def database_password(db):
    """The password to connect with now: the file's current content when one is configured."""
    path = db.get("password_file")
    if not path:
        return db["password"]
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().rstrip("\n")
    except OSError:
        # A missing file (a misnamed Secret key) falls back to the value from the environment.
        return db["password"]


class Config:
    def __init__(self, database=None, version="0.0.0-dev", error_rate=0.0):
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError("ERROR_RATE must be between 0 and 1")
        self.database = database
        self.version = version
        # Demo knob: a release built with ERROR_RATE=0.5 fails its canary analysis and is aborted.
        self.error_rate = error_rate

    @classmethod
    def from_env(cls, env=None):
        env = os.environ if env is None else env
        return cls(database_from_env(env), read_version(), float(env.get("ERROR_RATE", "0") or 0))


def make_handler(config, metrics):
    class Handler(BaseHTTPRequestHandler):
        server_version = "sample-api"
        sys_version = ""

        def _send(self, code, body, content_type="application/json"):
            data = body if isinstance(body, bytes) else json.dumps(body, sort_keys=True).encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            metrics.observe(self.command, self.path.split("?", 1)[0], code)

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/health":
                # Liveness: the process serves HTTP. Dependencies belong to readiness.
                self._send(200, {"status": "ok"})
            elif path == "/health/ready":
                self._ready()
            elif path == "/metrics":
                self._send(200, metrics.render().encode("utf-8"), CONTENT_TYPE)
            elif path == "/":
                if config.error_rate and random.random() < config.error_rate:
                    self._send(500, {"error": "injected failure (ERROR_RATE)"})
                    return
                self._send(200, {"service": "sample-api", "version": config.version, "host": socket.gethostname()})
            else:
                self._send(404, {"error": "not found", "path": path})

        do_HEAD = do_GET

        def _ready(self):
            db = config.database
            if db is None:
                self._send(200, {"status": "ready", "database": "not configured"})
                return
            try:
                pgcheck.check(db["host"], db["port"], db["user"], database_password(db), db["database"])
            except pgcheck.CheckError as exc:
                self._send(503, {"status": "not ready", "database": str(exc)})
                return
            self._send(200, {"status": "ready", "database": "ok"})

        def log_message(self, fmt, *args):
            # Probes and scrapes every few seconds would drown the useful lines.
            if not self.path.startswith(("/health", "/metrics")):
                sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    return Handler


def make_server(config, host="0.0.0.0", port=DEFAULT_PORT):
    metrics = Metrics(config.version)
    server = ThreadingHTTPServer((host, port), make_handler(config, metrics))
    server.daemon_threads = True
    server.metrics = metrics
    return server


def main():
    config = Config.from_env()
    port = int(os.environ.get("PORT", DEFAULT_PORT))
    server = make_server(config, port=port)

    def stop(_signum, _frame):
        # shutdown() blocks until serve_forever returns, so call it from another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    db = config.database
    print("sample-api %s listening on :%d (database: %s)" % (config.version, port, db["host"] if db else "none"), flush=True)
    server.serve_forever()
    server.server_close()
    return 0
