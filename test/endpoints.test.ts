import { describe, expect, it } from "vitest";
import { checkNodePorts, checkUniquePorts, DEFAULT_PORTS, endpoints, hostPorts, isLoopbackReference, REGISTRY_NAME } from "../components/lib/endpoints";
import { unwrap } from "./helpers/mocks";

describe("endpoints: one place for every address and port", () => {
  it("PM-40 every URL derives from the environment, the domain and the node address", async () => {
    const oci = endpoints({ environment: "oci", domain: "platform.example.com", nodeAddress: "10.0.1.11" });
    expect(oci.gitea.publicUrl).toBe("https://git.platform.example.com");
    expect(oci.gitea.internalUrl).toBe("http://gitea-http.gitea.svc.cluster.local:3000");
    expect(await unwrap(oci.gitea.runnerUrl)).toBe("http://10.0.1.11:30300");
    expect(oci.registry.host).toBe(`${REGISTRY_NAME}:5000`);
    expect(oci.registry.nodeMirror).toBe("http://127.0.0.1:30500");
    expect(oci.prometheus.internalUrl).toBe("http://prometheus-server.monitoring.svc.cluster.local:80");
    const dev = endpoints({ environment: "dev", domain: "platform.localhost", nodeAddress: "k3d-platform-server-0" });
    expect(dev.argocd.publicUrl).toBe("https://argocd.platform.localhost:8443");
    expect(await unwrap(dev.gitea.runnerUrl)).toBe("http://k3d-platform-server-0:30300");
  });

  it("PM-15 the registry name images use is never a loopback name", () => {
    for (const env of ["oci", "homelab", "dev"] as const) {
      const ep = endpoints({ environment: env, domain: "platform.localhost", nodeAddress: "10.0.0.1" });
      expect(isLoopbackReference(`${ep.registry.host}/app:1.0.0`)).toBe(false);
    }
  });

  it("PM-14 loopback detection covers localhost, 127/8 and ::1 in URLs and image names", () => {
    for (const ref of ["localhost:5005/app:1", "http://localhost:8080/repo.git", "127.0.0.1:5000/x:1", "https://127.0.1.1/x", "[::1]:5000/x:1", "http://[::1]:3000/r.git"]) {
      expect(isLoopbackReference(ref), ref).toBe(true);
    }
    for (const ref of ["registry.platform.internal:5000/app:1", "http://gitea-http.gitea.svc.cluster.local:3000/p/r.git", "ghcr.io/localhostess/x:1"]) {
      expect(isLoopbackReference(ref), ref).toBe(false);
    }
  });

  it("PM-08 duplicate ports are refused at preview, naming both users", () => {
    expect(() => checkUniquePorts({ web: 8080, app: 8080 })).toThrow(/app and web both use port 8080 \(PM-08\)/);
    expect(() => checkNodePorts({ ...DEFAULT_PORTS, registry: DEFAULT_PORTS.giteaHttp })).toThrow(/both use port 30300/);
    expect(() => endpoints({ environment: "oci", domain: "a.example", nodeAddress: "x", ports: { ...DEFAULT_PORTS, gatewayHttp: 30300 } })).toThrow(/PM-08/);
  });

  it("PM-08 NodePorts outside 30000-32767 are refused", () => {
    expect(() => checkNodePorts({ ...DEFAULT_PORTS, registry: 5000 })).toThrow(/outside the NodePort range/);
  });

  it("PM-08 the default plan is unique in every environment, host ports included", () => {
    for (const env of ["oci", "homelab", "dev"] as const) {
      expect(() => checkUniquePorts({ ...hostPorts(env), ...DEFAULT_PORTS })).not.toThrow();
    }
  });
});
