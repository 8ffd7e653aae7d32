// Pure builders for the Gitea chart: values, names and labels that other components import.
// Chart facts are from gitea/helm-gitea (mirror project-mirrors/gitea-helm-chart, 12.x line):
// values.yaml, templates/_helpers.tpl (selector labels, inline config defaults) and
// templates/gitea/deployment.yaml (env, admin existingSecret keys, securityContext use).
import * as pulumi from "@pulumi/pulumi";
import { Resources } from "../lib/budget";
import { images, parseImage } from "../lib/versions";

/**
 * images.gitea split the way the chart takes it: image.registry / repository / tag, with
 * image.rootless appending "-rootless" and image.digest "@<digest>" (templates/_helpers.tpl "gitea.image").
 */
export const GITEA_IMAGE = (() => {
  const ref = parseImage(images.gitea);
  const m = /^([^/]+)\/(.+)$/.exec(ref.name);
  if (!m || !ref.tag.endsWith("-rootless")) throw new Error(`images.gitea must be registry/repository:<version>-rootless[@digest], got ${images.gitea}`);
  return { registry: m[1], repository: m[2], tag: ref.tag.slice(0, -"-rootless".length), ...(ref.digest ? { digest: ref.digest } : {}) };
})();

/** The one admin account the stack declares (PM-09); its password is a platform secret. */
export const GITEA_ADMIN_USER = "platform-admin";
/** Secret with keys `username` and `password`, read by the chart through gitea.admin.existingSecret. */
export const GITEA_ADMIN_SECRET = "gitea-admin";
/** Name of the pre-shared (instance-wide) runner token Secret stacks had before issue 14: no longer declared. */
export const LEGACY_GITEA_RUNNER_TOKEN_SECRET = "gitea-runner-token";
/**
 * Helm release name. The chart names its (headless) Services `<fullname>-http`/`-ssh`, and fullname is
 * the release name when it contains "gitea": so "gitea-chart-http", never our "gitea-http".
 */
export const GITEA_RELEASE = "gitea-chart";
/** The chart's pod selector (templates/_helpers.tpl "gitea.selectorLabels"). */
export const GITEA_SELECTOR: Readonly<Record<string, string>> = {
  "app.kubernetes.io/name": "gitea",
  "app.kubernetes.io/instance": GITEA_RELEASE,
};
/**
 * The pod's ServiceAccount: ours, with automountServiceAccountToken false. The chart reads
 * serviceAccount.automountServiceAccountToken only inside `if .Values.serviceAccount.create`
 * (templates/gitea/serviceaccount.yaml) and sets nothing on the pod spec; its deployment.yaml names
 * a ServiceAccount only when create or name is set. With create false and no name the pod ran as
 * the namespace's `default` account and mounted its token. Gitea never calls the Kubernetes API.
 */
export const GITEA_SERVICE_ACCOUNT = "gitea";

/** Container ports, by the names the chart gives them ("http", "ssh"). */
export const GITEA_HTTP_PORT = 3000;
/** The rootless image's built-in SSH server listens here (values.yaml gitea.config.server.SSH_LISTEN_PORT). */
export const GITEA_SSH_PORT = 2222;
/** Rootless image user (values.yaml podSecurityContext.fsGroup, configure-gitea runAsUser). */
export const GITEA_UID = 1000;
/** The Istio ingress gateway pods, as NetworkPolicy peers select them (gateway chart labels istio=ingressgateway). */
export const INGRESS_GATEWAY = {
  namespace: "istio-system",
  podLabels: { istio: "ingressgateway" } as Readonly<Record<string, string>>,
} as const;

export interface GiteaValuesArgs {
  /** What browsers use (endpoints.gitea.publicUrl): becomes server.ROOT_URL. */
  readonly publicUrl: string;
  /** Host name users reach Gitea by (endpoints.hostnames.git): server.DOMAIN and SSH_DOMAIN. */
  readonly domain: string;
  /** SSH port shown in clone URLs: the ssh NodePort. */
  readonly sshPort: number;
  /** Gitea container requests/limits (sizes.ts "gitea"); also used for the chart's init containers. */
  readonly resources: Resources;
  /** Admin e-mail (Gitea requires one). */
  readonly adminEmail: string;
  /** PVC size for repositories and the SQLite database. @default "10Gi" */
  readonly storageSize?: string;
  /** StorageClass; undefined means the cluster default (local-path on K3s/k3d). */
  readonly storageClass?: string;
  /** Anonymous users see nothing (service.REQUIRE_SIGNIN_VIEW). @default true */
  readonly requireSigninView?: boolean;
  /** webhook.ALLOWED_HOST_LIST: in-cluster targets (Argo CD) live on private addresses. @default ["private", "*.svc.cluster.local"] */
  readonly webhookAllowedHosts?: readonly string[];
  /**
   * Keyed fingerprint of the admin password (lib/secrets.ts clusterFingerprint), as a pod
   * annotation: a rotation rolls the pod, and its configure-gitea init container applies it.
   * @default none
   */
  readonly adminPasswordChecksum?: pulumi.Input<string>;
}

/**
 * Pod annotation that carries the admin password's fingerprint. The chart's configure-gitea init
 * container reads the password from gitea.admin.existingSecret through env (secretKeyRef) and, with
 * passwordMode keepUpdated, runs `gitea admin user change-password` at every start
 * (templates/gitea/init.yaml); a Secret change alone starts nothing, since the chart checksums only
 * its own config (templates/gitea/deployment.yaml `checksum/config`).
 */
export const GITEA_ADMIN_CHECKSUM_ANNOTATION = "checksum/admin-password";

const QUANTITY = /^[1-9][0-9]*(Mi|Gi|Ti)$/;
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

function checkArgs(args: GiteaValuesArgs): void {
  if (!/^https?:\/\/[^/\s]+(\/.*)?$/.test(args.publicUrl)) throw new Error(`giteaValues: publicUrl must be an http(s) URL, got "${args.publicUrl}"`);
  // The public URL is for browsers: on dev it is *.localhost, which the developer's browser maps to
  // the k3d load balancer. Only a bare loopback host is refused (clone URLs would be useless).
  const host = /^https?:\/\/([^/:]+)/.exec(args.publicUrl)![1];
  if (/^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i.test(host)) throw new Error(`giteaValues: publicUrl "${args.publicUrl}" is a bare loopback address; clone URLs and webhooks would point at the caller itself (PM-14)`);
  if (!HOSTNAME.test(args.domain)) throw new Error(`giteaValues: domain "${args.domain}" is not a usable host name`);
  if (!Number.isInteger(args.sshPort) || args.sshPort < 1 || args.sshPort > 65535) throw new Error(`giteaValues: invalid sshPort ${args.sshPort}`);
  if (!/^[^@\s]+@[^@\s]+$/.test(args.adminEmail)) throw new Error(`giteaValues: adminEmail "${args.adminEmail}" is not an e-mail address`);
  if (args.storageSize !== undefined && !QUANTITY.test(args.storageSize)) throw new Error(`giteaValues: storageSize "${args.storageSize}" must look like 10Gi`);
  if (!args.resources.requests?.memory || !args.resources.limits?.memory) throw new Error("giteaValues: resources need memory requests and limits (PM-07)");
  for (const h of args.webhookAllowedHosts ?? []) {
    if (/[\s,]/.test(h) || h === "") throw new Error(`giteaValues: webhook host entry "${h}" must be one word (the list is joined with commas)`);
  }
}

/** Restricted-PSA container context, applied by the chart to the Gitea container and all its init containers. */
export function giteaContainerSecurityContext(): Record<string, unknown> {
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsGroup: GITEA_UID,
    runAsNonRoot: true,
    runAsUser: GITEA_UID,
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** Values for the gitea chart: SQLite, no subcharts, hardened app.ini, admin and runner token from Secrets. */
export function giteaValues(args: GiteaValuesArgs): Record<string, unknown> {
  checkArgs(args);
  const resources = { requests: { ...args.resources.requests }, limits: { ...args.resources.limits } };
  const rootUrl = args.publicUrl.endsWith("/") ? args.publicUrl : `${args.publicUrl}/`;
  return {
    // v12 turns postgresql-ha and valkey-cluster on by default (values.yaml); SQLite needs none of them.
    "postgresql-ha": { enabled: false },
    postgresql: { enabled: false },
    "valkey-cluster": { enabled: false },
    valkey: { enabled: false },
    // A helm test Pod is not something a `pulumi up` should create.
    test: { enabled: false },
    replicaCount: 1,
    // SQLite on a ReadWriteOnce PVC: the old pod must let go before the new one starts.
    strategy: { type: "Recreate" },
    // Pinned, not the chart's appVersion (the org runner-token API: Gitea >= 1.21).
    // `rootless: true` makes the chart append "-rootless" to the tag.
    image: { registry: GITEA_IMAGE.registry, repository: GITEA_IMAGE.repository, tag: GITEA_IMAGE.tag, rootless: true, ...(GITEA_IMAGE.digest ? { digest: GITEA_IMAGE.digest } : {}) },
    podSecurityContext: {
      fsGroup: GITEA_UID,
      fsGroupChangePolicy: "OnRootMismatch",
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    },
    containerSecurityContext: giteaContainerSecurityContext(),
    resources,
    initContainers: { resources },
    // The chart's own Services stay headless (and named gitea-chart-*); ours, gitea-http, is the
    // NodePort with a ClusterIP that the runner's --add-host needs (PM-01).
    service: {
      http: { type: "ClusterIP", clusterIP: "None", port: GITEA_HTTP_PORT },
      ssh: { type: "ClusterIP", clusterIP: "None", port: 22 },
    },
    ingress: { enabled: false },
    persistence: {
      enabled: true,
      create: true,
      size: args.storageSize ?? "10Gi",
      accessModes: ["ReadWriteOnce"],
      ...(args.storageClass ? { storageClass: args.storageClass } : {}),
    },
    // Our ServiceAccount (GITEA_SERVICE_ACCOUNT) carries the automount setting; the chart only names it.
    serviceAccount: { create: false, name: GITEA_SERVICE_ACCOUNT, automountServiceAccountToken: false },
    // No GITEA_RUNNER_REGISTRATION_TOKEN: Gitea would accept it as an instance-wide runner token
    // (services/actions/init.go: owner 0, repo 0). The runner registers for the platform organisation
    // with the token the bootstrap Job fetches (runner-token.sh; issue 14).
    gitea: {
      ...(args.adminPasswordChecksum !== undefined ? { podAnnotations: { [GITEA_ADMIN_CHECKSUM_ANNOTATION]: args.adminPasswordChecksum } } : {}),
      // PM-09: credentials come from a Secret the stack writes; the chart's default password never applies.
      // keepUpdated (values.yaml: initialOnlyNoReset, initialOnlyRequireReset or keepUpdated): the
      // Secret's password is set again at every pod start, so a rotation needs only a new pod.
      admin: {
        existingSecret: GITEA_ADMIN_SECRET,
        username: "",
        password: "",
        email: args.adminEmail,
        passwordMode: "keepUpdated",
      },
      config: {
        server: {
          DOMAIN: args.domain,
          ROOT_URL: rootUrl,
          SSH_DOMAIN: args.domain,
          SSH_PORT: args.sshPort,
          SSH_LISTEN_PORT: GITEA_SSH_PORT,
          HTTP_PORT: GITEA_HTTP_PORT,
          PROTOCOL: "http",
          OFFLINE_MODE: true,
        },
        database: { DB_TYPE: "sqlite3" },
        session: { PROVIDER: "memory" },
        cache: { ADAPTER: "memory" },
        queue: { TYPE: "level" },
        security: { INSTALL_LOCK: true },
        service: {
          DISABLE_REGISTRATION: true,
          REQUIRE_SIGNIN_VIEW: args.requireSigninView ?? true,
          DEFAULT_KEEP_EMAIL_PRIVATE: true,
        },
        actions: { ENABLED: true, DEFAULT_ACTIONS_URL: "github" },
        // PM-19: every repository starts on main.
        repository: { DEFAULT_BRANCH: "main" },
        webhook: { ALLOWED_HOST_LIST: (args.webhookAllowedHosts ?? ["private", "*.svc.cluster.local"]).join(",") },
        picture: { DISABLE_GRAVATAR: true },
        mailer: { ENABLED: false },
      },
      // /api/healthz checks the database and cache and needs no sign-in; tcp stays for liveness so a
      // slow SQLite query does not restart the pod.
      startupProbe: {
        enabled: true,
        httpGet: { path: "/api/healthz", port: "http" },
        initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 30, successThreshold: 1,
      },
      readinessProbe: {
        enabled: true,
        httpGet: { path: "/api/healthz", port: "http" },
        initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3, successThreshold: 1,
      },
      livenessProbe: {
        enabled: true,
        tcpSocket: { port: "http" },
        initialDelaySeconds: 30, periodSeconds: 20, timeoutSeconds: 3, failureThreshold: 6, successThreshold: 1,
      },
    },
  };
}
