// Issue 14 #3: K3s per its CIS hardening guide (docs.k3s.io/security/hardening-guide, "v1.29 and Newer").
// The files are checked against the upstream Go types they are decoded into (no kube-apiserver in
// Debian to load them): apiserver.config.k8s.io/v1 AdmissionConfiguration
// (staging/src/k8s.io/apiserver/pkg/apis/apiserver/v1/types.go), pod-security.admission.config.k8s.io/v1
// PodSecurityConfiguration (staging/src/k8s.io/pod-security-admission/admission/api/v1/types.go),
// eventratelimit.admission.k8s.io/v1alpha1 Configuration (plugin/pkg/admission/eventratelimit/apis/
// eventratelimit/v1alpha1/types.go) and audit.k8s.io/v1 Policy (staging/src/k8s.io/apiserver/pkg/apis/audit/v1/types.go).
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import {
  admissionConfiguration, AUDIT_ROTATION, auditLogMaxMb, auditPolicy, HARDENING_PATHS, hardenedApiServerArgs, hardenedKubeletArgs,
  KUBELET_SYSCTLS, kubeletSysctlConf, POD_MAX_PIDS,
} from "../components/cluster/hardening";
import { k3dConfig } from "../components/cluster/k3d-config";
import { k3sAgentConfig, k3sServerConfig, stableYaml } from "../components/cluster/k3s-config";
import { kubeletSysctlPairs } from "../components/host/bare-metal-host";
import { Created, find, mocks, plain, unwrap } from "./helpers/mocks";

type Obj = Record<string, any>;

/** Field name -> type, as the Go structs' json tags say ("string", "int32", "bool", "string[]", or a nested shape). */
type Shape = { [field: string]: string | Shape | [Shape] };
const TYPE_META: Shape = { apiVersion: "string", kind: "string" };
const SHAPES = {
  admission: { ...TYPE_META, plugins: [{ name: "string", path: "string", configuration: "object" }] } as Shape,
  podSecurity: {
    ...TYPE_META,
    defaults: { enforce: "string", "enforce-version": "string", audit: "string", "audit-version": "string", warn: "string", "warn-version": "string" },
    exemptions: { usernames: "string[]", namespaces: "string[]", runtimeClasses: "string[]" },
  } as Shape,
  eventRateLimit: { ...TYPE_META, limits: [{ type: "string", qps: "int32", burst: "int32", cacheSize: "int32" }] } as Shape,
  audit: {
    ...TYPE_META, metadata: "object", omitStages: "string[]", omitManagedFields: "bool",
    rules: [{
      level: "string", users: "string[]", userGroups: "string[]", verbs: "string[]",
      resources: [{ group: "string", resources: "string[]", resourceNames: "string[]" }],
      namespaces: "string[]", nonResourceURLs: "string[]", omitStages: "string[]", omitManagedFields: "bool",
    }],
  } as Shape,
};

/** Unknown fields and wrong types, as a strict decode would report them. */
function shapeErrors(value: unknown, shape: Shape, at = ""): string[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [`${at || "."}: not an object`];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const want = shape[k];
    const where = `${at}.${k}`;
    if (want === undefined) { out.push(`${where}: unknown field`); continue; }
    if (Array.isArray(want)) {
      if (!Array.isArray(v)) out.push(`${where}: not a list`);
      else v.forEach((item, i) => out.push(...shapeErrors(item, want[0], `${where}[${i}]`)));
    } else if (typeof want === "object") out.push(...shapeErrors(v, want, where));
    else if (want === "string[]" ? !(Array.isArray(v) && v.every((x) => typeof x === "string"))
      : want === "int32" ? !(Number.isInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 31)
        : want === "object" ? typeof v !== "object" : typeof v !== want) out.push(`${where}: not ${want}`);
  }
  return out;
}

const roundTrip = (o: unknown) => YAML.parse(stableYaml(o));

describe("admission configuration (psa.yaml)", () => {
  const cfg = roundTrip(admissionConfiguration());
  const plugin = (name: string) => cfg.plugins.find((p: Obj) => p.name === name);

  it("#14 decodes as the upstream types: AdmissionConfiguration with PodSecurity and EventRateLimit", () => {
    expect(shapeErrors(cfg, SHAPES.admission)).toEqual([]);
    expect([cfg.apiVersion, cfg.kind]).toEqual(["apiserver.config.k8s.io/v1", "AdmissionConfiguration"]);
    expect(cfg.plugins.map((p: Obj) => p.name)).toEqual(["PodSecurity", "EventRateLimit"]);
    const ps = plugin("PodSecurity").configuration;
    expect(shapeErrors(ps, SHAPES.podSecurity)).toEqual([]);
    expect([ps.apiVersion, ps.kind]).toEqual(["pod-security.admission.config.k8s.io/v1", "PodSecurityConfiguration"]);
    const erl = plugin("EventRateLimit").configuration;
    expect(shapeErrors(erl, SHAPES.eventRateLimit)).toEqual([]);
    expect([erl.apiVersion, erl.kind]).toEqual(["eventratelimit.admission.k8s.io/v1alpha1", "Configuration"]);
    // The checker catches what a strict decode refuses.
    expect(shapeErrors({ ...erl, limits: [{ type: "Server", qps: "5000", burst: 1 }] }, SHAPES.eventRateLimit)).toEqual([".limits[0].qps: not int32"]);
    expect(shapeErrors({ ...ps, defaults: { ...ps.defaults, enforceVersion: "latest" } }, SHAPES.podSecurity)).toEqual([".defaults.enforceVersion: unknown field"]);
  });

  it("#14 restricted by default for enforce, audit and warn; only kube-system exempt", () => {
    const ps = plugin("PodSecurity").configuration;
    expect(ps.defaults).toEqual({ enforce: "restricted", "enforce-version": "latest", audit: "restricted", "audit-version": "latest", warn: "restricted", "warn-version": "latest" });
    for (const level of [ps.defaults.enforce, ps.defaults.audit, ps.defaults.warn]) expect(["privileged", "baseline", "restricted"]).toContain(level);
    expect(ps.exemptions).toEqual({ usernames: [], runtimeClasses: [], namespaces: ["kube-system"] });
  });

  it("#14 EventRateLimit: the guide's server-wide bucket and one per namespace, each with a valid type", () => {
    const { limits } = plugin("EventRateLimit").configuration;
    expect(limits[0]).toEqual({ type: "Server", qps: 5000, burst: 20000 });
    for (const l of limits) {
      expect(["Server", "Namespace", "User", "SourceAndObject"]).toContain(l.type);
      expect(l.burst).toBeGreaterThanOrEqual(l.qps);
    }
  });
});

// The audit policy as the API server applies it: the first rule that matches decides the level.
interface Req { user: string; groups?: string[]; verb: string; group?: string; resource?: string; namespace?: string; url?: string }
function auditLevel(policy: Obj, r: Req): string {
  const match = (list: string[] | undefined, v: string | undefined) => !list || list.length === 0 || (v !== undefined && list.includes(v));
  for (const rule of policy.rules) {
    if (!match(rule.users, r.user)) continue;
    if (rule.userGroups?.length && !(r.groups ?? []).some((g) => rule.userGroups.includes(g))) continue;
    if (!match(rule.verbs, r.verb)) continue;
    if (r.url !== undefined) {
      if (rule.resources?.length || rule.namespaces?.length) continue;
      if (rule.nonResourceURLs?.length && !rule.nonResourceURLs.some((u: string) => u === r.url || (u.endsWith("*") && r.url!.startsWith(u.slice(0, -1))))) continue;
    } else {
      if (rule.nonResourceURLs?.length) continue;
      if (!match(rule.namespaces, r.namespace)) continue;
      if (rule.resources?.length && !rule.resources.some((g: Obj) => (g.group ?? "") === (r.group ?? "") && (!g.resources?.length || g.resources.includes(r.resource) || g.resources.includes("*")))) continue;
    }
    return rule.level;
  }
  return "None";
}

describe("audit policy (audit.yaml)", () => {
  const policy = roundTrip(auditPolicy());

  it("#14 decodes as audit.k8s.io/v1 Policy, with known levels and stages", () => {
    expect(shapeErrors(policy, SHAPES.audit)).toEqual([]);
    expect([policy.apiVersion, policy.kind]).toEqual(["audit.k8s.io/v1", "Policy"]);
    for (const r of policy.rules) expect(["None", "Metadata", "Request", "RequestResponse"]).toContain(r.level);
    for (const s of policy.omitStages) expect(["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"]).toContain(s);
    // Upstream validation: resourceNames need resources; a non-resource URL wildcard only at the end.
    for (const r of policy.rules) for (const u of r.nonResourceURLs ?? []) expect(u.indexOf("*") === -1 || u.indexOf("*") === u.length - 1, u).toBe(true);
  });

  it("#14 no request or response body is logged: Secrets, ConfigMaps and tokens at Metadata at most, whoever asks", () => {
    for (const r of policy.rules) expect(r.level, JSON.stringify(r)).toMatch(/^(None|Metadata)$/);
    const users: Req[] = [{ user: "alice", verb: "create" }, { user: "system:serviceaccount:argocd:argocd-application-controller", verb: "update" }, { user: "kube-system:pulumi", verb: "get" }];
    for (const u of users) {
      expect(auditLevel(policy, { ...u, resource: "secrets", namespace: "gitea" })).toBe("Metadata");
      expect(auditLevel(policy, { ...u, resource: "configmaps", namespace: "gitea" })).toBe("Metadata");
      expect(auditLevel(policy, { ...u, group: "authentication.k8s.io", resource: "tokenreviews" })).toBe("Metadata");
    }
    // A change to a workload is still recorded (who, what, when).
    expect(auditLevel(policy, { user: "alice", verb: "patch", group: "apps", resource: "deployments", namespace: "sample-app" })).toBe("Metadata");
    expect(auditLevel(policy, { user: "alice", verb: "create", group: "rbac.authorization.k8s.io", resource: "clusterrolebindings" })).toBe("Metadata");
    // A rule at Request level ahead of the Secrets rule would leak their data: the checker sees it.
    const leaky = { ...policy, rules: [{ level: "Request", verbs: ["create", "update", "patch"] }, ...policy.rules] };
    expect(auditLevel(leaky, { user: "alice", verb: "create", resource: "secrets", namespace: "gitea" })).toBe("Request");
  });

  it("#14 the loudest requests are not logged: health checks, events, leases, the nodes' reads", () => {
    expect(auditLevel(policy, { user: "system:anonymous", verb: "get", url: "/readyz" })).toBe("None");
    expect(auditLevel(policy, { user: "system:anonymous", verb: "get", url: "/livez/etcd" })).toBe("None");
    expect(auditLevel(policy, { user: "system:node:server-0", groups: ["system:nodes"], verb: "watch", resource: "pods" })).toBe("None");
    expect(auditLevel(policy, { user: "system:kube-scheduler", verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: "kube-system" })).toBe("None");
    expect(auditLevel(policy, { user: "system:serviceaccount:argo-rollouts:argo-rollouts", verb: "create", resource: "events", namespace: "sample-app" })).toBe("None");
    // A node writing something else is still seen.
    expect(auditLevel(policy, { user: "system:node:server-0", groups: ["system:nodes"], verb: "patch", resource: "nodes" })).toBe("Metadata");
  });

  it("#14 rotation per the guide; at most 1.1 GB of the 50 GB boot volume", () => {
    expect(AUDIT_ROTATION).toEqual({ maxAgeDays: 30, maxBackups: 10, maxSizeMb: 100 });
    expect(hardenedApiServerArgs()).toEqual(expect.arrayContaining([
      `audit-log-path=${HARDENING_PATHS.auditLog}`, `audit-policy-file=${HARDENING_PATHS.auditPolicy}`,
      "audit-log-maxage=30", "audit-log-maxbackup=10", "audit-log-maxsize=100",
    ]));
    expect(auditLogMaxMb()).toBe(1100);
    expect(auditLogMaxMb() / (50 * 1024)).toBeLessThan(0.025);
  });
});

describe("K3s config (oci, homelab)", () => {
  const server = k3sServerConfig({ tlsSans: ["198.51.100.1"], nodeCpus: 2, nodeMemoryGb: 12 });
  const kubelet = server["kubelet-arg"] as string[];

  it("#14 protect-kernel-defaults on servers and agents, with the kernel parameters the kubelet checks", () => {
    expect(server["protect-kernel-defaults"]).toBe(true);
    expect(k3sAgentConfig(2, 12)["protect-kernel-defaults"]).toBe(true);
    // kubernetes pkg/kubelet/cm/container_manager_linux.go setupKernelTunables, all six; the guide's four among them.
    expect(KUBELET_SYSCTLS).toEqual({
      "vm.overcommit_memory": 1, "vm.panic_on_oom": 0, "kernel.panic": 10, "kernel.panic_on_oops": 1,
      "kernel.keys.root_maxkeys": 1000000, "kernel.keys.root_maxbytes": 25000000,
    });
    expect(kubeletSysctlConf()).toContain("vm.overcommit_memory=1\nvm.panic_on_oom=0\nkernel.panic=10\nkernel.panic_on_oops=1\n");
    // The preflight checks the same list the install writes.
    expect(kubeletSysctlPairs().split(" ")).toEqual(kubeletSysctlConf().split("\n").filter((l) => l && !l.startsWith("#")));
  });

  it("#14 the API server: NodeRestriction kept, EventRateLimit added, the admission file and the audit log", () => {
    const api = server["kube-apiserver-arg"] as string[];
    expect(api).toEqual(hardenedApiServerArgs());
    expect(api).toContain("enable-admission-plugins=NodeRestriction,EventRateLimit");
    expect(api).toContain(`admission-control-config-file=${HARDENING_PATHS.admission}`);
    expect(api).toContain("service-account-extend-token-expiration=false");
    expect(HARDENING_PATHS.admission).toBe("/var/lib/rancher/k3s/server/psa.yaml");
    expect(server["kube-controller-manager-arg"]).toEqual(["terminated-pod-gc-threshold=100"]);
  });

  it("#14 the kubelet: idle streams end after 5 m, a PID limit per pod, event QPS, strong ciphers", () => {
    expect(kubelet).toEqual(expect.arrayContaining(hardenedKubeletArgs()));
    expect(kubelet).toContain("streaming-connection-idle-timeout=5m");
    expect(kubelet).toContain(`pod-max-pids=${POD_MAX_PIDS}`);
    expect(POD_MAX_PIDS).toBeGreaterThanOrEqual(1024); // dind builds: dockerd, containerd, BuildKit and the job's processes
    // CIS 4.2.7: the default (true) stands; never turned off.
    expect(kubelet.some((a) => a.startsWith("make-iptables-util-chains"))).toBe(false);
    expect(kubelet).toContain("event-qps=50");
    expect(kubelet.find((a) => a.startsWith("tls-cipher-suites="))).not.toMatch(/CBC|RC4|3DES|TLS_RSA_WITH_/);
    expect(k3sAgentConfig(2, 12)["kubelet-arg"]).toEqual(expect.arrayContaining(hardenedKubeletArgs()));
  });
});

describe("K3s component passes the files to the install", () => {
  const created: Created[] = [];
  beforeAll(() => pulumi.runtime.setMocks(mocks(created), "gitops-platform", "oci", false));
  beforeEach(() => { created.length = 0; });

  it("#14 servers get the sysctl file, psa.yaml and audit.yaml; agents the sysctl file only", async () => {
    const { K3s } = await import("../components/cluster/k3s");
    const node = (name: string, ip: string) => ({
      name, connection: { host: ip, user: "ubuntu", privateKey: "k" }, publicAddress: pulumi.output(ip), privateAddress: pulumi.output(ip), cpus: 2, memoryGb: 12, ready: [],
    });
    const k3s = new K3s("k3s", {
      server: node("server-0", "10.0.1.1"), agents: [node("agent-1", "10.0.1.2")], token: pulumi.secret("token"),
      registry: { host: "registry.platform.internal:5000", endpoint: "http://127.0.0.1:30500", username: "platform", password: pulumi.secret("pw") },
    });
    await unwrap(k3s.kubeconfig);
    const envOf = (name: string) => {
      const stdin: string = plain(find(created, "command:remote:Command", (c) => c.name === name).inputs.stdin);
      return (key: string) => {
        const m = new RegExp(`export ${key}="\\$\\(printf '%s' '([^']*)'`).exec(stdin);
        return m ? Buffer.from(m[1], "base64").toString("utf8") : undefined;
      };
    };
    const server = envOf("k3s-server");
    expect(server("SYSCTL_CONF_B64") && Buffer.from(server("SYSCTL_CONF_B64")!, "base64").toString("utf8")).toBe(kubeletSysctlConf());
    expect(YAML.parse(Buffer.from(server("ADMISSION_CONFIG_B64")!, "base64").toString("utf8"))).toEqual(roundTrip(admissionConfiguration()));
    expect(YAML.parse(Buffer.from(server("AUDIT_POLICY_B64")!, "base64").toString("utf8"))).toEqual(roundTrip(auditPolicy()));
    const agent = envOf("k3s-agent-1");
    expect(Buffer.from(agent("SYSCTL_CONF_B64")!, "base64").toString("utf8")).toBe(kubeletSysctlConf());
    expect(agent("ADMISSION_CONFIG_B64")).toBeUndefined();
  });
});

describe("k3d (dev): what applies", () => {
  const cfg = roundTrip(k3dConfig({ name: "platform", httpPort: 8080, httpsPort: 8443, apiPort: 6445, nodePorts: [30300] }));
  const args = cfg.options.k3s.extraArgs as { arg: string; nodeFilters: string[] }[];

  it("#14 the same admission configuration and audit policy, embedded in the config for the server nodes", () => {
    // k3d v5.9.0 pkg/config/v1alpha5/schema.json `files`: source, destination, description, nodeFilters.
    for (const f of cfg.files) expect(Object.keys(f).sort()).toEqual(["description", "destination", "nodeFilters", "source"]);
    const file = (dest: string) => cfg.files.find((f: Obj) => f.destination === dest);
    expect(YAML.parse(file(HARDENING_PATHS.admission).source)).toEqual(roundTrip(admissionConfiguration()));
    expect(YAML.parse(file(HARDENING_PATHS.auditPolicy).source)).toEqual(roundTrip(auditPolicy()));
    // pkg/util/files.go ReadFileSource: a source with a newline is embedded content, not a file path.
    for (const f of cfg.files) expect(f.source).toContain("\n");
    for (const f of cfg.files) expect(f.nodeFilters).toEqual(["server:*"]);
  });

  it("#14 the API server, controller-manager and kubelet flags; not protect-kernel-defaults (the Docker host's kernel)", () => {
    for (const a of hardenedApiServerArgs()) expect(args).toContainEqual({ arg: `--kube-apiserver-arg=${a}`, nodeFilters: ["server:*"] });
    for (const a of hardenedKubeletArgs()) expect(args).toContainEqual({ arg: `--kubelet-arg=${a}`, nodeFilters: ["server:*", "agent:*"] });
    expect(args).toContainEqual({ arg: "--kube-controller-manager-arg=terminated-pod-gc-threshold=100", nodeFilters: ["server:*"] });
    expect(args.some((a) => a.arg.includes("protect-kernel-defaults"))).toBe(false);
    for (const a of args) expect(Object.keys(a).sort()).toEqual(["arg", "nodeFilters"]);
  });
});
