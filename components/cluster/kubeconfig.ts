// How Pulumi reaches the cluster for years: a ServiceAccount bound to cluster-admin with a
// long-lived token Secret, and a kubeconfig built from the cluster CA and that token. K3s's admin
// kubeconfig carries a client certificate valid 365 days, renewed only when K3s restarts within 90
// days of expiry (docs.k3s.io/advanced, "Certificate Management"); a copy read once stops working a
// year later. The CA is valid 10 years, and a manually created kubernetes.io/service-account-token
// Secret never expires (kubernetes.io, "Configure Service Accounts for Pods": "Manually create a
// long-lived API token"); the legacy-token cleaner only removes auto-generated ones, i.e. Secrets
// listed in the ServiceAccount's `secrets` field (KEP-2799), which this one is not.
import { stableYaml } from "./k3s-config";

/** The identity the stack uses; created by the cluster's install (install-k3s.sh, k3d-up.sh), not by Pulumi. */
export const PULUMI_ACCESS = {
  namespace: "kube-system",
  serviceAccount: "pulumi",
  secret: "pulumi-token",
  binding: "platform-pulumi-cluster-admin",
} as const;

/** The objects that give the stack its token, as one multi-document manifest (applied server-side, idempotent). */
export function pulumiAccessManifest(): string {
  const { namespace, serviceAccount, secret, binding } = PULUMI_ACCESS;
  const docs = [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: serviceAccount, namespace } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: binding },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
      subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace }],
    },
    {
      apiVersion: "v1", kind: "Secret", type: "kubernetes.io/service-account-token",
      metadata: { name: secret, namespace, annotations: { "kubernetes.io/service-account.name": serviceAccount } },
    },
  ];
  return docs.map((d) => stableYaml(d)).join("---\n");
}

/** What the cluster hands back once: its CA (base64 PEM, as in certificate-authority-data) and the token. */
export interface ClusterCredentials {
  readonly caData: string;
  readonly token: string;
}

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Parses the credentials scripts' stdout (one JSON object); refuses anything that is not a CA and a token. */
export function parseCredentials(stdout: string): ClusterCredentials {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout.trim());
  } catch {
    throw new Error("parseCredentials: the credentials read from the cluster are not JSON (did the install finish?)");
  }
  const { caData, token } = (doc ?? {}) as Record<string, unknown>;
  if (typeof caData !== "string" || !Buffer.from(caData, "base64").toString("utf8").includes("-----BEGIN CERTIFICATE-----")) {
    throw new Error("parseCredentials: caData is not a base64 PEM certificate");
  }
  if (typeof token !== "string" || !JWT.test(token)) {
    throw new Error(`parseCredentials: token is not a ServiceAccount token (a JWT); is Secret ${PULUMI_ACCESS.namespace}/${PULUMI_ACCESS.secret} populated?`);
  }
  return { caData, token };
}

export interface TokenKubeconfigArgs {
  /** Cluster and context name. */
  readonly name: string;
  /** https://host:port Pulumi can reach. */
  readonly server: string;
  readonly credentials: ClusterCredentials;
}

/** A kubeconfig that authenticates with the ServiceAccount token and trusts the cluster CA; no client certificate. */
export function tokenKubeconfig(args: TokenKubeconfigArgs): string {
  if (!/^https:\/\/[^/\s]+:\d+$/.test(args.server)) throw new Error(`tokenKubeconfig: server must look like https://host:port, got ${args.server}`);
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(args.name)) throw new Error(`tokenKubeconfig: invalid name ${args.name}`);
  const user = `${args.name}-${PULUMI_ACCESS.serviceAccount}`;
  return stableYaml({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: args.name, cluster: { server: args.server, "certificate-authority-data": args.credentials.caData } }],
    users: [{ name: user, user: { token: args.credentials.token } }],
    contexts: [{ name: args.name, context: { cluster: args.name, user } }],
    "current-context": args.name,
  });
}
