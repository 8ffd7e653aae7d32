// Issue 14 #3: Pod Security admission, restricted by default (cluster/hardening.ts), judged on every
// pod the platform makes the API server admit: our workloads, the charts' (test/fixtures/charts), the
// sample app's manifests as they go into Git, and K3s's own in kube-system. Each is held to the level
// its namespace has on the cluster, after Istio's injector added its containers.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { describe, expect, it } from "vitest";
import { admissionConfiguration, PSA_EXEMPT_NAMESPACES } from "../components/cluster/hardening";
import { plain } from "./helpers/mocks";
import { Level, namespaceLevel, podTemplateOf, psaDefaults, PsaDefaults, violations, withIstioSidecar } from "./helpers/psa";
import { runStack } from "./helpers/stack";

type Obj = Record<string, any>;
const STACKS = ["oci", "homelab", "dev"] as const;
const WORKLOAD_TYPE = /^kubernetes:(apps\/v1:(Deployment|StatefulSet|DaemonSet)|batch\/v1:(Job|CronJob)|core\/v1:Pod|argoproj\.io\/v1alpha1:Rollout)$/;

const FIXTURES = path.join(__dirname, "fixtures", "charts");
const chartObjects: Obj[] = fs.readdirSync(FIXTURES).filter((f) => f.endsWith(".yaml")).sort()
  .flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(path.join(FIXTURES, f), "utf8")).map((d) => d.toJS() as Obj));

// What K3s itself runs in kube-system, written from its sources at the pinned release: servicelb's
// DaemonSet for a LoadBalancer Service (pkg/cloudprovider/servicelb.go newDaemonSet: a host port per
// Service port, NET_ADMIN, the ip_forward sysctl) and local-path-provisioner's helper pod, which
// creates and deletes volume directories through a hostPath mount.
const K3S_SYSTEM_PODS: Obj[] = [
  {
    apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "svclb-istio-ingressgateway-0a1b2c3d", namespace: "kube-system" },
    spec: { template: { metadata: { labels: { app: "svclb-istio-ingressgateway-0a1b2c3d" } }, spec: {
      serviceAccountName: "svclb", automountServiceAccountToken: false,
      securityContext: { sysctls: [{ name: "net.ipv4.ip_forward", value: "1" }] },
      containers: [80, 443].map((port) => ({
        name: `lb-tcp-${port}`, image: "rancher/klipper-lb", ports: [{ name: `lb-tcp-${port}`, containerPort: port, hostPort: port, protocol: "TCP" }],
        securityContext: { capabilities: { add: ["NET_ADMIN"] } },
      })),
    } } },
  },
  {
    apiVersion: "v1", kind: "Pod", metadata: { name: "helper-pod-create-pvc-0a1b2c3d", namespace: "kube-system" },
    spec: { containers: [{ name: "helper-pod", image: "rancher/mirrored-library-busybox", command: ["/bin/sh", "/script/setup"], volumeMounts: [{ name: "data", mountPath: "/data/" }] }],
      volumes: [{ name: "data", hostPath: { path: "/var/lib/platform/volumes", type: "DirectoryOrCreate" } }, { name: "script", configMap: { name: "local-path-config" } }] },
  },
];

interface Judged { readonly where: string; readonly namespace: string; readonly level: Level | undefined; readonly pod: Obj; readonly found: string[] }

/** Every pod template the API server would be asked to admit for this stack, and what it says. */
async function judgeStack(stack: string, defaults: PsaDefaults = psaDefaults(admissionConfiguration())) {
  const run = await runStack(stack);
  const namespaces = new Map<string, Record<string, string>>();
  for (const c of run.created) if (c.type === "kubernetes:core/v1:Namespace") namespaces.set(c.inputs.metadata.name, plain(c.inputs.metadata.labels) ?? {});
  const objects: { where: string; obj: Obj }[] = [];
  for (const c of run.created) if (WORKLOAD_TYPE.test(c.type)) objects.push({ where: "stack", obj: { kind: c.type.split(":").pop(), metadata: plain(c.inputs.metadata), spec: plain(c.inputs.spec) } });
  // The sample app as Argo CD syncs it: deploy/<env>/*.yaml out of the bootstrap Job's content.
  const content = run.created.find((c) => c.type === "kubernetes:core/v1:ConfigMap" && c.inputs.metadata.name.endsWith("-content"));
  const data = plain(content!.inputs.data) as Record<string, string>;
  const gitFiles = data.MANIFEST.trim().split("\n").map((l) => l.split(" ")).filter(([, , p]) => /^deploy\/.*\.ya?ml$/.test(p));
  expect(gitFiles.length).toBeGreaterThan(0);
  for (const [key] of gitFiles) for (const d of YAML.parseAllDocuments(data[key])) objects.push({ where: "git", obj: d.toJS() });
  for (const obj of chartObjects) objects.push({ where: "chart", obj });
  for (const obj of K3S_SYSTEM_PODS) objects.push({ where: "k3s", obj });

  const judged: Judged[] = [];
  for (const { where, obj } of objects) {
    const template = podTemplateOf(obj);
    if (!template) continue;
    const namespace = obj.metadata?.namespace;
    if (!namespace) throw new Error(`${where} ${obj.kind}/${obj.metadata?.name}: no namespace`);
    const labels = namespaces.get(namespace);
    const level = namespaceLevel(namespace, labels, defaults);
    const pod = withIstioSidecar(template, labels);
    judged.push({ where: `${where} ${obj.kind}/${obj.metadata.name}`, namespace, level, pod, found: level ? violations(level, pod) : [] });
  }
  return { judged, namespaces };
}

const refusals = (judged: readonly Judged[]) => judged.filter((j) => j.found.length > 0).map((j) => `${j.where} in ${j.namespace} (${j.level}): ${j.found.join("; ")}`);

describe("Pod Security admission over the platform's pods (issue 14 #3)", () => {
  for (const stack of STACKS) {
    it(`#14 ${stack}: every pod template passes its namespace's level, restricted unless the namespace says otherwise`, async () => {
      const { judged } = await judgeStack(stack);
      expect(refusals(judged)).toEqual([]);
      // It reached them all: ours, the Git-delivered app (a Rollout and the database), the charts, K3s's.
      const kinds = new Set(judged.map((j) => `${j.where.split(" ")[0]} ${j.where.split(" ")[1].split("/")[0]}`));
      for (const k of ["stack Deployment", "stack Job", "stack CronJob", "git Rollout", "git StatefulSet", "chart Deployment", "chart StatefulSet", "k3s DaemonSet", "k3s Pod"]) expect([...kinds], k).toContain(k);
      expect(judged.length).toBeGreaterThanOrEqual(20);
      // Only kube-system goes unjudged.
      expect([...new Set(judged.filter((j) => j.level === undefined).map((j) => j.namespace))]).toEqual(["kube-system"]);
    });
  }

  it("#14 each namespace below restricted needs its level: one level stricter refuses a pod it runs", async () => {
    const { judged, namespaces } = await judgeStack("oci");
    const stricter: Record<string, Level> = { privileged: "baseline", baseline: "restricted" };
    const loose = [...namespaces].filter(([, l]) => l["pod-security.kubernetes.io/enforce"] !== "restricted");
    expect(loose.map(([n, l]) => `${n}=${l["pod-security.kubernetes.io/enforce"]}`).sort())
      .toEqual(["backup=privileged", "gitea-runner=privileged", "istio-system=baseline", "sample-app=privileged"]);
    for (const [ns, labels] of loose) {
      const level = stricter[labels["pod-security.kubernetes.io/enforce"]];
      const refused = judged.filter((j) => j.namespace === ns).flatMap((j) => violations(level, j.pod).map((v) => `${j.where}: ${v}`));
      expect(refused.length, `${ns} would do with ${level}`).toBeGreaterThan(0);
    }
    // Why, in the terms of the standards: the sidecar's init container, the runner's dind, the K3s
    // datastore backup's host path, the gateway without a seccomp profile.
    const at = (ns: string, level: Level) => judged.filter((j) => j.namespace === ns).flatMap((j) => violations(level, j.pod)).join("; ");
    expect(at("sample-app", "baseline")).toContain("istio-init: capability NET_ADMIN");
    expect(at("gitea-runner", "baseline")).toMatch(/privileged/);
    expect(at("backup", "baseline")).toMatch(/hostPath/);
    expect(at("istio-system", "restricted")).toMatch(/seccompProfile/);
  });

  it("#14 without the kube-system exemption K3s's own servicelb and local-path pods would be refused", async () => {
    const defaults = psaDefaults(admissionConfiguration({ exemptNamespaces: [] }));
    expect(defaults.exemptNamespaces).toEqual([]);
    const { judged } = await judgeStack("homelab", defaults);
    const system = judged.filter((j) => j.namespace === "kube-system");
    expect(system.map((j) => j.level)).toEqual(["restricted", "restricted"]);
    expect(refusals(system).join("\n")).toMatch(/hostPort 80[\s\S]*capability NET_ADMIN[\s\S]*sysctl net.ipv4.ip_forward[\s\S]*hostPath/);
    expect(PSA_EXEMPT_NAMESPACES).toEqual(["kube-system"]);
  });

  it("#14 a pod without its securityContext fields is refused in a restricted namespace", async () => {
    const { judged } = await judgeStack("oci");
    const ksm = judged.find((j) => j.where === "stack Deployment/kube-state-metrics" || j.where.endsWith("kube-state-metrics"))!;
    expect(ksm.level).toBe("restricted");
    expect(ksm.found).toEqual([]);
    const without = (edit: (pod: Obj) => void) => { const pod = structuredClone(ksm.pod); edit(pod); return violations("restricted", pod); };
    expect(without((p) => { delete p.spec.securityContext?.seccompProfile; for (const c of p.spec.containers) delete c.securityContext?.seccompProfile; })).toContain("kube-state-metrics: seccompProfile not RuntimeDefault/Localhost");
    expect(without((p) => { for (const c of p.spec.containers) delete c.securityContext.allowPrivilegeEscalation; })).toContain("kube-state-metrics: allowPrivilegeEscalation not false");
    expect(without((p) => { delete p.spec.securityContext?.runAsNonRoot; for (const c of p.spec.containers) delete c.securityContext?.runAsNonRoot; })).toContain("kube-state-metrics: runAsNonRoot not true");
    expect(without((p) => { for (const c of p.spec.containers) c.securityContext.capabilities = { drop: [] }; })).toContain("kube-state-metrics: capabilities do not drop ALL");
    // A namespace without a label takes the cluster default, restricted.
    const unlabelled = namespaceLevel("default", undefined, psaDefaults(admissionConfiguration()));
    expect(unlabelled).toBe("restricted");
  });
});
