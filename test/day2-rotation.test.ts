// Issue 10, item 3: rotating a credential reaches every consumer in place and recreates nothing
// else; item 4's first half: a failed bootstrap Job is run again by the next `up`. Each case is two
// evaluations of the whole stack, before and after the change, read through the change model
// (test/helpers/changes.ts). Two ways to rotate: `pulumi config set --secret platform:<key>` (a
// configured value replaced by another), and for a generated one `pulumi up --replace <its
// RandomPassword>` (modelled by the mocks answering a new result; the RandomPassword itself is the
// one resource that --replace replaces, which the model cannot see since its inputs are the same).
// The K3s token and what the nodes' containerd does with the registry password (registries.yaml,
// the k3d config) belong to the cluster components and their own tests: left out here.
import { beforeAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { bcryptVerify } from "../components/lib/hash";
import { keyedHash } from "../components/lib/secrets";
import { ChangeSet, changesBetween, inputSources } from "./helpers/changes";
import { Created, find, plain } from "./helpers/mocks";
import { runStack, StackRun } from "./helpers/stack";

const STACK = "oci";
const SECRET = "kubernetes:core/v1:Secret";
const CHART = "kubernetes:helm.sh/v4:Chart";
const JOB = "kubernetes:batch/v1:Job";

const named = (run: StackRun, type: string, name: string): Created => find(run.created, type, (c) => c.name === name);
const inputs = (run: StackRun, type: string, name: string): any => plain(named(run, type, name).inputs);
const values = (run: StackRun, chart: string): any => inputs(run, CHART, chart).values;
const stringData = (run: StackRun, name: string): Record<string, string> => inputs(run, SECRET, name).stringData;
/** What the bootstrap Job puts into Git: path -> text, from its content ConfigMap. */
function repoFiles(run: StackRun): Record<string, string> {
  const data = inputs(run, "kubernetes:core/v1:ConfigMap", "configmap-gitea-bootstrap-repo-content").data as Record<string, string>;
  return Object.fromEntries(data.MANIFEST.trim().split("\n").map((l) => l.split(" ")).map((f) => [f[f.length - 1], data[f[0]]]));
}

/** `type::name` of what changes, without the cluster and host components (the K3s/k3d side). */
function outsideCluster(set: ChangeSet, change: "replace" | "update" | "create" | "delete"): string[] {
  return set.of(change).filter((u) => !/\$platform:(cluster|host):/.test(u)).map((u) => `${u.split("::")[2].split("$").pop()}::${u.split("::")[3]}`).sort();
}

/**
 * argocd-secret's server.secretkey is argocd-server's (written at its start): it stays when the
 * Secret is updated in place by server-side apply, which touches only the fields the chart renders,
 * and it is not one of them (argocd-values.ts SERVER_SECRET_KEY).
 */
function signingKeyStays(run: StackRun): void {
  const provider = [...run.engine.resources.values()].find((r) => r.type === "pulumi:providers:kubernetes")!;
  expect(plain(provider.inputs.enableServerSideApply) === true || plain(provider.inputs.enableServerSideApply) === "true").toBe(true);
  expect(plain(provider.inputs.enableSecretMutable) === true || plain(provider.inputs.enableSecretMutable) === "true").toBe(true);
  expect(JSON.stringify(values(run, "argocd"))).not.toContain("server.secretkey");
}

interface Rotation {
  readonly what: string;
  /** platform:<key> */
  readonly key: string;
  /** Its RandomPassword when not configured. */
  readonly generated: string;
  /** Exactly what a rotation updates in place. */
  readonly updates: readonly string[];
  /** Exactly what it replaces, and why that must be. */
  readonly replaces: readonly string[];
  /** The consumers hold the new value (or follow it): before, after, the new value. */
  readonly consumers: (before: StackRun, after: StackRun, value: string) => void;
}

const ROTATIONS: readonly Rotation[] = [
  {
    what: "Gitea admin",
    key: "giteaAdminPassword",
    generated: "platform-giteaAdminPassword",
    updates: [
      `${SECRET}::secret-gitea-bootstrap-repo-credentials`,
      `${SECRET}::secret-gitea-gitea-admin`,
      `${CHART}::gitea`,
    ],
    replaces: [],
    consumers: (before, after, value) => {
      expect(stringData(after, "secret-gitea-gitea-admin").password).toBe(value);
      // The bootstrap Job authenticates as the Gitea admin; Argo CD does not (#14.1: a read collaborator).
      expect(stringData(after, "secret-argocd-repo-platform-apps").password).not.toBe(value);
      expect(stringData(after, "secret-argocd-repo-platform-apps").username).toBe("argocd-reader");
      expect(stringData(after, "secret-gitea-bootstrap-repo-credentials").password).toBe(value);
      // Gitea itself: the init container applies the Secret's password at every start
      // (keepUpdated), and the fingerprint on the pod makes the rotation a new pod.
      const [a, b] = [values(before, "gitea"), values(after, "gitea")];
      expect(b.gitea.admin).toMatchObject({ existingSecret: "gitea-admin", passwordMode: "keepUpdated" });
      expect(b.gitea.podAnnotations["checksum/admin-password"]).toMatch(/^[0-9a-f]{32}$/);
      expect(b.gitea.podAnnotations["checksum/admin-password"]).not.toBe(a.gitea.podAnnotations["checksum/admin-password"]);
      expect(JSON.stringify(b)).not.toContain(value);
    },
  },
  {
    what: "Argo CD admin",
    key: "argocdAdminPassword",
    generated: "platform-argocdAdminPassword",
    // The chart re-renders argocd-secret (updated in place: enableSecretMutable); the mtime moves.
    updates: [`${CHART}::argocd`, "pulumi-nodejs:dynamic:Resource::argocd-admin-mtime"],
    replaces: [],
    consumers: (before, after, value) => {
      const [a, b] = [values(before, "argocd").configs.secret, values(after, "argocd").configs.secret];
      expect(bcryptVerify(value, b.argocdServerAdminPassword)).toBe(true);
      // Sessions issued before the rotation end (Argo CD refuses tokens older than the mtime).
      expect(b.argocdServerAdminPasswordMtime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(b.argocdServerAdminPasswordMtime).not.toBe(a.argocdServerAdminPasswordMtime);
      // The other account's sessions and the signing key stay.
      expect(b.extra["accounts.guest.passwordMtime"]).toBe(a.extra["accounts.guest.passwordMtime"]);
      signingKeyStays(after);
      expect(JSON.stringify(b)).not.toContain(value);
    },
  },
  {
    what: "Argo CD guest",
    key: "guestPassword",
    generated: "platform-guestPassword",
    updates: [`${CHART}::argocd`, "pulumi-nodejs:dynamic:Resource::argocd-guest-mtime"],
    replaces: [],
    consumers: (before, after, value) => {
      const [a, b] = [values(before, "argocd").configs.secret, values(after, "argocd").configs.secret];
      expect(bcryptVerify(value, b.extra["accounts.guest.password"])).toBe(true);
      expect(b.extra["accounts.guest.passwordMtime"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(b.extra["accounts.guest.passwordMtime"]).not.toBe(a.extra["accounts.guest.passwordMtime"]);
      expect(b.argocdServerAdminPasswordMtime).toBe(a.argocdServerAdminPasswordMtime);
      signingKeyStays(after);
      expect(JSON.stringify(b)).not.toContain(value);
    },
  },
  {
    what: "registry",
    key: "registryPassword",
    generated: "platform-registryPassword",
    // The pull user's (#14.1): CI pushes as its own user, so the Actions secrets and the bootstrap
    // Job do not follow this one (the push user's rotation: below).
    updates: [
      `${SECRET}::secret-registry-registry-htpasswd`,
      `${SECRET}::secret-sample-app-registry-pull`,
    ],
    replaces: [],
    consumers: (before, after, value) => {
      const line = stringData(after, "secret-registry-registry-htpasswd").htpasswd.trim();
      expect(line.startsWith("platform:$2y$")).toBe(true);
      expect(bcryptVerify(value, line.slice("platform:".length).replace(/^\$2y\$/, "$2a$"))).toBe(true);
      const auths = JSON.parse(stringData(after, "secret-sample-app-registry-pull")[".dockerconfigjson"]).auths;
      expect(Object.values(auths).map((a: any) => a.password)).toEqual([value]);
      expect(stringData(after, "secret-gitea-bootstrap-repo-credentials")["registry-password"]).not.toBe(value);
      expect(stringData(after, "secret-registry-registry-htpasswd-push").htpasswd).not.toContain("platform:");
      // distribution reloads htpasswd when the file's mtime changes (registry/auth/htpasswd/access.go,
      // v2.8.3 and v3.1.1; test/registry-reload.test.ts with the real one): the registry keeps running.
      expect(inputs(after, "kubernetes:apps/v1:Deployment", "deployment-registry-registry"))
        .toEqual(inputs(before, "kubernetes:apps/v1:Deployment", "deployment-registry-registry"));
      expect(JSON.stringify(inputs(after, JOB, "job-gitea-bootstrap-repo"))).not.toContain(value);
    },
  },
  {
    what: "database",
    key: "databasePassword",
    generated: "sample-app-db-password",
    // Nothing in Git changes: the manifests only name the Secret, the database's password-sync
    // container applies the mounted Secret, and the app reads it from its mounted file on each
    // connection (test/database-rotation.test.ts with a real PostgreSQL).
    updates: [`${SECRET}::secret-sample-app-sample-db-password`],
    replaces: [],
    consumers: (_before, after, value) => {
      expect(stringData(after, "secret-sample-app-sample-db-password").password).toBe(value);
      // Both consumers in Git read the Secret as a mounted file, which the kubelet refreshes.
      const git = repoFiles(after);
      const pod = (file: string) => YAML.parse(git[file]).spec.template.spec;
      const mountsSecret = (spec: any, c: any) => {
        const vol = spec.volumes.find((v: any) => v.secret?.secretName === "sample-db-password");
        return vol !== undefined && c.volumeMounts.some((m: any) => m.name === vol.name);
      };
      const db = pod("deploy/oci/statefulset.yaml");
      const sync = db.containers.find((c: any) => c.name === "password-sync");
      expect(sync, "the database pod applies the mounted password").toBeDefined();
      expect(mountsSecret(db, sync)).toBe(true);
      const app = pod("deploy/oci/rollout.yaml");
      const api = app.containers.find((c: any) => c.name === "api");
      expect(api.env.map((e: any) => e.name)).toContain("DATABASE_PASSWORD_FILE");
      expect(mountsSecret(app, api)).toBe(true);
    },
  },
];

/**
 * #14.1 credentials that are generated only (no config key): rotated with `pulumi up --replace`
 * of their RandomPassword. Each runs the bootstrap Job again, which applies it in Gitea (the users)
 * or stores it as an Actions secret (the registry push user).
 */
const GENERATED_ONLY: readonly Omit<Rotation, "key">[] = [
  {
    what: "Argo CD's Git reader",
    generated: "platform-gitReaderPassword",
    updates: [`${SECRET}::secret-argocd-repo-platform-apps`, `${SECRET}::secret-gitea-bootstrap-repo-credentials`],
    replaces: [`${JOB}::job-gitea-bootstrap-repo`],
    consumers: (before, after, value) => {
      expect(stringData(after, "secret-argocd-repo-platform-apps")).toMatchObject({ username: "argocd-reader", password: value });
      expect(stringData(after, "secret-gitea-bootstrap-repo-credentials")["reader-password"]).toBe(value);
      expect(inputs(after, JOB, "job-gitea-bootstrap-repo").metadata.name).not.toBe(inputs(before, JOB, "job-gitea-bootstrap-repo").metadata.name);
      expect(JSON.stringify(inputs(after, JOB, "job-gitea-bootstrap-repo"))).not.toContain(value);
    },
  },
  {
    what: "CI's Gitea bot",
    generated: "platform-ciBotPassword",
    updates: [`${SECRET}::secret-gitea-bootstrap-repo-credentials`],
    replaces: [`${JOB}::job-gitea-bootstrap-repo`],
    consumers: (before, after, value) => {
      expect(stringData(after, "secret-gitea-bootstrap-repo-credentials")["bot-password"]).toBe(value);
      expect(inputs(after, JOB, "job-gitea-bootstrap-repo").metadata.name).not.toBe(inputs(before, JOB, "job-gitea-bootstrap-repo").metadata.name);
    },
  },
  {
    what: "CI's registry push user",
    generated: "platform-registryPushPassword",
    updates: [`${SECRET}::secret-gitea-bootstrap-repo-credentials`, `${SECRET}::secret-registry-registry-htpasswd-push`],
    replaces: [`${JOB}::job-gitea-bootstrap-repo`],
    consumers: (before, after, value) => {
      const line = stringData(after, "secret-registry-registry-htpasswd-push").htpasswd.trim();
      expect(line.startsWith("ci:$2y$")).toBe(true);
      expect(bcryptVerify(value, line.slice("ci:".length).replace(/^\$2y\$/, "$2a$"))).toBe(true);
      expect(stringData(after, "secret-gitea-bootstrap-repo-credentials")["registry-password"]).toBe(value);
      expect(inputs(after, JOB, "job-gitea-bootstrap-repo").metadata.name).not.toBe(inputs(before, JOB, "job-gitea-bootstrap-repo").metadata.name);
      // The pull side (nodes, pull secrets) does not move; the registry keeps running (htpasswd reload).
      expect(stringData(after, "secret-sample-app-registry-pull")).toEqual(stringData(before, "secret-sample-app-registry-pull"));
      expect(inputs(after, "kubernetes:apps/v1:Deployment", "deployment-registry-registry"))
        .toEqual(inputs(before, "kubernetes:apps/v1:Deployment", "deployment-registry-registry"));
    },
  },
];

const FIRST = "first-value-7c1e0d9a2b";
const SECOND = "second-value-4f8a6e3b1c";
/** Every rotatable key configured with its first value. */
const configured = (): Record<string, string> => Object.fromEntries(ROTATIONS.map((r) => [`platform:${r.key}`, FIRST]));

describe(`issue 10 item 3: a rotated credential reaches every consumer in place (${STACK}, two evaluations)`, () => {
  // Shared "before" runs: all generated, and all configured with a first value.
  let generated: StackRun;
  let first: StackRun;
  beforeAll(async () => {
    generated = await runStack(STACK);
    first = await runStack(STACK, { secrets: configured() });
  }, 60_000);

  for (const r of ROTATIONS) {
    const check = (before: StackRun, after: StackRun, value: string, replaced: readonly string[] = []) => {
      const set = changesBetween(before, after, { replace: replaced });
      expect(outsideCluster(set, "replace"), "replaced").toEqual([...r.replaces, ...replaced.map((n) => `random:index/randomPassword:RandomPassword::${n}`)].sort());
      expect(outsideCluster(set, "update"), "updated in place").toEqual([...r.updates].sort());
      expect(outsideCluster(set, "create"), "created").toEqual([]);
      expect(outsideCluster(set, "delete"), "deleted").toEqual([]);
      // No Secret is ever replaced (delete + create would drop other managers' keys).
      expect(set.names("replace").filter((n) => n.startsWith(SECRET))).toEqual([]);
      // With `config set` a chart stays renderable in the preview: none of its values comes from
      // something replaced. With `--replace` the new password is unknown until the up (README).
      if (replaced.length === 0) expect([...set.unknownInPreview].filter((u) => u.includes("helm.sh"))).toEqual([]);
      r.consumers(before, after, value);
    };

    it(`${r.what}: pulumi config set --secret platform:${r.key} (one value, then another)`, async () => {
      const after = await runStack(STACK, { secrets: { ...configured(), [`platform:${r.key}`]: SECOND } });
      check(first, after, SECOND);
    }, 30_000);

    it(`${r.what}: generated, pulumi up --replace its RandomPassword ${r.generated}`, async () => {
      const after = await runStack(STACK, { mocks: { rotated: [r.generated] } });
      check(generated, after, `mock-${r.generated}-rotated`, [r.generated]);
    }, 30_000);
  }

  it("dev: the registry's in-cluster consumers are the same as on oci (the k3d side is the cluster's)", async () => {
    const before = await runStack("dev");
    const after = await runStack("dev", { mocks: { rotated: ["platform-registryPassword"] } });
    const set = changesBetween(before, after);
    const registry = ROTATIONS.find((r) => r.key === "registryPassword")!;
    expect(outsideCluster(set, "replace")).toEqual([...registry.replaces]);
    expect(outsideCluster(set, "update")).toEqual([...registry.updates].sort());
    registry.consumers(before, after, "mock-platform-registryPassword-rotated");
  }, 30_000);

  it("upgrading an existing stack keeps its previews whole: the charts' values come from what it already has, or from PasswordMtime (known at preview)", () => {
    // A new RandomPassword feeding a chart would be unknown in the first preview after the upgrade,
    // and helm v4 Chart renders nothing when a value is unknown ("Preview is incomplete"): every
    // object of that chart would show as deleted. PasswordMtime's outputs are its checked inputs in a
    // preview (password-mtime.ts). These generated secrets were in every stack before issue 10.
    const before = new Set(["platform-giteaAdminPassword", "platform-runnerToken", "platform-argocdAdminPassword", "platform-guestPassword"]);
    for (const chart of ["gitea", "argocd"]) {
      const urn = named(generated, CHART, chart);
      const r = [...generated.engine.resources.values()].find((x) => x.type === CHART && x.name === urn.name)!;
      for (const src of inputSources(generated, r.urn, "values")) {
        const s = generated.engine.resources.get(src)!;
        const ok = (s.type === "random:index/randomPassword:RandomPassword" && before.has(s.name)) || (s.type === "pulumi-nodejs:dynamic:Resource" && plain(s.inputs.kind) === "password-mtime");
        expect(ok, `${chart} values come from ${s.type}::${s.name}`).toBe(true);
      }
    }
  });

  it("the fingerprints in cluster objects are keyed: without the stack's key they tell nothing", () => {
    const a = keyedHash("key-one", "gitea-admin-password", "password");
    expect(keyedHash("key-one", "gitea-admin-password", "password")).toBe(a);
    expect(keyedHash("key-two", "gitea-admin-password", "password")).not.toBe(a);
    expect(keyedHash("key-one", "other-label", "password")).not.toBe(a);
  });
});

describe("issue 10 item 4: a failed bootstrap Job is run again by the next up", () => {
  it("the change model: an unready Job is replaced only when annotated pulumi.com/replaceUnready", async () => {
    const run = await runStack(STACK);
    const job = [...run.engine.resources.values()].find((r) => r.type === JOB)!;
    const set = changesBetween(run, run, { unready: [job.urn] });
    expect(set.changes.get(job.urn)).toEqual({ change: "replace", why: "unready after the last up and annotated pulumi.com/replaceUnready" });
    // Everything else is left alone.
    expect(set.of("replace")).toEqual([job.urn]);
    expect(set.of("update")).toEqual([]);
    // Without the annotation (as before): the provider only waits for the failed Job again.
    const bare = { ...run, engine: { ...run.engine, resources: new Map(run.engine.resources) } };
    bare.engine.resources.set(job.urn, { ...job, inputs: { ...job.inputs, metadata: { ...job.inputs.metadata, annotations: {} } } });
    expect(changesBetween(bare, bare, { unready: [job.urn] }).changes.get(job.urn)!.change).toBe("update");
  }, 30_000);
});

describe(`#14.1 the generated-only Git and registry credentials rotate in place (${STACK}, two evaluations)`, () => {
  let generated: StackRun;
  beforeAll(async () => { generated = await runStack(STACK); }, 60_000);
  for (const r of GENERATED_ONLY) {
    it(`#14.1 ${r.what}: pulumi up --replace its RandomPassword ${r.generated}`, async () => {
      const after = await runStack(STACK, { mocks: { rotated: [r.generated] } });
      const set = changesBetween(generated, after, { replace: [r.generated] });
      expect(outsideCluster(set, "replace"), "replaced").toEqual([...r.replaces, `random:index/randomPassword:RandomPassword::${r.generated}`].sort());
      expect(outsideCluster(set, "update"), "updated in place").toEqual([...r.updates].sort());
      expect(outsideCluster(set, "create"), "created").toEqual([]);
      expect(outsideCluster(set, "delete"), "deleted").toEqual([]);
      r.consumers(generated, after, `mock-${r.generated}-rotated`);
    }, 30_000);
  }
});
