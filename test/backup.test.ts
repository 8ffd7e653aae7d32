// Backups (components/backup) as each whole stack registers them under mocks: the CronJobs and their
// slots, each namespace's restic Secret (secret), the target's resources (OCI bucket and Customer
// Secret Key, rest-server, or nothing for a user's S3 endpoint), kube-state-metrics watching every
// backup namespace, the alert rules in the Prometheus values, and the budget's one backup pod.
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { ConfigError, ConfigSource, CONFIG_KEYS, parseConfig } from "../config";
import {
  ACTIVE_DEADLINE_SECONDS, BACKUP_COMPONENTS, backupCronJob, backupNamespaces, GITEA_CLAIM, GITEA_ROOTLESS_IMAGE, SCHEDULES, STARTING_DEADLINE_SECONDS,
} from "../components/backup/jobs";
import { effectivePodResources } from "../components/backup/budget";
import { backupScripts } from "../components/backup/backups";
import { DEFAULT_HOST_PATH } from "../components/backup/settings";
import { GITEA_IMAGE, giteaValues } from "../components/gitops/gitea-values";
import { cpuMillis, memoryMi } from "../components/lib/budget";
import { SIZES } from "../components/lib/sizes";
import { allowed } from "./helpers/netpol";
import { find, findAll, isSecretInput, plain, outsideSecrets } from "./helpers/mocks";
import { testContext } from "./helpers/context";
import { runStack as evaluate, runStackError, StackRun } from "./helpers/stack";

const runs = new Map<string, Promise<StackRun>>();
const runStack = (stack: string) => {
  if (!runs.has(stack)) runs.set(stack, evaluate(stack));
  return runs.get(stack)!;
};
const STACKS = ["oci", "homelab", "dev"] as const;

const cronJobs = (run: StackRun) => findAll(run.created, "kubernetes:batch/v1:CronJob").map((c) => c.inputs);
const resticSecrets = (run: StackRun) => findAll(run.created, "kubernetes:core/v1:Secret", (c) => c.inputs.metadata.name === "backup-restic");
const podSpec = (cj: any) => cj.spec.jobTemplate.spec.template.spec;
const NAMESPACES = { gitea: "gitea", registry: "registry", postgres: "sample-app", k3s: "backup" };


describe("backups in every stack, as `pulumi up` registers them", () => {
  for (const stack of STACKS) {
    it(`${stack}: one backup CronJob per component, in the namespace of its data, on its own hourly slot, and a suspended restore template`, async () => {
      const run = await runStack(stack);
      const all = cronJobs(run);
      for (const c of BACKUP_COMPONENTS) {
        const backup = all.find((j) => j.metadata.name === `backup-${c}`);
        const restore = all.find((j) => j.metadata.name === `restore-${c}`);
        expect(backup?.metadata.namespace, c).toBe(NAMESPACES[c]);
        expect(restore?.metadata.namespace, c).toBe(NAMESPACES[c]);
        expect(backup!.spec).toMatchObject({ schedule: SCHEDULES[c], timeZone: "Etc/UTC", suspend: false, concurrencyPolicy: "Forbid" });
        expect(restore!.spec.suspend, c).toBe(true);
        // Every pod ends in restic, with this component's tag, the stack as its host and the retention.
        const main = podSpec(backup).containers[0];
        expect(main.envFrom).toEqual([{ secretRef: { name: "backup-restic" } }]);
        expect(Object.fromEntries(main.env.map((e: any) => [e.name, e.value]))).toMatchObject({ BACKUP_TAG: c, BACKUP_HOST: stack, KEEP_DAILY: "7", KEEP_WEEKLY: "4", KEEP_MONTHLY: "6" });
      }
      expect(all).toHaveLength(2 * BACKUP_COMPONENTS.length);
    });

    it(`${stack}: each namespace's restic Secret names that component's repository; repository, password and credentials stay secret`, async () => {
      const run = await runStack(stack);
      const secrets = resticSecrets(run);
      expect(secrets.map((s) => s.inputs.metadata.namespace).sort()).toEqual(Object.values(NAMESPACES).sort());
      const passwords = new Set<string>();
      for (const s of secrets) {
        // The engine sees secret values (the whole stringData is marked secret once one value is).
        const sd = s.inputs.stringData;
        expect(isSecretInput(sd) || Object.values(sd).every(isSecretInput), s.inputs.metadata.namespace).toBe(true);
        const data = plain(s.inputs.stringData);
        const c = (Object.entries(NAMESPACES).find(([, ns]) => ns === s.inputs.metadata.namespace)![0]);
        passwords.add(data.RESTIC_PASSWORD);
        if (stack === "oci") {
          expect(data.RESTIC_REPOSITORY).toBe(`s3:https://mocktenancyns.compat.objectstorage.eu-frankfurt-1.oraclecloud.com/platform-backups-oci/${c}`);
          expect(data).toMatchObject({ AWS_DEFAULT_REGION: "eu-frankfurt-1", AWS_ACCESS_KEY_ID: "backup-store-s3-key-id", AWS_SECRET_ACCESS_KEY: "mock-backup-store-s3-key-secret" });
          expect(Object.keys(data).sort()).toEqual(["AWS_ACCESS_KEY_ID", "AWS_DEFAULT_REGION", "AWS_SECRET_ACCESS_KEY", "RESTIC_PASSWORD", "RESTIC_REPOSITORY"]);
        } else {
          expect(data.RESTIC_REPOSITORY).toBe(`rest:http://restic-rest.backup.svc.cluster.local:8000/${c}/`);
          expect(Object.keys(data).sort()).toEqual(["RESTIC_PASSWORD", "RESTIC_REPOSITORY", "RESTIC_REST_PASSWORD", "RESTIC_REST_USERNAME"]);
        }
      }
      // One generated password (@pulumi/random) for every repository, never in plaintext anywhere.
      expect([...passwords]).toEqual(["mock-backup-store-restic-password"]);
      const leaks = run.created.flatMap((c) => [...outsideSecrets(c.inputs, "mock-backup-store-"), ...outsideSecrets(c.inputs, "mock-platform-")].map((p) => `${c.type} ${c.name}${p}`));
      expect(leaks).toEqual([]);
    });

    it(`${stack}: kube-state-metrics watches every namespace with a backup CronJob (or the alerts go blind, PM-20)`, async () => {
      const run = await runStack(stack);
      const ksm = find(run.created, "kubernetes:apps/v1:Deployment", (c) => c.inputs.metadata.name === "kube-state-metrics");
      const arg = ksm.inputs.spec.template.spec.containers[0].args.find((a: string) => a.startsWith("--namespaces="));
      const watched = arg.slice("--namespaces=".length).split(",");
      for (const job of cronJobs(run)) expect(watched, job.metadata.name).toContain(job.metadata.namespace);
    });

    it(`${stack}: Prometheus evaluates the backup alert rules (prometheus chart serverFiles."alerting_rules.yml")`, async () => {
      const run = await runStack(stack);
      const chart = find(run.created, "kubernetes:helm.sh/v4:Chart", (c) => c.inputs.chart === "prometheus");
      const groups = plain(chart.inputs.values).serverFiles["alerting_rules.yml"].groups;
      const names = groups.find((g: any) => g.name === "platform-backups").rules.map((r: any) => r.alert);
      expect(names).toEqual(["BackupFailed", "BackupTooOld", "BackupNotMonitored"]);
    });
  }

  it("oci: the stack creates the bucket (private, retained when the stack is destroyed) and a Customer Secret Key for the configured user; restic talks path-style S3", async () => {
    const run = await runStack("oci");
    const bucket = find(run.created, "oci:ObjectStorage/bucket:Bucket");
    expect(bucket.inputs).toMatchObject({ name: "platform-backups-oci", namespace: "mocktenancyns", compartmentId: "ocid1.compartment.oc1..example", accessType: "NoPublicAccess", versioning: "Disabled" });
    expect(find(run.created, "oci:Identity/customerSecretKey:CustomerSecretKey").inputs).toMatchObject({ userId: "ocid1.user.oc1..example" });
    for (const job of cronJobs(run)) {
      const env = podSpec(job).containers.concat(podSpec(job).initContainers ?? []).filter((c: any) => c.image.includes("restic")).flatMap((c: any) => c.env);
      expect(env, job.metadata.name).toContainEqual({ name: "S3_BUCKET_LOOKUP", value: "path" });
    }
    expect(findAll(run.created, "kubernetes:apps/v1:Deployment", (c) => c.inputs.metadata.name === "restic-rest")).toEqual([]);
  });

  it("oci: the bucket and the Customer Secret Key are not deleted with the cluster (destroy deletes the key; the bucket is retained), while the backup objects on the cluster are", async () => {
    const run = await runStack("oci");
    const regs = [...run.engine.resources.values()];
    const effective = (r: any): string | undefined => r ? r.deletedWith ?? effective(r.parent ? run.engine.resources.get(r.parent) : undefined) : undefined;
    const one = (type: string) => regs.filter((r) => r.type === type);
    for (const type of ["oci:ObjectStorage/bucket:Bucket", "oci:Identity/customerSecretKey:CustomerSecretKey", "random:index/randomPassword:RandomPassword"]) {
      for (const r of one(type).filter((x) => x.name.startsWith("backup-store"))) expect(effective(r), `${type} ${r.name}`).toBeUndefined();
    }
    expect(one("oci:ObjectStorage/bucket:Bucket")[0].retainOnDelete).toBe(true);
    const cronJob = regs.find((r) => r.type === "kubernetes:batch/v1:CronJob")!;
    expect(effective(cronJob)).toBe(regs.find((r) => r.type === "oci:Core/instance:Instance")!.urn);
  });

  for (const stack of ["homelab", "dev"] as const) {
    it(`${stack}: by default the host-path target: restic's rest-server in front of ${DEFAULT_HOST_PATH} on the server node, bcrypt htpasswd`, async () => {
      const run = await runStack(stack);
      const deploy = find(run.created, "kubernetes:apps/v1:Deployment", (c) => c.inputs.metadata.name === "restic-rest").inputs;
      expect(deploy.metadata.namespace).toBe("backup");
      expect(deploy.spec.template.spec.volumes[0]).toEqual({ name: "data", hostPath: { path: DEFAULT_HOST_PATH, type: "DirectoryOrCreate" } });
      expect(deploy.spec.template.spec.nodeSelector).toEqual({ "node-role.kubernetes.io/control-plane": "true" });
      const htpasswd = find(run.created, "kubernetes:core/v1:Secret", (c) => c.inputs.metadata.name === "restic-rest-htpasswd");
      expect(isSecretInput(htpasswd.inputs.stringData) || isSecretInput(htpasswd.inputs.stringData[".htpasswd"])).toBe(true);
      expect(plain(htpasswd.inputs.stringData)[".htpasswd"]).toMatch(/^backup:\$2y\$10\$/);
      expect(findAll(run.created, "oci:ObjectStorage/bucket:Bucket")).toEqual([]);
    });
  }

  it("homelab with a user's S3 endpoint (a MinIO on the LAN): repositories under the stack's prefix, no rest-server, egress only to that address and port", async () => {
    const run = await evaluate("homelab", {
      config: { "platform:backupS3Endpoint": "http://192.168.1.20:9000", "platform:backupS3Bucket": "backups" },
      secrets: {
        "platform:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nk\n-----END OPENSSH PRIVATE KEY-----\n",
        "platform:backupS3AccessKeyId": "minio-user-7f3a", "platform:backupS3SecretAccessKey": "minio-secret-9c1e",
      },
    });
    const data = plain(find(run.created, "kubernetes:core/v1:Secret", (c) => c.inputs.metadata.name === "backup-restic" && c.inputs.metadata.namespace === "gitea").inputs.stringData);
    expect(data).toEqual({
      RESTIC_REPOSITORY: "s3:http://192.168.1.20:9000/backups/platform/homelab/gitea", RESTIC_PASSWORD: "mock-backup-store-restic-password",
      AWS_ACCESS_KEY_ID: "minio-user-7f3a", AWS_SECRET_ACCESS_KEY: "minio-secret-9c1e", AWS_DEFAULT_REGION: "us-east-1",
    });
    expect(findAll(run.created, "kubernetes:apps/v1:Deployment", (c) => c.inputs.metadata.name === "restic-rest")).toEqual([]);
    for (const secret of ["minio-user-7f3a", "minio-secret-9c1e"]) expect(run.created.flatMap((c) => outsideSecrets(c.inputs, secret))).toEqual([]);
    const policies = findAll(run.created, "kubernetes:networking.k8s.io/v1:NetworkPolicy").map((c) => ({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: c.inputs.metadata, spec: c.inputs.spec }));
    const gitea = { namespace: "gitea", labels: { "app.kubernetes.io/part-of": "platform-backup", "app.kubernetes.io/name": "backup-gitea" } };
    expect(allowed(policies, gitea, { ip: "192.168.1.20" }, 9000)).toBe(true);
    expect(allowed(policies, gitea, { ip: "192.168.1.20" }, 443)).toBe(false);
    expect(allowed(policies, gitea, { ip: "140.82.112.3" }, 9000)).toBe(false);
  });
});

describe("the backup pods", () => {
  const ctx = testContext("oci");
  const backup = parseConfig({ get: (k) => ({ domain: "p.example.com", adminCidr: "203.0.113.7/32", compartmentId: "ocid1.compartment.oc1..example", "oci:region": "eu-frankfurt-1", backupOciUserOcid: "ocid1.user.oc1..example" } as Record<string, string>)[k], getSecret: () => undefined }, "oci").backup;

  it("PM-07 at most one runs at a time: distinct hourly slots, and every Job is over (late start plus deadline) before the next slot", () => {
    const hours = Object.values(SCHEDULES).map((s) => /^0 (\d+) \* \* \*$/.exec(s)![1]);
    expect(new Set(hours).size).toBe(BACKUP_COMPONENTS.length);
    expect(STARTING_DEADLINE_SECONDS + ACTIVE_DEADLINE_SECONDS).toBeLessThan(3600);
  });

  it("PM-07 the budget's one backup pod (sizes.ts backupJob) covers every backup pod's effective requests, the mesh's native sidecar included", () => {
    for (const size of ["standard", "small"] as const) {
      const envelope = SIZES[size].backupJob;
      const c = { ...ctx, profile: { ...ctx.profile, size } };
      const peaks = { cpu: 0, mem: 0, lim: 0 };
      for (const comp of BACKUP_COMPONENTS) {
        const job = backupCronJob(c, backup, comp);
        const spec = podSpec(job);
        const meshed = job.spec.jobTemplate.spec.template.metadata.annotations["sidecar.istio.io/nativeSidecar"] === "true";
        // Istio injects its proxy as the first init container, restartPolicy Always (global.proxy resources = istioProxy).
        const proxy = { restartPolicy: "Always", resources: SIZES[size].istioProxy };
        const r = effectivePodResources({ initContainers: [...(meshed ? [proxy] : []), ...(spec.initContainers ?? [])], containers: spec.containers });
        expect(r.cpuMillis, `${size} ${comp} cpu`).toBeLessThanOrEqual(cpuMillis(envelope.requests.cpu));
        expect(r.memoryMi, `${size} ${comp} memory`).toBeLessThanOrEqual(memoryMi(envelope.requests.memory));
        expect(r.memoryLimitMi, `${size} ${comp} limit`).toBeLessThanOrEqual(memoryMi(envelope.limits.memory));
        peaks.cpu = Math.max(peaks.cpu, r.cpuMillis);
        peaks.mem = Math.max(peaks.mem, r.memoryMi);
        peaks.lim = Math.max(peaks.lim, r.memoryLimitMi);
      }
      // Not padded either: the standard envelope is exactly the largest pod.
      if (size === "standard") expect([cpuMillis(envelope.requests.cpu), memoryMi(envelope.requests.memory), memoryMi(envelope.limits.memory)]).toEqual([peaks.cpu, peaks.mem, peaks.lim]);
    }
  });

  it("effective pod resources follow Kubernetes: the larger of any init container (plus earlier sidecars) and the containers plus all sidecars", () => {
    const c = (cpu: string, memory: string, restartPolicy?: string) => ({ ...(restartPolicy ? { restartPolicy } : {}), resources: { requests: { cpu, memory }, limits: { memory } } });
    expect(effectivePodResources({ initContainers: [c("100m", "300Mi")], containers: [c("10m", "10Mi"), c("10m", "10Mi")] })).toEqual({ cpuMillis: 100, memoryMi: 300, memoryLimitMi: 300 });
    expect(effectivePodResources({ initContainers: [c("10m", "64Mi", "Always"), c("10m", "32Mi")], containers: [c("20m", "128Mi")] })).toEqual({ cpuMillis: 30, memoryMi: 192, memoryLimitMi: 192 });
  });

  it("Gitea's backup mounts the chart's volume read-only and dumps with the chart's own image", () => {
    const spec = podSpec(backupCronJob(ctx, backup, "gitea"));
    expect(spec.volumes[0]).toEqual({ name: "data", persistentVolumeClaim: { claimName: GITEA_CLAIM, readOnly: true } });
    expect(spec.initContainers[0].volumeMounts).toContainEqual({ name: "data", mountPath: "/data", readOnly: true });
    // The chart appends -rootless to image.tag (image.rootless: true) and keeps its default claimName.
    const values = giteaValues({ publicUrl: "http://git.example.org", domain: "git.example.org", sshPort: 30022, resources: SIZES.standard.gitea, adminEmail: "a@example.org" }) as any;
    expect(GITEA_ROOTLESS_IMAGE).toBe(`${GITEA_IMAGE.registry}/${GITEA_IMAGE.repository}:${values.image.tag}-rootless@${values.image.digest}`);
    expect(values.persistence.claimName).toBeUndefined();
  });

  it("every script a CronJob runs is in the scripts ConfigMap", () => {
    const scripts = backupScripts();
    const files = fs.readdirSync(path.resolve(__dirname, "../components/backup/scripts"));
    expect(Object.keys(scripts).sort()).toEqual(files.filter((f) => /\.(sh|py)$/.test(f)).sort());
    const restore = (comp: (typeof BACKUP_COMPONENTS)[number]) => podSpec(backupCronJob(ctx, backup, comp));
    for (const comp of BACKUP_COMPONENTS) {
      for (const ctr of [...(restore(comp).initContainers ?? []), ...restore(comp).containers]) {
        const used = ctr.command.filter((a: string) => a.startsWith("/scripts/")).map((a: string) => a.slice("/scripts/".length));
        for (const f of used) expect(scripts[f], `${comp}/${ctr.name}: ${f}`).toBeDefined();
      }
    }
  });

  it("backup namespaces: gitea, registry, sample-app and backup", () => {
    expect(backupNamespaces(ctx)).toEqual(["backup", "gitea", "registry", "sample-app"]);
  });
});

describe("backup config keys (validated before anything is registered, naming the key)", () => {
  const OCI = { domain: "p.example.com", adminCidr: "203.0.113.7/32", compartmentId: "ocid1.compartment.oc1..example", "oci:region": "eu-frankfurt-1", backupOciUserOcid: "ocid1.user.oc1..example" };
  const source = (values: Record<string, string>, secrets: Record<string, string> = {}): ConfigSource => ({
    get: (k) => values[k], getSecret: (k) => (k in secrets ? pulumi.secret(secrets[k]) : undefined),
  });
  const parse = (env: string, values: Record<string, string>, secrets: Record<string, string> = {}) =>
    parseConfig(source(env === "oci" ? { ...OCI, ...values } : env === "homelab" ? { domain: "h.example.com", hostAddress: "192.0.2.10", sshHostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHti2OleQg5G0MHLhX1RVjYSi3xH/ocsHLq0NbtQ6yaa", ...values } : values, env === "homelab" ? { sshPrivateKey: "k", ...secrets } : secrets), env);
  const fails = (env: string, values: Record<string, string>, key: string, secrets: Record<string, string> = {}) => {
    expect(() => parse(env, values, secrets)).toThrow(ConfigError);
    expect(() => parse(env, values, secrets)).toThrow(new RegExp(`^${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: `));
  };

  it("defaults: the stack's bucket on oci, the node's directory elsewhere; 7 daily, 4 weekly, 6 monthly", () => {
    expect(parse("oci", {}).backup).toMatchObject({ target: { kind: "oci-bucket", bucket: "platform-backups-oci", region: "eu-frankfurt-1", userOcid: "ocid1.user.oc1..example" }, retention: { daily: 7, weekly: 4, monthly: 6 }, host: "oci" });
    expect(parse("homelab", {}).backup.target).toEqual({ kind: "host-path", path: DEFAULT_HOST_PATH });
    expect(parse("dev", { backupHostPath: "/mnt/nas/platform/" }).backup.target).toEqual({ kind: "host-path", path: "/mnt/nas/platform" });
    const { backupOciUserOcid: _, ...withoutUser } = OCI;
    expect(parseConfig(source({ ...withoutUser, "oci:userOcid": "ocid1.user.oc1..fromprovider" }), "oci").backup.target).toMatchObject({ userOcid: "ocid1.user.oc1..fromprovider" });
    for (const key of ["backupKeepDaily", "backupS3Endpoint", "backupHostPath", "backupOciUserOcid", "backupPassword"]) expect(CONFIG_KEYS).toContain(key);
  });

  it("bad or incomplete values fail, naming the key", () => {
    fails("dev", { backupKeepDaily: "0", backupKeepWeekly: "0", backupKeepMonthly: "0" }, "platform:backupKeepDaily");
    fails("dev", { backupKeepWeekly: "-1" }, "platform:backupKeepWeekly");
    fails("dev", { backupHostPath: "backups" }, "platform:backupHostPath");
    fails("dev", { backupHostPath: "/var/lib/rancher/k3s/backups" }, "platform:backupHostPath");
    fails("dev", { backupHostPath: "/" }, "platform:backupHostPath");
    fails("dev", { backupS3Endpoint: "s3.example.com" }, "platform:backupS3Endpoint");
    fails("dev", { backupS3Endpoint: "https://s3.example.com/bucket" }, "platform:backupS3Endpoint");
    fails("dev", { backupS3Endpoint: "https://s3.example.com" }, "platform:backupS3Bucket");
    fails("dev", { backupS3Endpoint: "https://s3.example.com", backupS3Bucket: "b-1" }, "platform:backupS3AccessKeyId");
    fails("dev", { backupS3Endpoint: "https://s3.example.com", backupS3Bucket: "b-1" }, "platform:backupS3SecretAccessKey", { backupS3AccessKeyId: "a" });
    fails("dev", { backupS3Endpoint: "https://s3.example.com", backupHostPath: "/mnt/x" }, "platform:backupHostPath");
    fails("dev", { backupS3Bucket: "b-1" }, "platform:backupS3Bucket");
    fails("dev", { backupOciUserOcid: "ocid1.user.oc1..x" }, "platform:backupOciUserOcid");
    fails("oci", { backupOciUserOcid: "alice" }, "platform:backupOciUserOcid");
    fails("oci", { "oci:region": "" }, "oci:region");
  });

  it("a bad backup key fails the whole program before any resource is registered", async () => {
    const { error, created } = await runStackError("homelab", { config: { "platform:backupS3Endpoint": "https://minio.lan:9000" } });
    expect(error.message).toMatch(/^platform:backupS3Bucket: is required with platform:backupS3Endpoint/);
    expect(created).toEqual([]);
  });

  it("a user's S3 endpoint: credentials only as secrets, the stack's prefix by default", () => {
    const t = parse("dev", { backupS3Endpoint: "https://s3.eu-central-003.backblazeb2.com/", backupS3Bucket: "my-backups", backupS3Region: "eu-central-003" }, { backupS3AccessKeyId: "k", backupS3SecretAccessKey: "s" }).backup.target;
    expect(t).toMatchObject({ kind: "s3", endpoint: "https://s3.eu-central-003.backblazeb2.com", bucket: "my-backups", prefix: "platform/dev", region: "eu-central-003" });
    if (t.kind !== "s3") throw new Error("s3");
    expect(pulumi.Output.isInstance(t.accessKeyId)).toBe(true);
  });
});
