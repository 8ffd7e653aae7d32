// Real servers started by tests: on 127.0.0.1, ready within a bound, stopped in afterAll (and
// killed if the worker exits first).
import { ChildProcess, spawn } from "child_process";
import * as http from "http";
import * as net from "net";

/** A port that was free a moment ago on 127.0.0.1 (for servers that take their port as config). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface Response { readonly status: number; readonly headers: http.IncomingHttpHeaders; readonly body: string }

export function request(url: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string; timeoutMs?: number } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? "GET", headers: opts.headers, timeout: opts.timeoutMs ?? 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("timeout", () => req.destroy(new Error(`${opts.method ?? "GET"} ${url} timed out`)));
    req.on("error", reject);
    req.end(opts.body);
  });
}

export const basicAuth = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

export interface Service {
  readonly child: ChildProcess;
  /** stdout and stderr so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once("exit", () => { for (const c of running) c.kill("SIGKILL"); });

/**
 * Spawns a long-running server and polls `ready` until it resolves true. Fails with the server's
 * output if it exits first or is not ready within `timeoutMs`.
 */
export async function startService(name: string, cmd: string, args: string[], opts: {
  ready: () => Promise<boolean>; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number;
}): Promise<Service> {
  const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let out = "";
  const keep = (d: Buffer) => { out = (out + d.toString()).slice(-20_000); };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  let exited: string | undefined;
  const done = new Promise<void>((resolve) => child.on("close", (code, signal) => {
    exited = `exited (${signal ?? code})`;
    running.delete(child);
    resolve();
  }));
  child.on("error", (e) => { exited = `failed to start: ${e.message}`; });
  const stop = async () => {
    if (exited) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await done;
    clearTimeout(timer);
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    if (exited) throw new Error(`${name} ${exited} before it was ready:\n${out}`);
    if (await opts.ready().catch(() => false)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} not ready after ${opts.timeoutMs ?? 15_000} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, output: () => out, stop };
}

/** Ready when GET url answers (any status): the server listens. */
export const answers = (url: string) => async () => (await request(url, { timeoutMs: 1_000 })).status > 0;
