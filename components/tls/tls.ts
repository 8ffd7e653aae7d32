// The UIs' certificates: the issuer the config chose (Let's Encrypt, or the platform CA) and one
// Certificate per host, next to the gateway. The platform CA is generated in the stack with
// @pulumi/tls: its certificate is then known at preview and exported as a plain output, with no read
// of a cluster Secret (a Secret.get in the same program fails the first preview, before the Secret
// exists); its key is a Pulumi secret, in the state and in one cluster Secret only.
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { TlsConfig } from "../../config";
import { ClusterContext } from "../lib/context";
import { K8sObject } from "../lib/k8s";
import { registerObject } from "../lib/objects";
import { acmeIssuer, caIssuer, caSecretNamespace, PLATFORM_CA_SECRET, uiCertificates } from "./issuers";

/** Ten years, renewed by the first `up` in its last year (a new certificate: trust it again). */
export const PLATFORM_CA_VALIDITY_HOURS = 10 * 365 * 24;
export const PLATFORM_CA_EARLY_RENEWAL_HOURS = 365 * 24;

/** The CA Secret a cert-manager CA issuer reads: tls.crt and tls.key. */
export function caSecret(cert: pulumi.Input<string>, key: pulumi.Input<string>): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: PLATFORM_CA_SECRET, namespace: caSecretNamespace() },
    type: "kubernetes.io/tls",
    stringData: { "tls.crt": cert, "tls.key": pulumi.secret(key) },
  } as unknown as K8sObject;
}

export interface PlatformTlsArgs {
  readonly ctx: ClusterContext;
  readonly tls: TlsConfig;
  /** cert-manager's chart (CRDs, webhook ready) and the mesh (istio-system, the IngressClass). */
  readonly dependsOn: pulumi.Resource[];
}

export class PlatformTls extends pulumi.ComponentResource {
  /** PEM of the platform CA, when it is the issuer: trust it to reach the UIs without warnings. */
  public readonly caCertificate?: pulumi.Output<string>;

  constructor(name: string, args: PlatformTlsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("platform:tls:PlatformTls", name, {}, opts);
    const { ctx, tls: cfg } = args;
    const overlays = ctx.profile.overlays;
    const after = (...deps: pulumi.Resource[]) => ({ parent: this, dependsOn: [...args.dependsOn, ...deps] });
    let issuer: pulumi.Resource;
    if (cfg.issuer === "platform-ca") {
      const key = new tls.PrivateKey(`${name}-ca-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
      const cert = new tls.SelfSignedCert(`${name}-ca`, {
        privateKeyPem: key.privateKeyPem,
        isCaCertificate: true,
        allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
        subject: { commonName: `Platform CA (${ctx.endpoints.domain})`, organization: "gitops-platform" },
        validityPeriodHours: PLATFORM_CA_VALIDITY_HOURS,
        earlyRenewalHours: PLATFORM_CA_EARLY_RENEWAL_HOURS,
      }, { parent: this });
      const secret = registerObject(caSecret(cert.certPem, key.privateKeyPem), overlays, after());
      issuer = registerObject(caIssuer(), overlays, after(secret));
      this.caCertificate = cert.certPem;
    } else {
      issuer = registerObject(acmeIssuer(cfg.issuer, cfg.acmeEmail!), overlays, after());
    }
    for (const c of uiCertificates(ctx, cfg.issuer)) registerObject(c, overlays, after(issuer));
    this.registerOutputs({ caCertificate: this.caCertificate });
  }
}
