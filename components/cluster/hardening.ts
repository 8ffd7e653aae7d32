// K3s per its CIS hardening guide (docs.k3s.io/security/hardening-guide, "v1.29 and Newer"): the
// kernel parameters the kubelet protects, the admission configuration (Pod Security + EventRateLimit),
// the audit policy, and the flags that point K3s at them. Pure builders; the install script and
// k3d's config file put the files in place.
/** Where the files live on a server (the guide's paths; K3S_DATA_DIR is /var/lib/rancher/k3s). */
export const HARDENING_PATHS = {
  sysctl: "/etc/sysctl.d/90-kubelet.conf",
  admission: "/var/lib/rancher/k3s/server/psa.yaml",
  auditPolicy: "/var/lib/rancher/k3s/server/audit.yaml",
  auditLog: "/var/lib/rancher/k3s/server/logs/audit.log",
} as const;

/**
 * What the kubelet checks with protect-kernel-defaults (kubernetes pkg/kubelet/cm/container_manager_linux.go
 * setupKernelTunables; values from component-helpers/node/util/sysctl): it exits when one differs. The
 * guide lists the first four; the two key quotas are the kernel's defaults, set anyway so that a host
 * tuned otherwise is corrected, not refused.
 */
export const KUBELET_SYSCTLS: Readonly<Record<string, number>> = {
  "vm.overcommit_memory": 1,
  "vm.panic_on_oom": 0,
  "kernel.panic": 10,
  "kernel.panic_on_oops": 1,
  "kernel.keys.root_maxkeys": 1000000,
  "kernel.keys.root_maxbytes": 25000000,
};

/** /etc/sysctl.d/90-kubelet.conf. */
export function kubeletSysctlConf(): string {
  return [
    "# Written by the platform's K3s install: the kubelet runs with protect-kernel-defaults and exits",
    "# when one of these differs. A file sorting after this one must not set them otherwise.",
    ...Object.entries(KUBELET_SYSCTLS).map(([k, v]) => `${k}=${v}`),
    "",
  ].join("\n");
}

/**
 * Per-pod PID limit. The runner pod is the largest: dockerd, containerd and its shims, BuildKit and the
 * job's own processes (npm, pip, pytest, Trivy: Go and Node threads count as PIDs), a few hundred at a
 * build's peak. 4096 leaves ~10x that and stops a fork bomb in one pod from exhausting the node
 * (pid_max 4194304 on 64-bit Ubuntu).
 */
export const POD_MAX_PIDS = 4096;

/** Kubelet flags of the guide (CIS 4.2.x), on every node. */
export function hardenedKubeletArgs(): string[] {
  return [
    "streaming-connection-idle-timeout=5m",
    `pod-max-pids=${POD_MAX_PIDS}`,
    // make-iptables-util-chains (CIS 4.2.7) is left at the kubelet's default, true: the guide's
    // configuration for v1.25+ no longer names it.
    // CIS 4.2.9 asks for 0 or "a level which ensures appropriate event capture": the kubelet's default,
    // explicit; the API server's EventRateLimit bounds all sources together.
    "event-qps=50",
    "tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
  ];
}

export interface AuditRotation {
  readonly maxAgeDays: number;
  readonly maxBackups: number;
  readonly maxSizeMb: number;
}

/** The guide's rotation: at most (10 + 1) x 100 MB = 1.1 GB on the boot disk, 30 days. */
export const AUDIT_ROTATION: AuditRotation = { maxAgeDays: 30, maxBackups: 10, maxSizeMb: 100 };

/** Most disk the audit log can take (the current file and its backups). */
export function auditLogMaxMb(r: AuditRotation = AUDIT_ROTATION): number {
  return (r.maxBackups + 1) * r.maxSizeMb;
}

/** kube-apiserver flags: admission plugins and their configuration, the audit log with rotation. */
export function hardenedApiServerArgs(r: AuditRotation = AUDIT_ROTATION): string[] {
  return [
    // K3s enables NodeRestriction itself; a user-given list replaces K3s's, so it is named again.
    "enable-admission-plugins=NodeRestriction,EventRateLimit",
    `admission-control-config-file=${HARDENING_PATHS.admission}`,
    `audit-policy-file=${HARDENING_PATHS.auditPolicy}`,
    `audit-log-path=${HARDENING_PATHS.auditLog}`,
    `audit-log-maxage=${r.maxAgeDays}`,
    `audit-log-maxbackup=${r.maxBackups}`,
    `audit-log-maxsize=${r.maxSizeMb}`,
    // Projected ServiceAccount tokens expire when they say (client-go reloads them); the stack's own
    // token is a legacy Secret token and is not affected.
    "service-account-extend-token-expiration=false",
  ];
}

export function hardenedControllerManagerArgs(): string[] {
  return ["terminated-pod-gc-threshold=100"];
}

/**
 * Namespaces Pod Security does not judge at all: K3s's own pods in kube-system need what restricted
 * and baseline forbid (servicelb's svclb pods add NET_ADMIN and bind host ports; local-path's helper
 * pods mount host paths). Every namespace the platform creates carries its own level instead (label
 * `pod-security.kubernetes.io/enforce`, set by the namespace's owner): see lib/k8s.ts namespace().
 */
export const PSA_EXEMPT_NAMESPACES: readonly string[] = ["kube-system"];

export type PsaLevel = "privileged" | "baseline" | "restricted";

export interface AdmissionArgs {
  /** @default PSA_EXEMPT_NAMESPACES */
  readonly exemptNamespaces?: readonly string[];
  /** Level of a namespace without a label. @default "restricted" */
  readonly defaultLevel?: PsaLevel;
}

/** psa.yaml: apiserver.config.k8s.io/v1 AdmissionConfiguration with PodSecurity and EventRateLimit. */
export function admissionConfiguration(args: AdmissionArgs = {}): Record<string, unknown> {
  const level = args.defaultLevel ?? "restricted";
  return {
    apiVersion: "apiserver.config.k8s.io/v1",
    kind: "AdmissionConfiguration",
    plugins: [
      {
        name: "PodSecurity",
        configuration: {
          apiVersion: "pod-security.admission.config.k8s.io/v1",
          kind: "PodSecurityConfiguration",
          defaults: {
            enforce: level, "enforce-version": "latest",
            audit: "restricted", "audit-version": "latest",
            warn: "restricted", "warn-version": "latest",
          },
          exemptions: { usernames: [], runtimeClasses: [], namespaces: [...(args.exemptNamespaces ?? PSA_EXEMPT_NAMESPACES)].sort() },
        },
      },
      {
        name: "EventRateLimit",
        configuration: {
          apiVersion: "eventratelimit.admission.k8s.io/v1alpha1",
          kind: "Configuration",
          limits: [
            // The guide's server-wide bucket, and one per namespace so one noisy namespace cannot spend it.
            { type: "Server", qps: 5000, burst: 20000 },
            { type: "Namespace", qps: 100, burst: 500, cacheSize: 2000 },
          ],
        },
      },
    ],
  };
}

/**
 * audit.yaml (audit.k8s.io/v1 Policy; the first matching rule decides). Metadata at most: who did
 * what to which object, never a request or response body, so no Secret, ConfigMap or token lands
 * in the log. None for the loudest requests that say nothing about who changed what.
 */
export function auditPolicy(): Record<string, unknown> {
  return {
    apiVersion: "audit.k8s.io/v1",
    kind: "Policy",
    omitStages: ["RequestReceived"],
    rules: [
      { level: "None", nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version", "/metrics", "/openapi/*"] },
      { level: "None", resources: [{ group: "", resources: ["events"] }, { group: "events.k8s.io", resources: ["events"] }] },
      // Leader election and node heartbeats: several writes a second, all day.
      { level: "None", verbs: ["get", "update", "patch"], resources: [{ group: "coordination.k8s.io", resources: ["leases"] }] },
      { level: "None", userGroups: ["system:nodes"], verbs: ["get", "list", "watch"] },
      { level: "None", users: ["system:apiserver", "system:kube-scheduler", "system:kube-controller-manager"], verbs: ["get", "list", "watch"] },
      // Said explicitly, so that a later, wider rule at Request level can never reach them.
      {
        level: "Metadata",
        resources: [
          { group: "", resources: ["secrets", "configmaps", "serviceaccounts/token"] },
          { group: "authentication.k8s.io", resources: ["tokenreviews"] },
        ],
      },
      { level: "Metadata" },
    ],
  };
}
