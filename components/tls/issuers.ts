// Pure builders for the issuers and the UIs' Certificates. Which issuer an environment gets is
// decided in config.ts (platform:tlsIssuer; default by domain); components/tls/tls.ts registers them.
import type { TlsIssuer } from "../../config";
import { ClusterContext } from "../lib/context";
import { K8sObject } from "../lib/k8s";
import { ISTIO_INGRESS_CLASS, ISTIO_NAMESPACE, publishedHosts, tlsSecretName } from "../mesh/istio";
import { CERT_MANAGER_NAMESPACE } from "./cert-manager";

/** Let's Encrypt's ACME v2 directories (letsencrypt.org/docs/environments, /docs/staging-environment). */
export const ACME_DIRECTORIES: Readonly<Record<Exclude<TlsIssuer, "platform-ca">, string>> = {
  letsencrypt: "https://acme-v02.api.letsencrypt.org/directory",
  "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
};

/** The platform CA's key pair lives in this Secret, in cert-manager's namespace (a ClusterIssuer reads it there). */
export const PLATFORM_CA_SECRET = "platform-ca";

/**
 * Let's Encrypt over HTTP-01: the solver's Ingress is of class "istio", which istiod serves on our
 * gateway (mesh/istio.ts istioIngressClass); a ClusterIP solver Service, so no random NodePort
 * is taken from the range our port plan fixes.
 */
export function acmeIssuer(issuer: Exclude<TlsIssuer, "platform-ca">, email: string): K8sObject {
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw new Error(`acmeIssuer: "${email}" is not an e-mail address`);
  return {
    apiVersion: "cert-manager.io/v1",
    kind: "ClusterIssuer",
    metadata: { name: issuer },
    spec: {
      acme: {
        server: ACME_DIRECTORIES[issuer],
        email,
        // The ACME account key: cert-manager generates it into this Secret (cert-manager namespace).
        privateKeySecretRef: { name: `${issuer}-account` },
        solvers: [{ http01: { ingress: { ingressClassName: ISTIO_INGRESS_CLASS, serviceType: "ClusterIP" } } }],
      },
    },
  };
}

/** The platform CA as a cert-manager CA issuer: it signs with the key pair in PLATFORM_CA_SECRET. */
export function caIssuer(): K8sObject {
  return {
    apiVersion: "cert-manager.io/v1",
    kind: "ClusterIssuer",
    metadata: { name: "platform-ca" },
    spec: { ca: { secretName: PLATFORM_CA_SECRET } },
  };
}

export function caSecretNamespace(): string {
  return CERT_MANAGER_NAMESPACE;
}

/**
 * One Certificate per published host, in the gateway's namespace (an Istio credentialName names a
 * Secret there): a host whose challenge fails (its DNS record missing) leaves the others served.
 * ECDSA P-256 and a new key at every renewal.
 */
export function uiCertificates(ctx: ClusterContext, issuer: TlsIssuer): K8sObject[] {
  return publishedHosts(ctx).map(({ name, host }) => ({
    apiVersion: "cert-manager.io/v1",
    kind: "Certificate",
    metadata: { name: tlsSecretName(name), namespace: ISTIO_NAMESPACE },
    spec: {
      secretName: tlsSecretName(name),
      dnsNames: [host],
      issuerRef: { group: "cert-manager.io", kind: "ClusterIssuer", name: issuer },
      privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
    },
  }));
}
