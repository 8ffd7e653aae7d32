// Day two on oci (issue 10, item 5): replacing a node fits the free tier and says what it costs
// first; a new platform:sshPublicKey reaches the node without cutting Pulumi off. Each case is two
// evaluations of the whole stack (before and after a change) compared with the change model, and
// the guards judged as the engine runs them: `check(olds, news)` with the preview's unknowns.
import { describe, expect, it } from "vitest";
import { ALWAYS_FREE } from "../config";
import { guardCheck, guardProvider } from "../components/lib/guard";
import { REPLACE_NODE_KEY } from "../components/host/node-replacement";
import { adoptionKey, launchAuthorizedKeys } from "../components/host/ssh-keys";
import { ChangeSet, changesBetween } from "./helpers/changes";
import { Registration } from "./helpers/engine";
import { plain } from "./helpers/mocks";
import { runStack, StackOptions, StackRun } from "./helpers/stack";
import { ociHostCommands } from "./helpers/oci-host";

const INSTANCE = "oci:Core/instance:Instance";
const GUARD = "pulumi-nodejs:dynamic:Resource";
/** What a preview sends for a value it cannot know yet (@pulumi/pulumi runtime/rpc unknownValue). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const oci = (config: Record<string, string | undefined> = {}, secrets: Record<string, string> = {}, more: StackOptions = {}) =>
  runStack("oci", { config, secrets, ...more });

function byName(run: StackRun, type: string, name: string): Registration {
  const r = [...run.engine.resources.values()].find((x) => x.type === type && x.name === name);
  if (!r) throw new Error(`no ${type}::${name}`);
  return r;
}
const instances = (run: StackRun) => [...run.engine.resources.values()].filter((r) => r.type === INSTANCE);

/**
 * A guard's verdict as the engine reaches it in a preview: olds are the first run's inputs, news the
 * second's, with every input that comes from a resource being created or replaced still unknown.
 * `replaced` adds resources a `pulumi up --replace <urn>` targets.
 */
function previewVerdict(before: StackRun, after: StackRun, set: ChangeSet, guardName: string, replaced: string[] = []) {
  const unknown = new Set([...set.unknownInPreview, ...replaced]);
  const news = byName(after, GUARD, guardName);
  const inputs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(news.inputs)) {
    inputs[k] = (news.propertyDependencies[k] ?? []).some((u) => unknown.has(u)) ? UNKNOWN : plain(v);
  }
  const olds = plain(byName(before, GUARD, guardName).inputs);
  return guardCheck(olds, inputs as any).failures?.map((f) => f.reason) ?? [];
}

const shape = (r: Registration) => ({ ocpus: Number(plain(r.inputs.shapeConfig).ocpus), memoryGb: Number(plain(r.inputs.shapeConfig).memoryInGbs) });

/**
 * The most A1 capacity alive at once while the engine carries out `set`: deletes of resources gone
 * from the program and of create-before-delete replacements come last, after every create; a
 * delete-before-replace frees the old instance first. An in-place resize counts at its larger size
 * unless every instance the run creates waits for it (dependsOn).
 */
function peakA1(before: StackRun, after: StackRun, set: ChangeSet) {
  const total = { ocpus: 0, memoryGb: 0 };
  const add = (s: { ocpus: number; memoryGb: number }) => { total.ocpus += s.ocpus; total.memoryGb += s.memoryGb; };
  const created = instances(after).filter((r) => ["create", "replace"].includes(set.changes.get(r.urn)!.change));
  for (const r of instances(after)) {
    const { change } = set.changes.get(r.urn)!;
    const old = before.engine.resources.get(r.urn);
    if (change === "replace" && !r.deleteBeforeReplace) add(shape(old!));
    if (change === "update" && !created.every((c) => c.urn === r.urn || c.dependencies.includes(r.urn))) {
      const [a, b] = [shape(old!), shape(r)];
      add({ ocpus: Math.max(a.ocpus, b.ocpus), memoryGb: Math.max(a.memoryGb, b.memoryGb) });
      continue;
    }
    add(shape(r));
  }
  for (const r of instances(before)) if (!after.engine.resources.has(r.urn)) add(shape(r));
  return total;
}

describe("day two 5: replacing a node is delete-first, within the Always Free allowance", () => {
  it("an availability domain change replaces the instance delete-before-replace, never above 2 OCPU / 12 GB", async () => {
    const before = await oci();
    const after = await oci({ "platform:availabilityDomainIndex": "1" });
    const set = changesBetween(before, after);
    expect(set.names("replace")).toContain(`${INSTANCE}::oci-server-0`);
    expect(set.changes.get(byName(after, INSTANCE, "oci-server-0").urn)!.why).toMatch(/availabilityDomain changed \(ForceNew\)/);
    expect(byName(after, INSTANCE, "oci-server-0").deleteBeforeReplace).toBe(true);
    // Create-before-delete would hold 4 OCPU / 24 GB for the length of the K3s install.
    expect(peakA1(before, after, set)).toEqual({ ocpus: ALWAYS_FREE.ocpus, memoryGb: ALWAYS_FREE.memoryGb });
  });

  it("two nodes of 1/6 moved together stay at 2/12; splitting one 2/12 node waits for the server to shrink", async () => {
    const two = { "platform:nodeCount": "2", "platform:ocpus": "1", "platform:memoryGb": "6" };
    const before = await oci(two);
    const moved = await oci({ ...two, "platform:availabilityDomainIndex": "1" });
    const set = changesBetween(before, moved);
    expect(set.names("replace").filter((n) => n.startsWith(INSTANCE))).toEqual([`${INSTANCE}::oci-agent-1`, `${INSTANCE}::oci-server-0`]);
    expect(peakA1(before, moved, set)).toEqual({ ocpus: 2, memoryGb: 12 });

    const single = await oci();
    const split = changesBetween(single, before);
    expect(split.names("update")).toContain(`${INSTANCE}::oci-server-0`);
    expect(split.names("create")).toContain(`${INSTANCE}::oci-agent-1`);
    expect(peakA1(single, before, split)).toEqual({ ocpus: 2, memoryGb: 12 });
  });

  it("a new image, Ubuntu version or shape leaves the instance in place (no replacement, no boot volume swap)", async () => {
    const before = await oci();
    for (const config of [{ "platform:ubuntuVersion": "22.04" }, { "platform:ocpus": "3", "platform:memoryGb": "18", "platform:allowPaidShapes": "true" }, { "platform:bootVolumeGb": "60" }]) {
      const after = await oci(config);
      const set = changesBetween(before, after);
      expect(set.names("replace").filter((n) => n.startsWith("oci:")), JSON.stringify(config)).toEqual([]);
      const change = set.changes.get(byName(before, INSTANCE, "oci-server-0").urn)!;
      expect(change.why, JSON.stringify(config)).not.toMatch(/sourceId|metadata/);
      for (const guard of ["oci-server-0-placement", "oci-server-0-instance"]) expect(previewVerdict(before, after, set, guard)).toEqual([]);
    }
  });
});

describe("day two 5: a replacement is refused at preview, saying what is lost, until the user confirms it", () => {
  it("an availability domain change stops at the placement guard, which the instance waits for", async () => {
    const before = await oci();
    const after = await oci({ "platform:availabilityDomainIndex": "1" });
    const set = changesBetween(before, after);
    const [reason] = previewVerdict(before, after, set, "oci-server-0-placement");
    expect(reason).toMatch(/^Refused: node server-0 \(OCI instance oci-server-0\) would be replaced: platform:availabilityDomainIndex 1/);
    for (const lost of ["boot volume", "Gitea's repositories", "registry's images", "PostgreSQL database", "local-path"]) expect(reason).toContain(lost);
    expect(reason).toMatch(/Back up first: a backup of the boot volume/);
    expect(reason).toContain(`pulumi config set ${REPLACE_NODE_KEY}`);
    // Checked before the instance: the engine never reaches the delete, even with --skip-preview.
    expect(byName(after, INSTANCE, "oci-server-0").dependencies).toContain(byName(after, GUARD, "oci-server-0-placement").urn);
    // And the identity guard sees the instance's id unknown at preview: refused there too.
    expect(previewVerdict(before, after, set, "oci-server-0-instance")[0]).toMatch(/^Refused: node server-0/);
  });

  it("`pulumi up --replace` of the instance (no input changed) is refused by the identity guard", async () => {
    const before = await oci();
    const after = await oci();
    const set = changesBetween(before, after);
    const instance = byName(after, INSTANCE, "oci-server-0").urn;
    expect(previewVerdict(before, after, set, "oci-server-0-instance")).toEqual([]);
    expect(previewVerdict(before, after, set, "oci-server-0-instance", [instance])[0]).toMatch(/`pulumi up --replace` asked for it/);
    // The commands that reach the node wait for it, so K3s never lands on an unconfirmed node.
    expect(byName(after, "command:remote:Command", "oci-server-0-cloud-init").dependencies).toContain(byName(after, GUARD, "oci-server-0-instance").urn);
  });

  it("a new platform:replaceNode lets the change through, once; the same value again does not", async () => {
    const before = await oci();
    const confirmed = await oci({ "platform:availabilityDomainIndex": "1", "platform:replaceNode": "2026-07-20" });
    const set = changesBetween(before, confirmed);
    expect(set.names("replace")).toContain(`${INSTANCE}::oci-server-0`);
    for (const guard of ["oci-server-0-placement", "oci-server-0-instance"]) {
      expect(previewVerdict(before, confirmed, set, guard), guard).toEqual([]);
      expect(set.names("update"), guard).toContain(`${GUARD}::${guard}`); // records the value it accepted
    }
    // Left in config, the value confirms nothing else: moving back needs a new one.
    const back = await oci({ "platform:availabilityDomainIndex": "0", "platform:replaceNode": "2026-07-20" });
    const again = changesBetween(confirmed, back);
    expect(previewVerdict(confirmed, back, again, "oci-server-0-placement")[0]).toMatch(/^Refused/);
    expect(previewVerdict(confirmed, back, again, "oci-server-0-instance")[0]).toMatch(/^Refused/);
    const removed = await oci({ "platform:availabilityDomainIndex": "0" });
    expect(previewVerdict(confirmed, removed, changesBetween(confirmed, removed), "oci-server-0-placement")[0]).toMatch(/^Refused/);
  });

  it("a confirmation alone changes nothing but the guards' record", async () => {
    const before = await oci();
    const after = await oci({ "platform:replaceNode": "2026-07-20" });
    const set = changesBetween(before, after);
    expect(set.names("replace")).toEqual([]);
    expect(set.names("update")).toEqual([`${GUARD}::oci-server-0-instance`, `${GUARD}::oci-server-0-placement`]);
  });
});

describe("day two 5: the change model's oci Instance rule (terraform-provider-oci v8.23.0 core_instance_resource.go)", () => {
  const base = {
    availabilityDomain: "AD-1", shape: "VM.Standard.A1.Flex", shapeConfig: { ocpus: 2, memoryInGbs: 12 },
    sourceDetails: { sourceType: "image", sourceId: "img-1", bootVolumeSizeInGbs: "50" },
    createVnicDetails: { subnetId: "subnet-1", assignPublicIp: "true", hostnameLabel: "server-0" },
    metadata: { ssh_authorized_keys: "ssh-ed25519 AAAA", user_data: "I2Nsb3Vk" }, extendedMetadata: {},
  };
  const run = (inputs: Record<string, unknown>) => ({
    engine: { resources: new Map([["urn:i", { urn: "urn:i", type: INSTANCE, name: "i", custom: true, inputs, ignoreChanges: [], replaceOnChanges: [], dependencies: [], propertyDependencies: {} }]]) },
  }) as unknown as StackRun;
  const change = (patch: (i: any) => void) => {
    const inputs = structuredClone(base) as any;
    patch(inputs);
    return changesBetween(run(base), run(inputs)).changes.get("urn:i")!.change;
  };
  it("ForceNew fields replace; what the provider updates in place is an update", () => {
    expect(change((i) => { i.availabilityDomain = "AD-2"; })).toBe("replace");
    expect(change((i) => { i.createVnicDetails.subnetId = "subnet-2"; })).toBe("replace");
    expect(change((i) => { i.metadata.ssh_authorized_keys = "ssh-ed25519 BBBB"; })).toBe("replace");
    expect(change((i) => { i.metadata.user_data = "other"; })).toBe("replace");
    expect(change((i) => { i.metadata.note = "x"; })).toBe("update");
    expect(change((i) => { i.extendedMetadata = { a: "b" }; })).toBe("update");
    expect(change((i) => { i.createVnicDetails.assignPublicIp = "false"; })).toBe("update");
    expect(change((i) => { i.createVnicDetails.hostnameLabel = "node-0"; })).toBe("update");
    // UpdateInstanceSourceViaImageDetails: the same instance on a new boot volume (oci-host.ts ignores it).
    expect(change((i) => { i.sourceDetails.sourceId = "img-2"; })).toBe("update");
    expect(change((i) => { i.sourceDetails.bootVolumeSizeInGbs = "60"; })).toBe("update");
    expect(change((i) => { i.shapeConfig.ocpus = 1; })).toBe("update");
  });
});

describe("day two 5: ChangeGuard confirmations", () => {
  const m = "refused";
  it("a changed fingerprint passes only with a new, non-empty confirmation; without one nothing changed for other guards", async () => {
    expect(guardCheck({ fingerprint: "a" }, { fingerprint: "b", message: m }).failures).toHaveLength(1);
    expect(guardCheck({ fingerprint: "a" }, { fingerprint: "b", message: m, confirmation: "" }).failures).toHaveLength(1);
    expect(guardCheck({ fingerprint: "a" }, { fingerprint: "b", message: m, confirmation: "t1" }).failures).toBeUndefined();
    expect(guardCheck({ fingerprint: "a", confirmation: "t1" }, { fingerprint: "b", message: m, confirmation: "t1" }).failures).toHaveLength(1);
    expect(guardCheck({ fingerprint: "a", confirmation: "t1" }, { fingerprint: "b", message: m, confirmation: "t2" }).failures).toBeUndefined();
    expect(guardCheck({ fingerprint: "a", confirmation: "t1" }, { fingerprint: "b", message: m }).failures).toHaveLength(1);
    expect(guardCheck({ fingerprint: "a", confirmation: "t1" }, { fingerprint: UNKNOWN, message: m, confirmation: "t2" }).failures).toBeUndefined();
    // A new confirmation is recorded (an update); update refuses exactly what check refuses.
    expect((await guardProvider.diff!("guard", { fingerprint: "a", message: m }, { fingerprint: "a", message: m, confirmation: "t1" })).changes).toBe(true);
    expect((await guardProvider.diff!("guard", { fingerprint: "a", message: m, confirmation: "t1" }, { fingerprint: "a", message: m, confirmation: "t1" })).changes).toBe(false);
    await expect(guardProvider.update!("guard", { fingerprint: "a", message: m, confirmation: "t1" }, { fingerprint: "b", message: m, confirmation: "t1" })).rejects.toThrow(m);
    await expect(guardProvider.update!("guard", { fingerprint: "a", message: m, confirmation: "t1" }, { fingerprint: "b", message: m, confirmation: "t2" })).resolves.toMatchObject({ outs: { confirmation: "t2" } });
  });

  it("launch keys: unchanged for nodes without a user key, one key per line with one", () => {
    expect(launchAuthorizedKeys(`${STACK.pub}\n`)).toBe(`${STACK.pub}\n`);
    expect(launchAuthorizedKeys(`${STACK.pub}\n`, `${USER_A.pub}\n`)).toBe(`${STACK.pub}\n${USER_A.pub}\n`);
  });
});

// The node's trust in SSH keys as the engine would leave it, and whether every command a second
// `up` runs connects with a key the node trusts at that moment. OCI writes ssh_authorized_keys
// only at launch (the instance ignores later metadata); after that only the keys commands change it.
const STACK = { pub: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAImock", priv: "-----BEGIN OPENSSH PRIVATE KEY-----\nmock\n-----END OPENSSH PRIVATE KEY-----\n" };
const USER_A = { pub: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq a@laptop", priv: "-----BEGIN OPENSSH PRIVATE KEY-----\nuser-a\n-----END OPENSSH PRIVATE KEY-----\n" };
const USER_B = { pub: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILu7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7 b@laptop", priv: "-----BEGIN OPENSSH PRIVATE KEY-----\nuser-b\n-----END OPENSSH PRIVATE KEY-----\n" };
const PAIRS = [STACK, USER_A, USER_B];
const blob = (pub: string) => pub.trim().split(/\s+/).slice(0, 2).join(" ");
const withKey = (k?: typeof USER_A): { config: Record<string, string>; secrets: Record<string, string> } =>
  k ? { config: { "platform:sshPublicKey": k.pub }, secrets: { "platform:sshPrivateKey": k.priv } } : { config: {}, secrets: {} };

/** KEEP_KEYS of a keys command, from its stdin (scriptWithEnv exports each input from base64). */
function keptKeys(r: Registration): string[] {
  const m = /export KEEP_KEYS="\$\(printf '%s' '([^']*)'/.exec(plain(r.inputs.stdin) ?? "");
  return m ? Buffer.from(m[1], "base64").toString().split("\n").map(blob) : [];
}

/** Commands in an order the engine may run them (every dependency first). */
function ordered(run: StackRun): Registration[] {
  const commands = [...run.engine.resources.values()].filter((r) => r.type === "command:remote:Command");
  const done = new Set<string>();
  const out: Registration[] = [];
  while (out.length < commands.length) {
    const next = commands.find((c) => !done.has(c.urn) && c.dependencies.every((d) => done.has(d) || !commands.some((x) => x.urn === d)));
    if (!next) throw new Error("dependency cycle among commands");
    done.add(next.urn);
    out.push(next);
  }
  return out;
}

/**
 * Runs `after` against a node launched by `before` (or with `launchKeys`, a node an older program
 * launched): returns the commands that would fail to authenticate, and the keys trusted at the end.
 */
function sshThrough(before: StackRun, after: StackRun, launchKeys?: string[]) {
  const set = changesBetween(before, after);
  const node = byName(before, INSTANCE, "oci-server-0");
  const trusted = new Set(launchKeys?.map(blob) ?? plain(node.inputs.metadata).ssh_authorized_keys.trim().split("\n").map(blob));
  let managed = new Set<string>();
  // The first run's keys commands ran (on the node the first run launched).
  if (!launchKeys) for (const c of ordered(before)) if (keptKeys(c).length) { keptKeys(c).forEach((k) => { trusted.add(k); managed.add(k); }); }
  const failed: string[] = [];
  for (const c of ordered(after)) {
    // Against an older program's node every command is new or has a new connection: all run.
    if (!launchKeys && set.changes.get(c.urn)!.change === "same") continue;
    const key = PAIRS.find((p) => p.priv === plain(c.inputs.connection).privateKey);
    if (!key || !trusted.has(blob(key.pub))) { failed.push(c.name); continue; }
    const keep = keptKeys(c);
    if (keep.length) {
      for (const k of managed) if (!keep.includes(k)) trusted.delete(k);
      keep.forEach((k) => trusted.add(k));
      managed = new Set(keep);
    }
  }
  return { failed, trusted: [...trusted].sort() };
}

describe("day two 5: a new platform:sshPublicKey reaches the node; Pulumi keeps a key the node trusts", () => {
  it("rotating the user's key (A to B): every command authenticates, B replaces A on the node, the instance stays", async () => {
    const before = await oci(withKey(USER_A).config, withKey(USER_A).secrets);
    const after = await oci(withKey(USER_B).config, withKey(USER_B).secrets);
    const set = changesBetween(before, after);
    expect(set.names("replace")).toEqual([]);
    const result = sshThrough(before, after);
    expect(result.failed).toEqual([]);
    expect(result.trusted).toEqual([blob(STACK.pub), blob(USER_B.pub)].sort());
    // Only the keys command runs again; K3s and the kubeconfig read are left alone.
    expect(set.names("update").filter((n) => n.startsWith("command:"))).toEqual(["command:remote:Command::oci-server-0-ssh-keys"]);
  });

  it("from the generated key to the user's own, and back: no command loses access", async () => {
    const generated = await oci();
    const own = await oci(withKey(USER_A).config, withKey(USER_A).secrets);
    expect(sshThrough(generated, own)).toEqual({ failed: [], trusted: [blob(STACK.pub), blob(USER_A.pub)].sort() });
    expect(sshThrough(own, generated)).toEqual({ failed: [], trusted: [blob(STACK.pub)] });
    expect(changesBetween(generated, own).names("delete")).toEqual([]); // the stack's key stays in state
  });

  it("a node launched with the user's key alone (an older program) learns the stack's key over it, once", async () => {
    // The instance's metadata output is what OCI launched it with: here an older program's, A alone.
    const launched = await hostUnderMocks(USER_A.pub, { sshPublicKey: USER_A.pub, sshPrivateKey: USER_A.priv });
    const adopt = launched.find((c) => c.name === "oci-server-0-stack-key")!;
    expect(plain(adopt.inputs.connection).privateKey).toBe(USER_A.priv);
    expect(keptKeys({ inputs: adopt.inputs } as Registration)).toEqual([blob(STACK.pub), blob(USER_A.pub)]);
    // Everything else connects with the stack's key, after the adoption.
    expect(launched.filter((c) => c !== adopt).map((c) => plain(c.inputs.connection).privateKey)).toEqual(launched.filter((c) => c !== adopt).map(() => STACK.priv));
    // A node launched with the stack's key (this program) is adopted over the stack's key: no user secret needed.
    const fresh = await hostUnderMocks(`${STACK.pub}\n${USER_A.pub}\n`, { sshPublicKey: USER_A.pub });
    expect(plain(fresh.find((c) => c.name === "oci-server-0-stack-key")!.inputs.connection).privateKey).toBe(STACK.priv);
    // The older node without the user's private key: the stack's key (adopted earlier?) and a warning naming the key.
    const stack = { publicKey: STACK.pub, privateKey: STACK.priv };
    expect(adoptionKey("oci-server-0", USER_A.pub, stack, USER_A.pub, undefined)).toEqual({
      privateKey: STACK.priv, warning: expect.stringMatching(/^node oci-server-0 was launched with platform:sshPublicKey alone: .*pulumi config set --secret platform:sshPrivateKey/),
    });
    // Launched with A, now configured with B (rotated since): the stack's key, authorized by the earlier adoption.
    expect(adoptionKey("oci-server-0", USER_A.pub, stack, USER_B.pub, USER_B.priv)).toEqual({ privateKey: STACK.priv });
  });

  it("the stack's key command never runs again (a rotated key is not trusted yet, a new node has the stack's key)", async () => {
    const before = await oci(withKey(USER_A).config, withKey(USER_A).secrets);
    const adopt = byName(before, "command:remote:Command", "oci-server-0-stack-key");
    expect(adopt.ignoreChanges).toEqual(["connection", "stdin"]);
    expect(adopt.inputs.update).toBeUndefined();
    expect(adopt.inputs.triggers).toBeUndefined();
    const rotated = changesBetween(before, await oci(withKey(USER_B).config, withKey(USER_B).secrets));
    expect(rotated.changes.get(adopt.urn)!.change).toBe("same");
  });
});

/** OciHost alone under mocks whose instances report `launchKeys` as launched with; its remote commands. */
async function hostUnderMocks(launchKeys: string, keys: { sshPublicKey: string; sshPrivateKey?: string }) {
  return (await ociHostCommands({ ssh_authorized_keys: launchKeys }, keys)).created;
}
