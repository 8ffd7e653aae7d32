// The backup alert rules (components/backup/alerts.ts) under Prometheus' own rule engine
// (`promtool test rules`, Debian package prometheus): kube-state-metrics' CronJob series over three
// days for a healthy backup, one whose second run fails, one that never succeeds, one that was
// suspended, a suspended restore template, and one kube-state-metrics does not report. Each rule
// fires exactly where it should and nowhere else.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { backupAlertRules } from "../components/backup/alerts";
import { MAX_AGE_SECONDS, RUN_DEADLINE_SECONDS } from "../components/backup/jobs";
import { testContext } from "./helpers/context";
import { needs } from "./helpers/binaries";

const promtool = needs("promtool");
const ctx = testContext("oci");
const DAY = 86400;
const MINUTES = 3 * 24 * 60;

/** One value per minute from t = 0 (undefined: no sample), in promtool's notation, runs compressed. */
function series(f: (t: number) => number | undefined): string {
  const out: string[] = [];
  let prev: number | undefined | null = null;
  let run = 0;
  const flush = () => {
    if (prev === null) return;
    const v = prev === undefined ? "_" : String(prev);
    out.push(run > 0 ? `${v}x${run}` : v);
  };
  for (let m = 0; m < MINUTES; m++) {
    const v = f(m * 60);
    if (prev !== null && v === prev) { run++; continue; }
    flush();
    prev = v;
    run = 0;
  }
  flush();
  return out.join(" ");
}

/** A daily CronJob at `hour`: schedule times, and the completion times of the runs that succeed. */
function daily(hour: number, succeeds: (day: number) => boolean, lastDay = 3) {
  const runs = [0, 1, 2].filter((d) => d < lastDay).map((d) => d * DAY + hour * 3600);
  const scheduled = (t: number) => runs.filter((r) => r <= t).pop();
  const succeeded = (t: number) => runs.filter((r, i) => succeeds(i) && r + 300 <= t).map((r) => r + 300).pop();
  return { scheduled, succeeded };
}

interface Job { readonly ns: string; readonly cronjob: string; readonly info: boolean; readonly scheduled: (t: number) => number | undefined; readonly succeeded: (t: number) => number | undefined }

const JOBS: Job[] = [
  { ns: "gitea", cronjob: "backup-gitea", info: true, ...daily(1, () => true) },
  { ns: "registry", cronjob: "backup-registry", info: false, ...daily(2, (d) => d === 0) },
  { ns: "sample-app", cronjob: "backup-postgres", info: true, ...daily(3, () => false) },
  // Suspended after its first (successful) run.
  { ns: "backup", cronjob: "backup-k3s", info: true, ...daily(4, () => true, 1) },
  // A restore template: suspended, never scheduled, never successful. Never alerts.
  { ns: "gitea", cronjob: "restore-gitea", info: true, scheduled: () => undefined, succeeded: () => undefined },
];

function inputSeries() {
  const out: { series: string; values: string }[] = [];
  for (const j of JOBS) {
    const l = `{namespace="${j.ns}",cronjob="${j.cronjob}",job="kube-state-metrics"}`;
    out.push({ series: `kube_cronjob_created${l}`, values: series(() => 0) });
    if (j.info) out.push({ series: `kube_cronjob_info${l}`, values: series(() => 1) });
    out.push({ series: `kube_cronjob_status_last_schedule_time${l}`, values: series(j.scheduled) });
    out.push({ series: `kube_cronjob_status_last_successful_time${l}`, values: series(j.succeeded) });
  }
  return out;
}

const rules = backupAlertRules(ctx);
const rule = (name: string) => rules.rules.find((r) => r.alert === name)!;
const fill = (text: string, labels: Record<string, string>) => text.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, k) => labels[k]);

/** The alert as promtool reports it: the rule's labels plus the series', annotations filled in. */
function alert(name: string, labels: Record<string, string>) {
  const r = rule(name);
  const all = { ...labels, ...r.labels };
  return { exp_labels: all, exp_annotations: Object.fromEntries(Object.entries(r.annotations).map(([k, v]) => [k, fill(v, all)])) };
}
const ksm = (ns: string, cronjob: string) => ({ namespace: ns, cronjob, job: "kube-state-metrics" });

/** Expected firing alerts per evaluation time (seconds), per alert name. */
const at = (day: number, h: number, m = 0) => day * DAY + h * 3600 + m * 60;
const failed = (...js: [string, string][]) => js.map(([ns, cj]) => alert("BackupFailed", ksm(ns, cj)));
const stale = (...js: [string, string][]) => js.map(([ns, cj]) => alert("BackupTooOld", ksm(ns, cj)));
const REGISTRY: [string, string] = ["registry", "backup-registry"];
const POSTGRES: [string, string] = ["sample-app", "backup-postgres"];
const K3S: [string, string] = ["backup", "backup-k3s"];
const CASES: { t: number; why: string; firing: Record<string, ReturnType<typeof alert>[]> }[] = [
  { t: at(0, 0, 30), why: "before any run: nothing yet but the CronJob kube-state-metrics does not report, after 15 minutes", firing: {
    BackupFailed: [], BackupTooOld: [], BackupNotMonitored: [alert("BackupNotMonitored", { namespace: "registry", cronjob: "backup-registry" })],
  } },
  { t: at(0, 3, 50), why: "the database's first run started 50 minutes ago: within its deadline", firing: { BackupFailed: [] } },
  { t: at(0, 3, 58), why: "its deadline (55 minutes) passed without success: pending for 5 minutes", firing: { BackupFailed: [] } },
  { t: at(0, 4, 1), why: "then firing", firing: { BackupFailed: failed(POSTGRES) } },
  { t: at(1, 2, 30), why: "the registry's second run started, still within its deadline; the database still failing", firing: { BackupFailed: failed(POSTGRES) } },
  { t: at(1, 3, 10), why: "the registry's deadline passed; the database's new run is within its own again", firing: { BackupFailed: failed(REGISTRY) } },
  { t: at(1, 1, 50), why: "25h50m since the CronJob was created, nothing ever succeeded: not stale yet (a day plus a run plus an hour)", firing: { BackupTooOld: [] } },
  { t: at(1, 2, 1), why: "past it (and 5 minutes pending): the database is stale", firing: { BackupTooOld: stale(POSTGRES) } },
  { t: at(1, 4, 5), why: "the suspended K3s backup succeeded 24 hours ago: fresh", firing: { BackupTooOld: stale(POSTGRES) } },
  { t: at(2, 4, 30), why: "a day later: the registry (failing since) and the suspended K3s backup are stale; Gitea's is fresh", firing: {
    BackupTooOld: stale(REGISTRY, POSTGRES, K3S),
    BackupFailed: failed(REGISTRY, POSTGRES),
  } },
];

async function promtoolTest(dir: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(promtool.bin("promtool"), ["test", "rules", "test.yml"], { cwd: dir, timeout: 60_000, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === "ENOENT") return reject(new Error("promtool is not installed"));
      if (err && err.killed) return reject(new Error("promtool timed out"));
      resolve({ code: err ? Number(err.code ?? 1) : 0, output: `${stdout}\n${stderr}` });
    });
  });
}

describe("backup alert rules under Prometheus' engine (promtool test rules)", () => {
  it("the thresholds follow the jobs: a run's deadline, and a day plus a run plus an hour", () => {
    expect(RUN_DEADLINE_SECONDS).toBe(3300);
    expect(MAX_AGE_SECONDS).toBe(DAY + 3300 + 3600);
  });

  promtool.describe("with promtool", () => {
    it("each rule fires for the failed, never-successful, suspended and unwatched backups, and never for a healthy one or a restore template", async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "backup-alerts-"));
      try {
        fs.writeFileSync(path.join(dir, "rules.yml"), YAML.stringify({ groups: [rules] }));
        const tests = CASES.flatMap((c) => Object.entries(c.firing).map(([alertname, exp]) => ({ eval_time: `${c.t}s`, alertname, exp_alerts: exp })));
        fs.writeFileSync(path.join(dir, "test.yml"), YAML.stringify({
          rule_files: ["rules.yml"], evaluation_interval: "1m",
          tests: [{ interval: "1m", input_series: inputSeries(), alert_rule_test: tests }],
        }, { lineWidth: 0 }));
        const r = await promtoolTest(dir);
        expect(r.output).not.toMatch(/could not|error parsing|bad/i);
        expect(r.code, r.output).toBe(0);
        expect(r.output).toContain("SUCCESS");
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }, 90_000);

    it("promtool check rules accepts the file as Prometheus would load it", async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "backup-alerts-"));
      try {
        fs.writeFileSync(path.join(dir, "alerting_rules.yml"), YAML.stringify({ groups: [rules] }));
        const r = await new Promise<{ code: number; out: string }>((resolve) => execFile(promtool.bin("promtool"), ["check", "rules", "alerting_rules.yml"], { cwd: dir, encoding: "utf8" }, (err, so, se) => resolve({ code: err ? 1 : 0, out: so + se })));
        expect(r.code, r.out).toBe(0);
        expect(r.out).toContain(`SUCCESS: ${rules.rules.length} rules found`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
