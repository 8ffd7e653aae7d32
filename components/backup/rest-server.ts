// The host-path target: restic's rest-server on the K3s server, in front of the configured directory.
// The backup pods live in restricted namespaces, where a hostPath volume is refused (Pod Security
// "restricted" and "baseline" both forbid it), so they reach the directory over HTTP instead; only
// this server (in the privileged backup namespace) mounts it. htpasswd (bcrypt) auth, no TLS: the
// traffic stays in the cluster and NetworkPolicies admit only the backup pods.
import * as pulumi from "@pulumi/pulumi";
import { htpasswdLine } from "../lib/hash";
import { container, K8sObject, service } from "../lib/k8s";
import { SizeClass, sizeOf } from "../lib/sizes";
import { images } from "../lib/versions";
import { BACKUP_NAMESPACE, HostPathTarget, REST_SERVER } from "./settings";

export const REST_SERVER_HTPASSWD_SECRET = "restic-rest-htpasswd";

/** `rest:` URL of one component's repository (credentials travel as RESTIC_REST_USERNAME/PASSWORD). */
export function restRepository(component: string): string {
  return `rest:http://${REST_SERVER.name}.${BACKUP_NAMESPACE}.svc.cluster.local:${REST_SERVER.port}/${component}/`;
}

export function restServerObjects(target: HostPathTarget, password: pulumi.Input<string>, size: SizeClass): K8sObject[] {
  const c = container({
    name: "rest-server",
    image: images.resticRestServer,
    ports: [{ name: "http", containerPort: REST_SERVER.port }],
    resources: sizeOf(size, "restServer"),
    readiness: { tcp: { port: "http" } },
    // The image's entrypoint script only wraps these flags (docker/entrypoint.sh @ v0.14.0).
    command: ["rest-server"],
    args: ["--path", "/data", "--listen", `:${REST_SERVER.port}`, "--htpasswd-file", "/auth/.htpasswd"],
    volumeMounts: [{ name: "data", mountPath: "/data" }, { name: "auth", mountPath: "/auth", readOnly: true }],
  });
  // Root, without capabilities: the directory kubelet creates (DirectoryOrCreate) is root's.
  Object.assign(c.securityContext as Record<string, unknown>, { runAsNonRoot: false, runAsUser: 0, runAsGroup: 0 });
  const labels = { ...REST_SERVER.labels };
  const deployment: K8sObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: REST_SERVER.name, namespace: BACKUP_NAMESPACE, labels },
    spec: {
      replicas: 1,
      strategy: { type: "Recreate" },
      selector: { matchLabels: { ...labels } },
      template: {
        metadata: { labels: { ...labels }, annotations: { "sidecar.istio.io/inject": "false" } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { seccompProfile: { type: "RuntimeDefault" } },
          // The directory is on the server node (the stack's single node on homelab and dev).
          nodeSelector: { "node-role.kubernetes.io/control-plane": "true" },
          tolerations: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }],
          containers: [c],
          volumes: [
            { name: "data", hostPath: { path: target.path, type: "DirectoryOrCreate" } },
            { name: "auth", secret: { secretName: REST_SERVER_HTPASSWD_SECRET } },
          ],
        },
      },
    },
  };
  return [
    {
      apiVersion: "v1", kind: "Secret", type: "Opaque",
      metadata: { name: REST_SERVER_HTPASSWD_SECRET, namespace: BACKUP_NAMESPACE },
      // Deterministic bcrypt salt (hash.ts): the same password gives the same line on every preview.
      stringData: { ".htpasswd": pulumi.secret(pulumi.output(password).apply((p) => `${htpasswdLine(REST_SERVER.user, p, `restic-rest/${REST_SERVER.user}`)}\n`)) },
    },
    deployment,
    service({ name: REST_SERVER.name, namespace: BACKUP_NAMESPACE, selector: labels, ports: [{ name: "http", containerPort: REST_SERVER.port }] }),
  ];
}
