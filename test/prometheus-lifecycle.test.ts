// Issue 13: Prometheus without the lifecycle API. The chart's default extraFlags
// [web.enable-lifecycle] let anyone who reaches 9090 POST /-/quit (stopping every canary analysis)
// or /-/reload. Our values drop it and the reloader sidecar that needs it; Prometheus reloads on
// its own (--config.auto-reload). Checked on the args the chart renders from our values, then on a
// real server (Debian's prometheus, on 127.0.0.1) started with them.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { PROMETHEUS_RELOAD_ARGS, prometheusValues } from "../components/monitoring/prometheus";
import { needs } from "./helpers/binaries";
import { testContext } from "./helpers/context";
import { chartServerArgs } from "./helpers/prometheus-chart";
import { freePort, request, startService } from "./helpers/processes";

const ENVS = ["dev", "oci", "homelab"] as const;

describe("#13 Prometheus values: no lifecycle API, reloads without it", () => {
  it("extraFlags emptied (the chart's default is [web.enable-lifecycle]), the reloader sidecar off, config.auto-reload on", () => {
    for (const env of ENVS) {
      const v = prometheusValues({ ctx: testContext(env) }) as any;
      expect(v.server.extraFlags, env).toEqual([]);
      expect(v.configmapReload.prometheus.enabled, env).toBe(false);
      const args = chartServerArgs(v);
      expect(args.filter((a) => /lifecycle|admin-api/.test(a)), env).toEqual([]);
      expect(args, env).toEqual(expect.arrayContaining(["--config.auto-reload=true", "--config.auto-reload-interval=30s"]));
    }
    // The renderer itself: the chart's defaults do carry the flag (so the check above can fail).
    expect(chartServerArgs({})).toContain("--web.enable-lifecycle");
    expect(chartServerArgs({ server: { extraFlags: ["web.enable-lifecycle"] } })).toContain("--web.enable-lifecycle");
    expect(PROMETHEUS_RELOAD_ARGS).toEqual({ "config.auto-reload": "true", "config.auto-reload-interval": "30s" });
  });
});

const tools = needs("prometheus");
tools.describe("#13 a real Prometheus started with our args refuses /-/quit and /-/reload", () => {
  const flag = (arg: string) => arg.replace(/^--/, "").replace(/=.*$/, "");

  async function run(extra: string[]) {
    const bin = tools.bin("prometheus");
    const help = spawnSync(bin, ["--help"], { encoding: "utf8", timeout: 10_000 });
    const known = `${help.stdout}${help.stderr}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prom-lifecycle-"));
    fs.writeFileSync(path.join(dir, "prometheus.yml"), "global:\n  scrape_interval: 15s\nscrape_configs: []\n");
    const rendered = chartServerArgs(prometheusValues({ ctx: testContext("oci") }) as any);
    // Debian ships 2.42; config.auto-reload came with 3.x (the cluster runs 3.14.0). Bounded to
    // the flags this binary knows: only the auto-reload pair may be missing from it.
    const dropped = rendered.filter((a) => !known.includes(`--${flag(a)}`));
    expect(dropped.every((a) => a.startsWith("--config.auto-reload")), `unknown to ${bin}: ${dropped}`).toBe(true);
    const port = await freePort();
    const args = [
      ...rendered.filter((a) => !dropped.includes(a)).map((a) => a
        .replace(/^--config\.file=.*/, `--config.file=${path.join(dir, "prometheus.yml")}`)
        .replace(/^--storage\.tsdb\.path=.*/, `--storage.tsdb.path=${path.join(dir, "data")}`)),
      `--web.listen-address=127.0.0.1:${port}`,
      ...extra,
    ];
    const url = `http://127.0.0.1:${port}`;
    const svc = await startService("prometheus", bin, args, {
      ready: async () => (await request(`${url}/-/ready`, { timeoutMs: 1_000 })).status === 200, timeoutMs: 30_000,
    });
    const cleanup = async () => { await svc.stop(); fs.rmSync(dir, { recursive: true, force: true }); };
    return { url, svc, cleanup };
  }

  it("POST /-/quit and /-/reload answer 403 and the server keeps serving; the same server with --web.enable-lifecycle stops on /-/quit", async () => {
    const ours = await run([]);
    try {
      for (const endpoint of ["/-/quit", "/-/reload"]) {
        const r = await request(`${ours.url}${endpoint}`, { method: "POST", timeoutMs: 5_000 });
        expect(r.status, `${endpoint}: ${r.body}`).toBe(403);
        expect(r.body).toMatch(/Lifecycle API is not enabled/);
      }
      await new Promise((r) => setTimeout(r, 300));
      expect((await request(`${ours.url}/-/ready`, { timeoutMs: 2_000 })).status).toBe(200);
      expect(ours.svc.child.exitCode).toBeNull();
    } finally {
      await ours.cleanup();
    }
    // The defect put back (the chart's default flag): the same request stops the server.
    const open = await run(["--web.enable-lifecycle"]);
    try {
      const exited = new Promise<void>((resolve) => open.svc.child.once("exit", () => resolve()));
      const r = await request(`${open.url}/-/quit`, { method: "POST", timeoutMs: 5_000 });
      expect(r.status).toBe(200);
      await Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error("did not stop")), 15_000))]);
    } finally {
      await open.cleanup();
    }
  }, 90_000);
});
