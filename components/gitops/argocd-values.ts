// Pure builders for Argo CD: the chart values and the plain objects around the chart.
// Value keys checked against argoproj/argo-helm charts/argo-cd/values.yaml and templates at chart
// 10.1.1 (templates/_helpers.tpl, templates/argocd-configs/argocd-secret.yaml, templates/redis-secret-init/).
import * as pulumi from "@pulumi/pulumi";
import { ClusterContext } from "../lib/context";
import { isLoopbackReference } from "../lib/endpoints";
import { K8sObject, namespace } from "../lib/k8s";
import { sizeOf } from "../lib/sizes";
import { chartImages, parseImage, tagWithDigest } from "../lib/versions";

/** repository:tag@digest for each workload (templates/<component>/deployment.yaml); global.image.tag would also go into the version label. */
const ARGOCD_IMAGE = { repository: parseImage(chartImages.argocd).name, tag: tagWithDigest(chartImages.argocd) };
const REDIS_IMAGE = { repository: parseImage(chartImages.argocdRedis).name, tag: tagWithDigest(chartImages.argocdRedis) };

/**
 * Default password mtimes for the pure builder. The chart defaults an empty admin mtime to `now`
 * at render time, which would diff on every preview. The component passes the time each password
 * first appeared instead (password-mtime.ts), since Argo CD refuses sessions issued before the mtime
 * and a rotation must end the old password's sessions.
 */
export const ADMIN_PASSWORD_MTIME = "2026-01-01T00:00:00Z";
export const GUEST_PASSWORD_MTIME = "2026-01-01T00:00:00Z";

/**
 * argocd-secret's JWT signing key: never in our values, on purpose. The chart does not render it
 * (templates/argocd-configs/argocd-secret.yaml); argocd-server writes it into the Secret at start
 * when it is missing (argo-cd v3.4.4 util/settings/settings.go InitializeSettings, an Update under
 * its own field manager). The provider updates the Secret in place by server-side apply
 * (enableSecretMutable), which only touches the fields our manifest carries (pulumi-kubernetes
 * await.go ssaUpdate; fixCSAFieldManagers takes over kubectl and pulumi client-side managers only),
 * so a rotation keeps the key and the sessions of the other account. A key of the stack's own would
 * be a new RandomPassword on existing stacks: unknown in the first preview after the upgrade, which
 * leaves the whole chart unrendered there.
 */
export const SERVER_SECRET_KEY = "server.secretkey";

/** The read-only account of PM-05. */
export const GUEST_ACCOUNT = "guest";

/**
 * argocd-rbac-cm. The guest is role:readonly without pod logs (they can carry credentials). No
 * policy.default: Argo CD grants the default role before it looks at the subject (util/rbac/rbac.go
 * enforce @ v3.4.4), so a deny for the guest would not hold against it, and every other
 * authenticated subject would read everything.
 */
export const ARGOCD_RBAC: Readonly<Record<"policy.default" | "policy.csv", string>> = {
  "policy.default": "",
  "policy.csv": [`g, ${GUEST_ACCOUNT}, role:readonly`, `p, ${GUEST_ACCOUNT}, logs, get, */*, deny`].join("\n") + "\n",
};

/** Pod labels the chart sets (`app.kubernetes.io/name: <nameOverride "argocd">-<component>`). */
export const ARGOCD_PODS = {
  server: { "app.kubernetes.io/name": "argocd-server" },
  repoServer: { "app.kubernetes.io/name": "argocd-repo-server" },
  controller: { "app.kubernetes.io/name": "argocd-application-controller" },
  redis: { "app.kubernetes.io/name": "argocd-redis" },
  applicationSet: { "app.kubernetes.io/name": "argocd-applicationset-controller" },
} as const;

/** Container ports the chart uses (values.yaml `*.containerPorts`). */
export const ARGOCD_PORTS = { server: 8080, repoServer: 8081, redis: 6379 } as const;

/** PM-34 minima for the repo-server liveness probe. */
export const REPO_SERVER_LIVENESS_MIN = { timeoutSeconds: 10, initialDelaySeconds: 30 } as const;

const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

export interface ArgoCdValuesArgs {
  readonly ctx: ClusterContext;
  /** bcrypt hash of the admin password (never the plaintext; a secret Output in the component). */
  readonly adminPasswordHash: pulumi.Input<string>;
  /** bcrypt hash of the guest password (PM-05). */
  readonly guestPasswordHash: pulumi.Input<string>;
  /** When the admin password last changed (RFC 3339). @default ADMIN_PASSWORD_MTIME */
  readonly adminPasswordMtime?: pulumi.Input<string>;
  /** When the guest password last changed (RFC 3339). @default GUEST_PASSWORD_MTIME */
  readonly guestPasswordMtime?: pulumi.Input<string>;
  /** Repo-server liveness timing. @default { timeoutSeconds: 10, initialDelaySeconds: 30 } (PM-34 minima) */
  readonly repoServerLiveness?: { readonly timeoutSeconds: number; readonly initialDelaySeconds: number };
  /** ApplicationSet controller replicas: we use none, and the budget counts none. @default 0 */
  readonly applicationSetReplicas?: number;
}

function checkHash(what: string, value: pulumi.Input<string>): void {
  // Outputs are checked by the component when they resolve; a plain string must already be a hash.
  if (typeof value === "string" && !BCRYPT.test(value)) {
    throw new Error(`argoCdValues: ${what} must be a bcrypt hash ($2a$/$2b$/$2y$), never a plaintext password (PM-05)`);
  }
}

/** Throws unless `value` is a bcrypt hash; used on resolved Outputs too. */
export function assertBcrypt(what: string, value: string): string {
  checkHash(what, value);
  return value;
}

export function argoCdValues(args: ArgoCdValuesArgs): Record<string, any> {
  const { ctx } = args;
  checkHash("adminPasswordHash", args.adminPasswordHash);
  checkHash("guestPasswordHash", args.guestPasswordHash);
  const live = args.repoServerLiveness ?? REPO_SERVER_LIVENESS_MIN;
  if (live.timeoutSeconds < REPO_SERVER_LIVENESS_MIN.timeoutSeconds || live.initialDelaySeconds < REPO_SERVER_LIVENESS_MIN.initialDelaySeconds) {
    throw new Error(`argoCdValues: repo-server liveness needs timeoutSeconds >= 10 and initialDelaySeconds >= 30 (PM-34), got ${live.timeoutSeconds}/${live.initialDelaySeconds}`);
  }
  const appSetReplicas = args.applicationSetReplicas ?? 0;
  if (!Number.isInteger(appSetReplicas) || appSetReplicas < 0) throw new Error(`argoCdValues: applicationSetReplicas must be a non-negative integer, got ${appSetReplicas}`);
  const url = ctx.endpoints.argocd.publicUrl;
  if (!/^https?:\/\/[^/]+/.test(url)) throw new Error(`argoCdValues: argocd publicUrl must be an http(s) URL, got "${url}"`);
  const size = (key: Parameters<typeof sizeOf>[1]) => {
    const r = sizeOf(ctx.profile.size, key);
    return { requests: { ...r.requests }, limits: { ...r.limits } };
  };
  return {
    global: {
      domain: ctx.endpoints.hostnames.argocd,
      // Chart >= 10.0.0 creates its own policies (README "10.0.0"); ours are below, default deny first.
      networkPolicy: { create: false },
    },
    crds: { install: true, keep: true },
    configs: {
      cm: {
        url,
        "admin.enabled": true,
        // Login only: no apiKey capability, so the guest cannot mint API tokens.
        [`accounts.${GUEST_ACCOUNT}`]: "login",
        "users.anonymous.enabled": "false",
        // The chart's default too (values.yaml @ 10.1.1); explicit so no default change opens a shell.
        "exec.enabled": "false",
      },
      params: {
        // TLS ends at the Istio gateway; argocd-server speaks plain HTTP behind it.
        "server.insecure": true,
      },
      rbac: { ...ARGOCD_RBAC },
      secret: {
        createSecret: true,
        argocdServerAdminPassword: args.adminPasswordHash,
        argocdServerAdminPasswordMtime: args.adminPasswordMtime ?? ADMIN_PASSWORD_MTIME,
        extra: {
          [`accounts.${GUEST_ACCOUNT}.password`]: args.guestPasswordHash,
          [`accounts.${GUEST_ACCOUNT}.passwordMtime`]: args.guestPasswordMtime ?? GUEST_PASSWORD_MTIME,
        },
      },
    },
    controller: { replicas: 1, image: ARGOCD_IMAGE, resources: size("argocdController") },
    server: { replicas: 1, image: ARGOCD_IMAGE, service: { type: "ClusterIP" }, resources: size("argocdServer") },
    repoServer: {
      replicas: 1,
      image: ARGOCD_IMAGE,
      resources: size("argocdRepoServer"),
      livenessProbe: { enabled: true, timeoutSeconds: live.timeoutSeconds, initialDelaySeconds: live.initialDelaySeconds, periodSeconds: 10, failureThreshold: 3 },
    },
    // PM-11: the chart ships these probes disabled (values.yaml redis.*Probe.enabled: false); its
    // scripts (templates/redis/health-configmap.yaml) exit 1 unless redis-cli ping answers PONG.
    redis: { enabled: true, image: REDIS_IMAGE, resources: size("argocdRedis"), readinessProbe: { enabled: true }, livenessProbe: { enabled: true } },
    // A pre-install Helm hook; helm.v4.Chart skips hooks, so the component creates argocd-redis itself.
    redisSecretInit: { enabled: false },
    // Not counted by the budget: 0 replicas (the chart has no enabled flag for it since 9.x).
    // Its probes (tcpSocket on the probe port) are off by default too (PM-11).
    applicationSet: { replicas: appSetReplicas, image: ARGOCD_IMAGE, resources: size("argocdServer"), readinessProbe: { enabled: true }, livenessProbe: { enabled: true } },
    dex: { enabled: false },
    notifications: { enabled: false },
  };
}

/** PM-02: the namespace opts out of Linkerd and is not labelled for Istio injection. */
export function argoCdNamespace(ctx: ClusterContext): K8sObject {
  return namespace({
    name: ctx.endpoints.argocd.namespace,
    podSecurity: "restricted",
    istioInjection: false,
    annotations: { "linkerd.io/inject": "disabled" },
  });
}

export interface RepositorySecretArgs {
  readonly ctx: ClusterContext;
  /** Secret name. @default "repo-platform-apps" */
  readonly name?: string;
  /** The repository URL: the Gitea Service's in-cluster name, never loopback (PM-14). */
  readonly url: string;
  readonly username: pulumi.Input<string>;
  readonly password: pulumi.Input<string>;
}

/** An Argo CD repository Secret (label `argocd.argoproj.io/secret-type: repository`). */
export function repositorySecret(args: RepositorySecretArgs): K8sObject {
  if (isLoopbackReference(args.url)) {
    throw new Error(`repositorySecret: url "${args.url}" points at localhost, which inside the repo-server pod is the pod itself (PM-14); use ctx.endpoints.gitea.internalUrl`);
  }
  if (!/^https?:\/\/[^/]+\/.+/.test(args.url)) throw new Error(`repositorySecret: url must be an http(s) repository URL, got "${args.url}"`);
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: args.name ?? "repo-platform-apps",
      namespace: args.ctx.endpoints.argocd.namespace,
      labels: { "argocd.argoproj.io/secret-type": "repository" },
    },
    type: "Opaque",
    stringData: { type: "git", url: args.url, username: args.username, password: args.password },
  };
}

/** Secret `argocd-redis` (key `auth`), which the chart's skipped hook Job would have created. */
export function redisSecret(ctx: ClusterContext, password: pulumi.Input<string>): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "argocd-redis", namespace: ctx.endpoints.argocd.namespace },
    type: "Opaque",
    stringData: { auth: password },
  };
}
