// The sample app's readiness check (sample_api/pgcheck.py behind /health/ready) against a real
// PostgreSQL with SCRAM-SHA-256, not only the template's fake server (tests/fakepg.py, kept for the
// unit tests that ship with the app). Debian's PostgreSQL 15 here, the postgres 17 image in the
// cluster: SCRAM-SHA-256 (RFC 7677) and the v3 protocol are the same in both.
import * as net from "net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { needs } from "./helpers/binaries";
import { Postgres, startPostgres } from "./helpers/postgres";
import { request } from "./helpers/processes";
import { SampleApi, startSampleApi } from "./helpers/sample-api";

// Alphanumeric like the generated password (RandomPassword, special: false), plus printable
// specials a user-set value could hold.
const PASSWORD = "Q7fXk2LmP9rTz4Wb8NcV3hYs6JdG1aEu-!$'\" \\:@";
const DB = { user: "sample", password: PASSWORD, database: "sample" };

/** The server's first authentication request to a v3 startup: [code, SASL mechanisms]. */
function authRequest(port: number, user: string, database: string): Promise<[number, string[]]> {
  return new Promise((resolve, reject) => {
    const params = Buffer.from(`user\0${user}\0database\0${database}\0\0`);
    const startup = Buffer.alloc(8);
    startup.writeUInt32BE(8 + params.length, 0);
    startup.writeUInt32BE(196608, 4);
    const sock = net.connect(port, "127.0.0.1", () => sock.write(Buffer.concat([startup, params])));
    sock.setTimeout(5_000, () => sock.destroy(new Error("no answer")));
    let buf = Buffer.alloc(0);
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 5 || buf.length < 1 + buf.readUInt32BE(1)) return;
      sock.destroy();
      if (buf[0] !== 0x52) return reject(new Error(`expected an authentication request, got ${String.fromCharCode(buf[0])}`));
      const body = buf.subarray(5, 1 + buf.readUInt32BE(1));
      resolve([body.readUInt32BE(0), body.subarray(4).toString().split("\0").filter(Boolean)]);
    });
    sock.on("error", reject);
  });
}

const tools = needs("initdb", "pg_ctl", "postgres", "python3");

tools.describe("PM-11 sample app /health/ready against a real PostgreSQL (SCRAM-SHA-256)", () => {
  let pg: Postgres;
  const apps: SampleApi[] = [];
  beforeAll(async () => { pg = await startPostgres(tools, DB); }, 60_000);
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    pg?.stop();
  });

  /** A sample app with the platform's client settings, overridden; its readiness answer. */
  async function ready(patch: Partial<Record<"DATABASE_PASSWORD" | "DATABASE_NAME" | "DATABASE_USER", string>> = {}) {
    const app = await startSampleApi(tools.bin("python3"), {
      DATABASE_HOST: "127.0.0.1", DATABASE_PORT: String(pg.port), DATABASE_USER: DB.user, DATABASE_PASSWORD: DB.password, DATABASE_NAME: DB.database, ...patch,
    });
    apps.push(app);
    const r = await request(`${app.url}/health/ready`, { timeoutMs: 10_000 });
    const live = await request(`${app.url}/health`);
    return { status: r.status, body: JSON.parse(r.body), live: live.status };
  }

  it("the server stores a SCRAM verifier and asks clients for SCRAM-SHA-256 (AuthenticationSASL), not md5", async () => {
    expect(pg.scramVerifier).toBe(true);
    expect(await authRequest(pg.port, DB.user, DB.database)).toEqual([10, ["SCRAM-SHA-256"]]);
  });

  it("PM-11 ready: 200 once the server authenticates the role and answers SELECT 1", async () => {
    const r = await ready();
    expect(r.body).toEqual({ status: "ready", database: "ok" });
    expect(r.status).toBe(200);
  });

  it("PM-11 wrong password: 503 with the server's authentication error; liveness stays 200", async () => {
    const r = await ready({ DATABASE_PASSWORD: `${PASSWORD}x` });
    expect(r.status).toBe(503);
    expect(r.body.database).toMatch(/^28P01: password authentication failed for user "sample"/);
    expect(r.live).toBe(200);
  });

  it("PM-11 wrong database: 503 with the server's error", async () => {
    const r = await ready({ DATABASE_NAME: "nope" });
    expect(r.status).toBe(503);
    expect(r.body.database).toMatch(/^3D000: database "nope" does not exist/);
  });

  it("PM-11 unknown role: 503 (SCRAM fails as for a wrong password)", async () => {
    const r = await ready({ DATABASE_USER: "intruder" });
    expect(r.status).toBe(503);
    expect(r.body.database).toMatch(/^28P01:/);
  });
});
