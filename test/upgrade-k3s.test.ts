// scripts/ops/upgrade-k3s.sh against stub kubectl and pulumi: the version comes from versions.ts,
// a datastore backup runs first, servers before agents, each node through `pulumi up --target` of
// its own install command, drained and uncordoned only when there is another node to move to; and
// what it refuses (a skipped minor, a downgrade, a k3d node, a node not Ready).
import * as fs from "fs";
import * as path from "path";
import { afterEach, describe, expect, it } from "vitest";
import { versions } from "../components/lib/versions";
import { Sandbox, sandbox } from "./helpers/sandbox";
import { ROOT } from "./helpers/stack";

const SCRIPT = path.join(ROOT, "scripts/ops/upgrade-k3s.sh");
const TARGET = versions.k3s;
const minor = Number(/^v1\.(\d+)\./.exec(TARGET)![1]);
const PREVIOUS = `v1.${minor - 1}.4+k3s1`;
const stubBody = (file: string) => fs.readFileSync(path.join(ROOT, "test/helpers/stubs", file), "utf8").replace(/^#!.*\n/, "");
const URN = (name: string) => `urn:pulumi:oci::gitops-platform::platform:index:Platform$platform:cluster:K3s$command:remote:Command::${name}`;

let boxes: Sandbox[] = [];
afterEach(() => {
  for (const b of boxes) b.cleanup();
  boxes = [];
});

/** nodes: "name|version|control-plane label|Ready" as the script's jsonpath prints them. */
function setup(nodes: string[], urns: string[], env: Record<string, string> = {}) {
  const b = sandbox("upgrade");
  boxes.push(b);
  fs.writeFileSync(path.join(b.root, "nodes"), `${nodes.join("\n")}\n`);
  fs.writeFileSync(path.join(b.root, "urns"), `${urns.join("\n")}\n`);
  b.stub("kubectl", stubBody("kubectl-upgrade.sh"));
  b.stub("pulumi", stubBody("pulumi.sh"));
  const run = (args: string[] = [], extra: Record<string, string> = {}) =>
    b.run("bash", [SCRIPT, ...args], { STATE: b.root, TARGET, POLL_SECONDS: "0.2", UPGRADE_TIMEOUT: "2", UPGRADE_STAMP: "20270101000000", ...env, ...extra });
  return { b, run };
}

const mutations = (calls: string[]) => calls.filter((c) => / (drain|uncordon|create job|up --yes)/.test(c));

describe("scripts/ops/upgrade-k3s.sh against stub kubectl and pulumi", () => {
  it(`one node (homelab): backs up the datastore, then pulumi up --target its install command to ${TARGET}; no drain`, () => {
    const { run } = setup([`ubuntu-host|${PREVIOUS}|true|True`], [URN("k3s-server"), URN("k3s-kubeconfig")], { SERVER: "ubuntu-host" });
    // The API is down for the first polls while the server restarts: the script keeps polling.
    const r = run([], { API_DOWN_POLLS: "2" });
    expect(r.status, r.stderr).toBe(0);
    expect(mutations(r.calls)).toEqual([
      "kubectl -n backup create job pre-upgrade-20270101000000 --from=cronjob/backup-k3s",
      `pulumi up --yes --skip-preview --target ${URN("k3s-server")}`,
    ]);
    expect(r.calls).toContain("kubectl -n backup wait --for=condition=complete job/pre-upgrade-20270101000000 --timeout=2s");
    expect(r.stdout).toContain(`upgrade-k3s: ubuntu-host runs ${TARGET}`);
  });

  it("two nodes (oci): the server first, then the agent, each drained before and uncordoned after", () => {
    const { run } = setup([`agent-1|${PREVIOUS}||True`, `server-0|${PREVIOUS}|true|True`], [URN("k3s-server"), URN("k3s-agent-1")], { SERVER: "server-0" });
    const r = run();
    expect(r.status, r.stderr).toBe(0);
    expect(mutations(r.calls).slice(1)).toEqual([
      "kubectl drain server-0 --ignore-daemonsets --delete-emptydir-data --timeout=2s",
      `pulumi up --yes --skip-preview --target ${URN("k3s-server")}`,
      "kubectl uncordon server-0",
      "kubectl drain agent-1 --ignore-daemonsets --delete-emptydir-data --timeout=2s",
      `pulumi up --yes --skip-preview --target ${URN("k3s-agent-1")}`,
      "kubectl uncordon agent-1",
    ]);
  });

  it("nodes already at the pin change nothing; --dry-run prints the plan and changes nothing", () => {
    const current = setup([`server-0|${TARGET}|true|True`], [URN("k3s-server")], { SERVER: "server-0" }).run();
    expect(current.status, current.stderr).toBe(0);
    expect(current.stdout).toContain("nothing to do");
    expect(mutations(current.calls)).toEqual([]);
    const dry = setup([`server-0|${PREVIOUS}|true|True`], [URN("k3s-server")], { SERVER: "server-0" }).run(["--dry-run"]);
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`+ pulumi up --yes --skip-preview --target ${URN("k3s-server")}`);
    expect(mutations(dry.calls)).toEqual([]);
  });

  it("refuses a skipped minor version, a downgrade, a k3d node and a node that is not Ready, before changing anything", () => {
    const cases: [string, string, RegExp][] = [
      ["skip", `server-0|v1.${minor - 2}.9+k3s1|true|True`, /one minor version at a time/],
      ["downgrade", `server-0|v1.${minor + 1}.0+k3s1|true|True`, /downgrades are not supported/],
      ["k3d", `k3d-platform-server-0|${PREVIOUS}|true|True`, /k3d node: on dev, pulumi up recreates/],
      ["not ready", `server-0|${PREVIOUS}|true|False`, /is not Ready/],
    ];
    for (const [what, node, message] of cases) {
      const r = setup([node], [URN("k3s-server")], { SERVER: "server-0" }).run();
      expect(r.status, what).not.toBe(0);
      expect(r.stderr, what).toMatch(message);
      expect(mutations(r.calls), what).toEqual([]);
    }
  });

  it("a node whose install command is not in the stack's state, or that never reports the new version, fails", () => {
    const noUrn = setup([`server-0|${PREVIOUS}|true|True`], [URN("k3s-kubeconfig")], { SERVER: "server-0" }).run(["--no-backup"]);
    expect(noUrn.status).not.toBe(0);
    expect(noUrn.stderr).toContain("no command:remote:Command::k3s-server in the stack's state");
    const stuck = setup([`server-0|${PREVIOUS}|true|True`], [URN("k3s-server")], { SERVER: "server-0", STUCK: "1" }).run(["--no-backup"]);
    expect(stuck.status).not.toBe(0);
    expect(stuck.stderr).toContain(`node server-0 is "${PREVIOUS} True" after 2s, expected "${TARGET} True"`);
  });

  it("the target is the versions.ts pin (what Renovate bumps), unless K3S_VERSION overrides it", () => {
    const r = setup([`server-0|${PREVIOUS}|true|True`], [URN("k3s-server")], { SERVER: "server-0" }).run(["--dry-run"], { K3S_VERSION: "v1.99.0+k3s1" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/one minor version at a time/);
    expect(setup([], []).run(["--dry-run"], { K3S_VERSION: "1.35" }).stderr).toMatch(/no K3s version like v1.35.9\+k3s1/);
  });
});
