// scripts/ops/restore.sh against a stub kubectl (and ssh): the order of its steps per component
// (stop the writer, run the rendered restore template as a Job, wait, start the writer, post-steps),
// the snapshot choice, and what it refuses.
import * as fs from "fs";
import * as path from "path";
import { afterEach, describe, expect, it } from "vitest";
import { Sandbox, sandbox } from "./helpers/sandbox";
import { ROOT } from "./helpers/stack";

const SCRIPT = path.join(ROOT, "scripts/ops/restore.sh");
const stubBody = (file: string) => fs.readFileSync(path.join(ROOT, "test/helpers/stubs", file), "utf8").replace(/^#!.*\n/, "");

let boxes: Sandbox[] = [];
afterEach(() => {
  for (const b of boxes) b.cleanup();
  boxes = [];
});

function setup(env: Record<string, string> = {}) {
  const b = sandbox("restore");
  boxes.push(b);
  b.stub("kubectl", stubBody("kubectl-restore.sh"));
  b.stub("ssh", `cat > "${b.root}/ssh-stdin"`);
  const run = (args: string[], extra: Record<string, string> = {}) => b.run("bash", [SCRIPT, ...args], { STATE: b.root, POLL_SECONDS: "0", RESTORE_STAMP: "20270101000000", ...env, ...extra }, "");
  return { b, run };
}

describe("scripts/ops/restore.sh against a stub kubectl", () => {
  it("gitea: stop Gitea, run restore-gitea as a Job from its template, wait, start Gitea, regenerate its hooks", () => {
    const { run } = setup();
    const r = run(["gitea", "--yes"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls.filter((c) => !c.includes("get job/"))).toEqual([
      "kubectl config current-context",
      "kubectl -n gitea get cronjob/restore-gitea",
      "kubectl -n gitea delete configmap backup-restore --ignore-not-found",
      "kubectl -n gitea scale deployment/gitea-chart --replicas=0",
      "kubectl -n gitea get pod -l app.kubernetes.io/name=gitea,app.kubernetes.io/instance=gitea-chart -o name",
      "kubectl -n gitea wait --for=delete pod -l app.kubernetes.io/name=gitea,app.kubernetes.io/instance=gitea-chart --timeout=300s",
      "kubectl -n gitea create job restore-gitea-20270101000000 --from=cronjob/restore-gitea",
      "kubectl -n gitea logs job/restore-gitea-20270101000000 --all-containers --prefix",
      "kubectl -n gitea delete configmap backup-restore --ignore-not-found",
      "kubectl -n gitea scale deployment/gitea-chart --replicas=1",
      "kubectl -n gitea rollout status deployment/gitea-chart --timeout=600s",
      "kubectl -n gitea exec deployment/gitea-chart -c gitea -- gitea admin regenerate hooks",
    ]);
    // It waited for the Job: polled until it reported success.
    expect(r.calls.filter((c) => c.includes("get job/restore-gitea-20270101000000"))).toHaveLength(3);
    expect(r.stdout).toContain('restore: gitea on the cluster of context "homelab"');
  });

  it("a writer that is already stopped (a second attempt) is not waited for", () => {
    const { run } = setup();
    const r = run(["registry", "--yes"], { NO_PODS: "1" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls.some((c) => c.includes(" wait --for=delete"))).toBe(false);
  });

  it("--snapshot picks one snapshot through the backup-restore ConfigMap the template reads", () => {
    const { b, run } = setup();
    const r = run(["registry", "--snapshot", "4f2a9c1e", "--yes"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toContain("kubectl -n registry create configmap backup-restore --from-literal=SNAPSHOT=4f2a9c1e --dry-run=client -o yaml");
    expect(fs.readFileSync(path.join(b.root, "applied.yaml"), "utf8")).toContain("SNAPSHOT: 4f2a9c1e");
    expect(r.calls).toContain("kubectl -n registry scale deployment/registry --replicas=0");
  });

  it("postgres restores into the running database (no writer is stopped); all = gitea, registry, postgres, not the datastore", () => {
    const { run } = setup();
    const pg = run(["postgres", "--yes"]);
    expect(pg.status, pg.stderr).toBe(0);
    expect(pg.calls.some((c) => c.includes(" scale "))).toBe(false);
    expect(pg.calls).toContain("kubectl -n sample-app create job restore-postgres-20270101000000 --from=cronjob/restore-postgres");
    const all = run(["all", "--yes"], { JOB_POLLS: "0" });
    expect(all.status, all.stderr).toBe(0);
    const jobs = all.calls.filter((c) => c.includes(" create job ")).map((c) => c.split(" ")[2]);
    expect(jobs).toEqual(["gitea", "registry", "sample-app"]);
  });

  it("k3s: stages the datastore, then with --ssh swaps it in on the server with the node-side script", () => {
    const { b, run } = setup();
    const r = run(["k3s", "--ssh", "ubuntu@192.0.2.10", "--yes"], { JOB_POLLS: "0" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toContain("kubectl -n backup create job restore-k3s-20270101000000 --from=cronjob/restore-k3s");
    expect(r.calls).toContain("ssh ubuntu@192.0.2.10 sudo -n bash -s");
    expect(fs.readFileSync(path.join(b.root, "ssh-stdin"), "utf8")).toBe(fs.readFileSync(path.join(ROOT, "components/backup/scripts/k3s-swap-datastore.sh"), "utf8"));
    const printed = run(["k3s", "--yes"], { JOB_POLLS: "0" });
    expect(printed.calls.some((c) => c.startsWith("ssh"))).toBe(false);
    expect(printed.stdout).toContain("sudo bash -s < components/backup/scripts/k3s-swap-datastore.sh");
  });

  it("a failed restore Job stops there, with its logs, and leaves the writer stopped (an emptied volume must not be served)", () => {
    const { run } = setup();
    const r = run(["gitea", "--yes"], { JOB_RESULT: "failed" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("job gitea/restore-gitea-20270101000000 failed");
    expect(r.calls).toContain("kubectl -n gitea logs job/restore-gitea-20270101000000 --all-containers --prefix");
    expect(r.calls).not.toContain("kubectl -n gitea scale deployment/gitea-chart --replicas=1");
  });

  it("a restore Job that never finishes fails after RESTORE_TIMEOUT", () => {
    const { run } = setup();
    const r = run(["registry", "--yes"], { JOB_POLLS: "100000", RESTORE_TIMEOUT: "1", POLL_SECONDS: "0.2" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("job registry/restore-registry-20270101000000 did not finish within 1s");
  });

  it("refuses without confirmation, a malformed snapshot, a snapshot for several components, and a cluster without the templates", () => {
    const { run } = setup();
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["gitea"], {}, /pass --yes/],
      [["gitea", "--snapshot", "x; rm -rf /", "--yes"], {}, /must be a restic snapshot ID/],
      [["all", "--snapshot", "4f2a9c1e", "--yes"], {}, /one snapshot of one component/],
      [["gitea", "--yes"], { MISSING_CRONJOB: "1" }, /no cronjob\/restore-gitea in gitea: run pulumi up first/],
      [["nothing"], {}, /Usage|gitea\|registry/],
    ];
    for (const [args, env, message] of cases) {
      const r = run(args, env);
      expect(r.status, args.join(" ")).not.toBe(0);
      expect(r.stderr, args.join(" ")).toMatch(message);
      expect(r.calls.filter((c) => / (scale|create job|delete) /.test(c)), args.join(" ")).toEqual([]);
    }
  });
});
