// Issue 10, the cluster's share: two evaluations of a whole stack, before and after a day-two
// change, compared with the change model (test/helpers/changes.ts) and the registration record.
import { afterEach, describe, expect, it, vi } from "vitest";
import { changesBetween, inputSources } from "./helpers/changes";
import { Registration } from "./helpers/engine";
import { plain } from "./helpers/mocks";
import { runStack, runStackError, StackOptions, StackRun, TEST_SECRETS } from "./helpers/stack";
import * as YAML from "yaml";

afterEach(() => { vi.doUnmock("../components/lib/versions"); });

const STACKS = ["dev", "oci", "homelab"] as const;
/** The stack's test secrets plus these (a run's `secrets` replace the defaults). */
const secretsWith = (stack: string, extra: Record<string, string>) => ({ ...TEST_SECRETS[stack], ...extra });
const ROTATED = { "platform:registryPassword": "rotated-registry-password-1" };

function only(run: StackRun, pred: (r: Registration) => boolean, what: string): Registration {
  const all = [...run.engine.resources.values()].filter(pred);
  if (all.length !== 1) throw new Error(`expected one ${what}, found ${all.length}`);
  return all[0];
}
const provider = (run: StackRun) => only(run, (r) => r.type === "pulumi:providers:kubernetes", "Kubernetes provider");
/** A provider flag as the engine receives it (provider inputs travel as strings). */
const flag = (v: unknown) => String(plain(v));
const named = (run: StackRun, type: string, name: string) => only(run, (r) => r.type === type && r.name === name, `${type}::${name}`);

/** deletedWith as the engine resolves it: the resource's own, else its parent's (pulumi/pulumi#12572, resmon inheritFromParent). */
function effectiveDeletedWith(run: StackRun, r: Registration | undefined): string | undefined {
  if (!r) return undefined;
  return r.deletedWith ?? effectiveDeletedWith(run, r.parent ? run.engine.resources.get(r.parent) : undefined);
}

/** The resource whose deletion takes the cluster (what every object on it is deleted with). */
function clusterResource(run: StackRun, stack: (typeof STACKS)[number]): Registration {
  if (stack === "dev") return named(run, "command:local:Command", "k3d-cluster");
  if (stack === "oci") return named(run, "oci:Core/instance:Instance", "oci-server-0");
  return named(run, "command:remote:Command", "k3s-server");
}

/**
 * Evaluates a stack before and after a change and compares what a second `up` would do. `between`
 * changes the program itself (a pinned version); the second run sees the first's registrations, as
 * the engine sees the state.
 */
async function change(stack: string, after: StackOptions, between?: () => void) {
  const before = await evaluate(stack);
  between?.();
  const opts = { ...after, mocks: { ...after.mocks, previous: before.created } };
  // A changed program is evaluated afresh; the same change to the same baseline is evaluated once.
  const next = between ? await runStack(stack, opts) : await evaluate(stack, opts);
  return { before, after: next, set: changesBetween(before, next) };
}

/** Each distinct evaluation once per file (the suite shares two cores). */
const evaluations = new Map<string, Promise<StackRun>>();
function evaluate(stack: string, opts: StackOptions = {}): Promise<StackRun> {
  const key = `${stack} ${JSON.stringify({ ...opts, mocks: { ...opts.mocks, previous: opts.mocks?.previous ? "baseline" : undefined } })}`;
  if (!evaluations.has(key)) evaluations.set(key, runStack(stack, opts));
  return evaluations.get(key)!;
}

/** The program with one pinned version changed (as a commit bumping components/lib/versions.ts would). */
function bumpVersion(key: "k3s" | "k3d", value: string): () => void {
  return () => vi.doMock("../components/lib/versions", async (importOriginal) => {
    const actual = await importOriginal<typeof import("../components/lib/versions")>();
    return { ...actual, versions: { ...actual.versions, [key]: value } };
  });
}

describe("#1 refresh is safe: deleteUnreachable only when platform:deleteUnreachable says so", () => {
  for (const stack of STACKS) {
    it(`${stack}: off by default`, async () => {
      const run = await evaluate(stack);
      // Today: hard-coded "true".
      expect(flag(provider(run).inputs.deleteUnreachable)).toBe("undefined");
    });
  }

  it("on when the key is true; a value that is not a boolean fails naming the key", async () => {
    const on = await evaluate("oci", { config: { "platform:deleteUnreachable": "true" } });
    expect(flag(provider(on).inputs.deleteUnreachable)).toBe("true");
    const off = await evaluate("oci", { config: { "platform:deleteUnreachable": "false" } });
    expect(flag(provider(off).inputs.deleteUnreachable)).toBe("undefined");
    const { error, created } = await runStackError("oci", { config: { "platform:deleteUnreachable": "yes" } });
    expect(error.message).toMatch(/^platform:deleteUnreachable: must be true or false/);
    expect(created).toEqual([]);
  });

  it("turning it on and off again updates the provider, never replaces it or an object", async () => {
    const { set } = await change("homelab", { config: { "platform:deleteUnreachable": "true" } });
    expect(set.names("replace")).toEqual([]);
    expect(set.names("update")).toEqual(["pulumi:providers:kubernetes::k8s"]);
  });
});

describe("#2 a new address is not a new cluster", () => {
  const sameCluster = async (stack: string, after: StackOptions) => {
    const { before, after: next, set } = await change(stack, after);
    const p = provider(next);
    // Today: the provider is replaced ("kubeconfig points at another server"), and with it every object.
    expect(set.changes.get(p.urn)?.change, set.changes.get(p.urn)?.why).not.toBe("replace");
    const replaced = set.of("replace").filter((u) => u.split("::")[2].split("$").pop()!.startsWith("kubernetes:"));
    expect(replaced.filter((u) => /provider/.test(set.changes.get(u)!.why)).map((u) => u.split("::").pop())).toEqual([]);
    // What holds data stays: every PVC, StatefulSet and Namespace is left alone or updated in place.
    const kept = [...next.engine.resources.values()].filter((r) => /:(PersistentVolumeClaim|StatefulSet|Namespace)$/.test(r.type));
    expect(kept.length).toBeGreaterThanOrEqual(8);
    for (const r of kept) expect(set.changes.get(r.urn)?.change, r.name).toMatch(/^(same|update)$/);
    // Only a Job whose own content carries the address may be replaced: the bootstrap Job is
    // named after its content so that new content runs it again (gitops/bootstrap-repo.ts).
    expect(replaced.filter((u) => !u.includes("kubernetes:batch/v1:Job::")).map((u) => u.split("::").pop())).toEqual([]);
    expect(plain(p.inputs.clusterIdentifier)).toMatch(/\S/);
    expect(plain(p.inputs.clusterIdentifier)).toBe(plain(provider(before).inputs.clusterIdentifier));
    // Known during preview, too: it is made of ids, which an update keeps; only a created or
    // replaced source would make it unknown (and then the provider is replaced).
    const fresh = new Set([...set.of("create"), ...set.of("replace")]);
    expect(inputSources(next, p.urn, "clusterIdentifier").filter((u) => fresh.has(u))).toEqual([]);
    return { before, after: next, set };
  };

  it("oci: a new public IP (stopped and started instance) replaces no Kubernetes object", async () => {
    const { before, after } = await sameCluster("oci", { mocks: { ipOffset: 7 } });
    // The address did change: the kubeconfig follows it (an in-place provider update).
    const server = (run: StackRun) => YAML.parse(plain(provider(run).inputs.kubeconfig)).clusters[0].cluster.server;
    expect(server(after)).not.toBe(server(before));
  });

  it("homelab: an edited platform:hostAddress replaces no Kubernetes object", async () => {
    await sameCluster("homelab", { config: { "platform:hostAddress": "192.0.2.20" } });
  });

  it("dev: a k3d cluster created again is a new cluster: the identifier comes from the replaced cluster resource", async () => {
    const { after, set } = await change("dev", { config: { "platform:clusterName": "platform2" } });
    const sources = inputSources(after, provider(after).urn, "clusterIdentifier");
    expect(sources.filter((u) => set.of("replace").includes(u)).map((u) => u.split("::").pop())).toEqual(["k3d-cluster"]);
  });

  it("oci: a replaced server instance (another availability domain) is a new cluster", async () => {
    const { after, set } = await change("oci", { config: { "platform:availabilityDomainIndex": "1" } });
    const sources = inputSources(after, provider(after).urn, "clusterIdentifier");
    expect(sources.filter((u) => set.of("replace").includes(u)).map((u) => u.split("::").pop())).toEqual(["oci-server-0"]);
  });

  it("homelab: the identity is the K3s install (`pulumi up --replace` it for a new cluster on the same host)", async () => {
    const run = await evaluate("homelab");
    const sources = inputSources(run, provider(run).urn, "clusterIdentifier").map((u) => u.split("::").pop());
    expect(sources).toEqual(["k3s-server"]);
  });
});

describe("#7 previews tell the truth: the kubeconfig does not depend on inputs that do not change it", () => {
  const kubeconfigStaysKnown = async (stack: string, after: StackOptions, between?: () => void) => {
    const { after: next, set } = await change(stack, after, between);
    const p = provider(next);
    const unknown = inputSources(next, p.urn, "kubeconfig").filter((u) => set.unknownInPreview.has(u));
    // Today: the kubeconfig read is re-run (triggers on the install's stdin), so the preview shows
    // the provider replaced and every chart child deleted.
    expect(unknown.map((u) => u.split("::").pop())).toEqual([]);
    expect(set.changes.get(p.urn)?.change).not.toBe("replace");
    return set;
  };

  for (const stack of ["oci", "homelab"] as const) {
    it(`${stack}: a rotated registry password (registries.yaml) re-runs the install, not the kubeconfig`, async () => {
      const set = await kubeconfigStaysKnown(stack, { secrets: secretsWith(stack, ROTATED) });
      expect(set.names("update")).toContain("command:remote:Command::k3s-server");
    });

    it(`${stack}: a new K3s version re-runs the install, not the kubeconfig`, async () => {
      const set = await kubeconfigStaysKnown(stack, {}, bumpVersion("k3s", "v1.35.10+k3s1"));
      expect(set.names("update")).toContain("command:remote:Command::k3s-server");
    });
  }

  it("homelab: new kubelet reservations (config.yaml, from platform:hostMemoryGb) re-run the install, not the kubeconfig", async () => {
    const set = await kubeconfigStaysKnown("homelab", { config: { "platform:hostMemoryGb": "16" } });
    expect(set.names("update")).toContain("command:remote:Command::k3s-server");
  });

  it("oci: a new public IP (tls-san in config.yaml, the SSH address) keeps the kubeconfig known", async () => {
    await kubeconfigStaysKnown("oci", { mocks: { ipOffset: 7 } });
  });

  it("dev: a new k3d version in the environment keeps the kubeconfig known", async () => {
    const set = await kubeconfigStaysKnown("dev", {}, bumpVersion("k3d", "v5.9.1"));
    expect(set.names("update")).toContain("command:local:Command::k3d-cluster");
  });

  it("dev: a rotated registry password keeps the kubeconfig known", async () => {
    await kubeconfigStaysKnown("dev", { secrets: secretsWith("dev", ROTATED) });
  });
});

describe("#3 rotations on the nodes: the registry password in place, the K3s token refused with what to do", () => {
  it("dev: a rotated registry password reaches the nodes' registries.yaml in place and recreates nothing", async () => {
    const { set } = await change("dev", { secrets: secretsWith("dev", ROTATED) });
    // Today: command:local:Command::k3d-cluster is replaced (the password is in the config hash).
    // Nothing else: CI pushes as its own registry user (#14.1), so the bootstrap Job stays.
    expect(set.names("replace")).toEqual([]);
    expect(set.names("update")).toContain("command:local:Command::k3d-registries");
  });

  for (const stack of ["oci", "homelab"] as const) {
    it(`${stack}: a rotated registry password updates registries.yaml through the install and replaces nothing`, async () => {
      const { after, set } = await change(stack, { secrets: secretsWith(stack, ROTATED) });
      // Nothing: CI pushes as its own registry user (#14.1), so the bootstrap Job stays.
      expect(set.names("replace")).toEqual([]);
      const stdin: string = plain(named(after, "command:remote:Command", "k3s-server").inputs.stdin);
      const m = /export REGISTRIES_B64="\$\(printf '%s' '([^']*)'/.exec(stdin)!;
      const registries = Buffer.from(Buffer.from(m[1], "base64").toString("utf8"), "base64").toString("utf8");
      expect(registries).toContain("rotated-registry-password-1");
    });
  }

  for (const stack of ["oci", "homelab"] as const) {
    it(`${stack}: a new platform:k3sToken is refused at preview, with how to rotate it and how to make the stack accept it (platform:k3sTokenRotated)`, async () => {
      const { guardCheck } = await import("../components/lib/guard");
      const secrets = (token: string) => secretsWith(stack, { "platform:k3sToken": token });
      const before = await evaluate(stack, { secrets: secrets("first-k3s-token-0123456789") });
      const after = await evaluate(stack, { secrets: secrets("second-k3s-token-0123456789") });
      const guard = (run: StackRun) => named(run, "pulumi-nodejs:dynamic:Resource", "k3s-token-guard");
      const [a, b] = [guard(before).inputs, guard(after).inputs];
      // A fingerprint, never the token, and a secret all the same.
      expect(JSON.stringify(b)).not.toContain("second-k3s-token");
      expect(plain(b.fingerprint)).toMatch(/^[0-9a-f]{64}$/);
      const failure = guardCheck(plain(a), plain(b)).failures?.[0];
      expect(failure?.reason).toMatch(/k3s token rotate --new-token/);
      expect(failure?.reason).toMatch(/pulumi config set platform:k3sTokenRotated/);
      expect(guardCheck(plain(a), plain(guard(await runStack(stack, { secrets: secrets("first-k3s-token-0123456789") })).inputs)).failures).toBeUndefined();
      // After `k3s token rotate`: a new platform:k3sTokenRotated lets this one change through, once.
      const confirmed = await evaluate(stack, { config: { "platform:k3sTokenRotated": "2026-07-20" }, secrets: secrets("second-k3s-token-0123456789") });
      expect(guardCheck(plain(a), plain(guard(confirmed).inputs)).failures).toBeUndefined();
      const reused = await evaluate(stack, { config: { "platform:k3sTokenRotated": "2026-07-20" }, secrets: secrets("third-k3s-token-0123456789") });
      expect(guardCheck(plain(guard(confirmed).inputs), plain(guard(reused).inputs)).failures?.[0].reason).toMatch(/k3s token rotate/);
      // The install waits for the guard, so `up --skip-preview` cannot install first either.
      expect(named(after, "command:remote:Command", "k3s-server").dependencies).toContain(guard(after).urn);
    });
  }
});

describe("#3 platform:k3sTokenRotated", () => {
  it("a value that is not a short token fails before anything is registered, naming the key", async () => {
    const { error, created } = await runStackError("homelab", { config: { "platform:k3sTokenRotated": "rotated on the 20th!" } });
    expect(error.message).toMatch(/^platform:k3sTokenRotated: must be a short token/);
    expect(created).toEqual([]);
  });
});

describe("#6 a year later it still deploys: the stack authenticates with a token, not the one-year client certificate", () => {
  for (const stack of STACKS) {
    it(`${stack}: the provider's kubeconfig has the cluster CA and a ServiceAccount token, no client certificate`, async () => {
      const run = await evaluate(stack);
      const kc = YAML.parse(plain(provider(run).inputs.kubeconfig));
      const user = kc.users[0].user;
      expect(Object.keys(user)).toEqual(["token"]);
      expect(kc.clusters[0].cluster["certificate-authority-data"]).toMatch(/^[A-Za-z0-9+/=]+$/);
      expect(JSON.stringify(kc)).not.toMatch(/client-(certificate|key)/);
    });
  }
});

describe("#8 destroy finishes: the cluster's objects go with the cluster", () => {
  for (const stack of STACKS) {
    it(`${stack}: every Kubernetes resource is deleted with the cluster resource, not one by one before it`, async () => {
      const run = await evaluate(stack);
      const cluster = clusterResource(run, stack);
      const k8s = [...run.engine.resources.values()].filter((r) => r.type.startsWith("kubernetes:"));
      expect(k8s.length).toBeGreaterThan(50);
      const wrong = k8s.filter((r) => effectiveDeletedWith(run, r) !== cluster.urn).map((r) => `${r.type}::${r.name}`);
      expect(wrong).toEqual([]);
      // Charts included: their rendered children inherit it from the Chart.
      expect(k8s.filter((r) => r.type === "kubernetes:helm.sh/v4:Chart").length).toBeGreaterThanOrEqual(5);
    });
  }

  it("oci: K3s is not uninstalled over SSH when the instance it runs on is deleted anyway", async () => {
    const run = await evaluate("oci");
    expect(named(run, "command:remote:Command", "k3s-server").deletedWith).toBe(named(run, "oci:Core/instance:Instance", "oci-server-0").urn);
  });

  it("homelab: an uninstall that fails fails the destroy (no `|| true`), and a host without K3s is not an error", async () => {
    const run = await evaluate("homelab");
    const del: string = plain(named(run, "command:remote:Command", "k3s-server").inputs.delete);
    expect(del).not.toMatch(/\|\|\s*true/);
    expect(del).toMatch(/if \[ -x \/usr\/local\/bin\/k3s-uninstall\.sh \]; then sudo -n \/usr\/local\/bin\/k3s-uninstall\.sh; else/);
  });
});

describe("a new server is a new cluster for its agents too", () => {
  it("oci with two nodes: each agent's install is replaced (uninstall first, then join) with the server's machine or install", async () => {
    const run = await evaluate("oci", { config: { "platform:nodeCount": "2", "platform:ocpus": "1", "platform:memoryGb": "6" } });
    const server = named(run, "command:remote:Command", "k3s-server");
    const agent = named(run, "command:remote:Command", "k3s-agent-1");
    // Without a trigger the agent is only updated, and install-k3s.sh reinstalls only on a version change:
    // it would stay joined to the deleted server.
    expect(agent.deleteBeforeReplace).toBe(true);
    expect(plain(agent.inputs.triggers)).toEqual(expect.arrayContaining([`${server.name}-id`]));
    expect(agent.propertyDependencies.triggers).toEqual(expect.arrayContaining([server.urn]));
  });
});
