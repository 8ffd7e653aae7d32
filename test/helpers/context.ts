// The ClusterContext components receive, built the way the Platform builds it, for tests.
import { ClusterContext } from "../../components/lib/context";
import { endpoints } from "../../components/lib/endpoints";
import { Environment, PROFILES } from "../../components/lib/profiles";
import { isPrivateDomain, TlsConfig } from "../../config";
import { trafficOptions } from "../../components/traffic-options";

const DEFAULTS: Record<Environment, { domain: string; nodeAddress: string }> = {
  dev: { domain: "platform.localhost", nodeAddress: "k3d-platform-server-0" },
  oci: { domain: "example.org", nodeAddress: "10.0.1.11" },
  homelab: { domain: "example.org", nodeAddress: "192.0.2.10" },
};

export function testContext(environment: Environment = "dev", overrides: { domain?: string; nodeAddress?: string; tls?: TlsConfig } = {}): ClusterContext {
  const { domain, nodeAddress } = { ...DEFAULTS[environment], ...overrides };
  // The issuer config.ts gives that domain by default (Let's Encrypt for a public one, with a contact).
  const tls: TlsConfig = overrides.tls ?? (isPrivateDomain(domain) ? { issuer: "platform-ca" } : { issuer: "letsencrypt", acmeEmail: "admin@example.org" });
  // The traffic inputs the Platform derives from config (homelab: the host address).
  const traffic = trafficOptions({ environment, hostAddress: environment === "homelab" ? nodeAddress : undefined });
  return { environment, profile: PROFILES[environment], endpoints: endpoints({ environment, domain, nodeAddress }), tls, traffic };
}
