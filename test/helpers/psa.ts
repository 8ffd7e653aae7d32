// A small Pod Security admission: the baseline and restricted checks of the Pod Security Standards
// (kubernetes.io/docs/concepts/security/pod-security-standards, k8s.io/pod-security-admission/policy,
// "latest"), for the fields pods can carry, and the namespace's level as the API server decides it:
// its `pod-security.kubernetes.io/enforce` label, else the AdmissionConfiguration's default, unless
// the namespace is exempt. Mocks never run admission; the API server refuses a pod that fails.

export type Level = "privileged" | "baseline" | "restricted";
type Obj = Record<string, any>;

const BASELINE_CAPABILITIES = new Set(["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]);
const SAFE_SYSCTLS = new Set(["kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
  "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"]);
const SELINUX_TYPES = new Set(["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"]);
const RESTRICTED_VOLUMES = new Set(["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"]);

const containersOf = (spec: Obj): Obj[] => [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])];

/** What the baseline level forbids in a pod template (metadata + spec); one message per finding. */
export function baselineViolations(pod: Obj): string[] {
  const spec = pod.spec ?? {};
  const out: string[] = [];
  const psc = spec.securityContext ?? {};
  const cs = containersOf(spec);
  if (psc.windowsOptions?.hostProcess || cs.some((c) => c.securityContext?.windowsOptions?.hostProcess)) out.push("hostProcess");
  for (const f of ["hostNetwork", "hostPID", "hostIPC"]) if (spec[f]) out.push(`${f}=true`);
  for (const c of cs) {
    const sc = c.securityContext ?? {};
    if (sc.privileged) out.push(`${c.name}: privileged`);
    for (const cap of sc.capabilities?.add ?? []) if (!BASELINE_CAPABILITIES.has(cap)) out.push(`${c.name}: capability ${cap}`);
    for (const p of c.ports ?? []) if (p.hostPort) out.push(`${c.name}: hostPort ${p.hostPort}`);
    if (sc.procMount && sc.procMount !== "Default") out.push(`${c.name}: procMount ${sc.procMount}`);
    if (sc.seccompProfile?.type === "Unconfined") out.push(`${c.name}: seccomp Unconfined`);
    if (sc.appArmorProfile?.type === "Unconfined") out.push(`${c.name}: appArmor Unconfined`);
    const se = sc.seLinuxOptions;
    if (se && (!SELINUX_TYPES.has(se.type ?? "") || se.user || se.role)) out.push(`${c.name}: seLinuxOptions`);
  }
  for (const v of spec.volumes ?? []) if (v.hostPath) out.push(`volume ${v.name}: hostPath`);
  if (psc.seccompProfile?.type === "Unconfined") out.push("pod: seccomp Unconfined");
  if (psc.appArmorProfile?.type === "Unconfined") out.push("pod: appArmor Unconfined");
  if (psc.seLinuxOptions && (!SELINUX_TYPES.has(psc.seLinuxOptions.type ?? "") || psc.seLinuxOptions.user || psc.seLinuxOptions.role)) out.push("pod: seLinuxOptions");
  for (const s of psc.sysctls ?? []) if (!SAFE_SYSCTLS.has(s.name)) out.push(`sysctl ${s.name}`);
  for (const [k, v] of Object.entries(pod.metadata?.annotations ?? {})) {
    if (k.startsWith("container.apparmor.security.beta.kubernetes.io/") && v !== "runtime/default" && !String(v).startsWith("localhost/")) out.push(`annotation ${k}=${v}`);
  }
  return out;
}

/** What restricted forbids on top of baseline. */
export function restrictedViolations(pod: Obj): string[] {
  const spec = pod.spec ?? {};
  const out = baselineViolations(pod);
  const psc = spec.securityContext ?? {};
  for (const v of spec.volumes ?? []) {
    const type = Object.keys(v).find((k) => k !== "name");
    if (type && !RESTRICTED_VOLUMES.has(type)) out.push(`volume ${v.name}: ${type}`);
  }
  if (psc.runAsUser === 0) out.push("pod: runAsUser 0");
  for (const c of containersOf(spec)) {
    const sc = c.securityContext ?? {};
    if (sc.allowPrivilegeEscalation !== false) out.push(`${c.name}: allowPrivilegeEscalation not false`);
    const nonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
    if (nonRoot !== true) out.push(`${c.name}: runAsNonRoot not true`);
    if (sc.runAsUser === 0) out.push(`${c.name}: runAsUser 0`);
    const seccomp = (sc.seccompProfile ?? psc.seccompProfile)?.type;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") out.push(`${c.name}: seccompProfile not RuntimeDefault/Localhost`);
    if (!(sc.capabilities?.drop ?? []).includes("ALL")) out.push(`${c.name}: capabilities do not drop ALL`);
    for (const cap of sc.capabilities?.add ?? []) if (cap !== "NET_BIND_SERVICE") out.push(`${c.name}: adds ${cap}`);
  }
  return [...new Set(out)];
}

export function violations(level: Level, pod: Obj): string[] {
  if (level === "privileged") return [];
  return level === "baseline" ? baselineViolations(pod) : restrictedViolations(pod);
}

/** The PodSecurity plugin's configuration out of an apiserver.config.k8s.io/v1 AdmissionConfiguration. */
export interface PsaDefaults { readonly enforce: Level; readonly exemptNamespaces: readonly string[] }
export function psaDefaults(admission: Obj): PsaDefaults {
  const plugin = (admission.plugins ?? []).find((p: Obj) => p.name === "PodSecurity");
  const cfg = plugin?.configuration ?? {};
  return { enforce: (cfg.defaults?.enforce ?? "privileged") as Level, exemptNamespaces: cfg.exemptions?.namespaces ?? [] };
}

/** The level a pod in `namespace` is held to: undefined when exempt. */
export function namespaceLevel(namespace: string, labels: Record<string, string> | undefined, defaults: PsaDefaults): Level | undefined {
  if (defaults.exemptNamespaces.includes(namespace)) return undefined;
  return (labels?.["pod-security.kubernetes.io/enforce"] as Level | undefined) ?? defaults.enforce;
}

/** The pod template of a workload kind (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Rollout). */
export function podTemplateOf(obj: Obj): Obj | undefined {
  switch (obj?.kind) {
    case "Pod": return obj;
    case "Deployment": case "StatefulSet": case "DaemonSet": case "ReplicaSet": case "Job": case "Rollout": return obj.spec?.template;
    case "CronJob": return obj.spec?.jobTemplate?.spec?.template;
    default: return undefined;
  }
}

/**
 * What istiod's sidecar injector adds before admission sees the pod (istio-discovery
 * files/injection-template.yaml @ 1.30.3, without the Istio CNI): istio-init as root with NET_ADMIN
 * and NET_RAW, and istio-proxy as 1337. Pods opting out (sidecar.istio.io/inject=false) and
 * namespaces without `istio-injection: enabled` are left alone.
 */
export function withIstioSidecar(pod: Obj, namespaceLabels: Record<string, string> | undefined): Obj {
  if (namespaceLabels?.["istio-injection"] !== "enabled") return pod;
  // The pod's label wins over the (deprecated) annotation; either set to "false" opts out.
  const optOut = pod.metadata?.labels?.["sidecar.istio.io/inject"] ?? pod.metadata?.annotations?.["sidecar.istio.io/inject"];
  if (optOut === "false") return pod;
  const spec = pod.spec ?? {};
  return {
    ...pod,
    spec: {
      ...spec,
      initContainers: [...(spec.initContainers ?? []), {
        name: "istio-init",
        securityContext: {
          allowPrivilegeEscalation: false, privileged: false, capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] },
          readOnlyRootFilesystem: false, runAsGroup: 0, runAsNonRoot: false, runAsUser: 0,
        },
      }],
      containers: [...(spec.containers ?? []), {
        name: "istio-proxy",
        securityContext: {
          allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: ["ALL"] },
          readOnlyRootFilesystem: true, runAsGroup: 1337, runAsNonRoot: true, runAsUser: 1337,
        },
      }],
    },
  };
}
