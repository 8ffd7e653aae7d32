import socket
import unittest

from sample_api import pgcheck
from tests.fakepg import FakePostgres


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ScramTest(unittest.TestCase):
    def test_rfc7677_vector(self):
        # RFC 7677 section 3: user "user", password "pencil".
        final, server_sig = pgcheck.scram_client_final(
            "pencil",
            "n=user,r=rOprNGfwEbeRWgbNEkqO",
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        )
        self.assertEqual(
            final,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        )
        self.assertEqual(server_sig, "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")

    def test_rejects_foreign_nonce(self):
        with self.assertRaises(pgcheck.CheckError):
            pgcheck.scram_client_final("pencil", "n=,r=abc", "r=xyz123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")


class CheckTest(unittest.TestCase):
    def test_cleartext_ok_runs_select_1(self):
        pg = FakePostgres("s3cret")
        self.addCleanup(pg.close)
        pgcheck.check("127.0.0.1", pg.port, "app", "s3cret", "app")
        self.assertEqual(pg.queries, ["SELECT 1"])

    def test_md5_ok(self):
        pg = FakePostgres("s3cret", method="md5")
        self.addCleanup(pg.close)
        pgcheck.check("127.0.0.1", pg.port, "app", "s3cret", "app")

    def test_wrong_password_fails(self):
        pg = FakePostgres("s3cret")
        self.addCleanup(pg.close)
        with self.assertRaisesRegex(pgcheck.CheckError, "28P01"):
            pgcheck.check("127.0.0.1", pg.port, "app", "wrong", "app")

    def test_nothing_listening_fails(self):
        with self.assertRaisesRegex(pgcheck.CheckError, "cannot connect"):
            pgcheck.check("127.0.0.1", free_port(), "app", "x", "app", timeout=1)

    def test_silent_server_times_out(self):
        # What the mesh looks like without a database: the connection opens, nothing answers.
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        self.addCleanup(srv.close)
        with self.assertRaisesRegex(pgcheck.CheckError, "timed out"):
            pgcheck.check("127.0.0.1", srv.getsockname()[1], "app", "x", "app", timeout=0.5)


if __name__ == "__main__":
    unittest.main()
