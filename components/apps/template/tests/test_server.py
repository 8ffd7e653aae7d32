import json
import os
import tempfile
import threading
import unittest
import urllib.error
import urllib.request

from sample_api.server import Config, database_from_env, database_password, make_server
from tests.fakepg import FakePostgres
from tests.test_pgcheck import free_port


class ServerCase(unittest.TestCase):
    config = Config(version="1.2.3")

    def setUp(self):
        self.server = make_server(self.config, host="127.0.0.1", port=0)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.base = "http://127.0.0.1:%d" % self.server.server_address[1]

    def get(self, path):
        try:
            with urllib.request.urlopen(self.base + path, timeout=5) as resp:
                return resp.status, resp.read().decode(), resp.headers.get("Content-Type")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(), err.headers.get("Content-Type")


class RoutesTest(ServerCase):
    def test_root_json(self):
        code, body, ctype = self.get("/")
        self.assertEqual(code, 200)
        self.assertEqual(ctype, "application/json")
        self.assertEqual(json.loads(body)["version"], "1.2.3")

    def test_liveness(self):
        self.assertEqual(self.get("/health")[0], 200)

    def test_ready_without_database(self):
        code, body, _ = self.get("/health/ready")
        self.assertEqual(code, 200)
        self.assertEqual(json.loads(body)["database"], "not configured")

    def test_unknown_path_404(self):
        self.assertEqual(self.get("/nope")[0], 404)

    def test_metrics_count_requests_by_code(self):
        self.get("/")
        self.get("/nope")
        code, body, ctype = self.get("/metrics")
        self.assertEqual(code, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"))
        self.assertIn('http_requests_total{code="200",method="GET",path="/"} 1', body)
        # Unknown paths share one series: no unbounded label values.
        self.assertIn('http_requests_total{code="404",method="GET",path="other"} 1', body)
        self.assertIn("# TYPE http_requests_total counter", body)


class ReadyWithDatabaseTest(ServerCase):
    def test_ready_when_database_answers(self):
        pg = FakePostgres("pw")
        self.addCleanup(pg.close)
        self.config.database = {"host": "127.0.0.1", "port": pg.port, "user": "app", "password": "pw", "database": "app"}
        self.assertEqual(self.get("/health/ready")[0], 200)

    def test_not_ready_when_database_down(self):
        self.config.database = {"host": "127.0.0.1", "port": free_port(), "user": "app", "password": "pw", "database": "app"}
        code, body, _ = self.get("/health/ready")
        self.assertEqual(code, 503)
        self.assertIn("cannot connect", json.loads(body)["database"])
        # Liveness stays up: a database outage must not restart the API.
        self.assertEqual(self.get("/health")[0], 200)

    def setUp(self):
        self.config = Config(version="1.2.3")
        super().setUp()


class ErrorRateTest(ServerCase):
    config = Config(version="1.2.3", error_rate=1.0)

    def test_injected_failures_are_counted_as_500(self):
        self.assertEqual(self.get("/")[0], 500)
        self.assertIn('code="500"', self.get("/metrics")[1])


class EnvTest(unittest.TestCase):
    def test_no_host_means_no_database(self):
        self.assertIsNone(database_from_env({}))

    def test_database_settings(self):
        db = database_from_env({"DATABASE_HOST": "db.ns.svc.cluster.local", "DATABASE_PORT": "5433",
                                "DATABASE_USER": "u", "DATABASE_PASSWORD": "p", "DATABASE_NAME": "d"})
        self.assertEqual(db, {"host": "db.ns.svc.cluster.local", "port": 5433, "user": "u", "password": "p", "database": "d"})

    def test_password_file_wins_and_is_read_at_each_use(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "password")
            with open(path, "w", encoding="utf-8") as f:
                f.write("first")
            db = database_from_env({"DATABASE_HOST": "db", "DATABASE_PASSWORD": "from-env", "DATABASE_PASSWORD_FILE": path})
            self.assertEqual(database_password(db), "first")
            # A rotation: the kubelet swaps the mounted file; the next connection uses the new one.
            with open(path, "w", encoding="utf-8") as f:
                f.write("second\n")
            self.assertEqual(database_password(db), "second")
            os.remove(path)
            self.assertEqual(database_password(db), "from-env")
        self.assertEqual(database_password(database_from_env({"DATABASE_HOST": "db", "DATABASE_PASSWORD": "p"})), "p")

    def test_invalid_error_rate(self):
        with self.assertRaises(ValueError):
            Config(error_rate=2)


if __name__ == "__main__":
    unittest.main()
