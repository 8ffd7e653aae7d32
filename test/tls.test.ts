// Issue 13 item 1: TLS for every UI. The issuer each environment gets, cert-manager's chart, the
// Gateway (an HTTPS server per host, HTTP only redirecting except the ACME challenge), the https
// URLs, the platform CA output and its key, and PM-24 (the runner stays on the NodePort HTTP URL).
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigSource, isPrivateDomain, parseTls } from "../config";
import { platformRoutes, publishedHosts } from "../components/mesh/istio";
import { acmeIssuer, uiCertificates } from "../components/tls/issuers";
import { certManagerValues } from "../components/tls/cert-manager";
import { testContext } from "./helpers/context";
import { Created, findAll, isSecretInput, outsideSecrets, plain } from "./helpers/mocks";
import { runStack, StackRun } from "./helpers/stack";
import { configSource } from "./helpers/config-source";

const source = (values: Record<string, string>): ConfigSource => configSource(values);

describe("#13 TLS config: an issuer per domain", () => {
  it("private names get the platform CA, public ones Let's Encrypt production by default", () => {
    for (const d of ["platform.localhost", "git.corp.internal", "box.lan", "nas.home.arpa", "x.local"]) {
      expect(isPrivateDomain(d), d).toBe(true);
      expect(parseTls(source({}), d)).toEqual({ issuer: "platform-ca" });
    }
    // A name that only ends like one is not private.
    expect(isPrivateDomain("mylan.example.com")).toBe(false);
    expect(parseTls(source({ acmeEmail: "ops@example.org" }), "platform.example.org")).toEqual({ issuer: "letsencrypt", acmeEmail: "ops@example.org" });
    expect(parseTls(source({ acmeEmail: "ops@example.org", tlsIssuer: "letsencrypt-staging" }), "platform.example.org").issuer).toBe("letsencrypt-staging");
    // A public domain without public DNS (a LAN-only homelab) may choose the platform CA.
    expect(parseTls(source({ tlsIssuer: "platform-ca" }), "homelab.example.org")).toEqual({ issuer: "platform-ca" });
  });

  it.each([
    ["no contact for Let's Encrypt", "platform.example.org", {}, /platform:acmeEmail: is required with platform:tlsIssuer letsencrypt/],
    ["a list of addresses", "platform.example.org", { acmeEmail: "a@example.org,b@example.org" }, /platform:acmeEmail: must be one e-mail address/],
    ["a display name", "platform.example.org", { acmeEmail: "Ops <ops@example.org>" }, /platform:acmeEmail: must be one e-mail address/],
    ["an unknown issuer", "platform.example.org", { tlsIssuer: "zerossl", acmeEmail: "ops@example.org" }, /platform:tlsIssuer: must be one of: letsencrypt, letsencrypt-staging, platform-ca/],
    ["Let's Encrypt for .localhost", "platform.localhost", { tlsIssuer: "letsencrypt", acmeEmail: "ops@example.org" }, /platform:tlsIssuer: letsencrypt cannot validate "platform.localhost"/],
    ["a contact without ACME", "platform.localhost", { acmeEmail: "ops@example.org" }, /platform:acmeEmail: only applies with a Let's Encrypt issuer/],
  ])("refuses %s, naming the key", (_what, domain, values, message) => {
    expect(() => parseTls(source(values as Record<string, string>), domain)).toThrow(message);
  });

  it("a stack without the contact fails before any resource, naming the key", async () => {
    const { runStackError } = await import("./helpers/stack");
    const { error, created } = await runStackError("oci", { config: { "platform:acmeEmail": undefined } });
    expect(error.message).toMatch(/platform:acmeEmail/);
    expect(created).toEqual([]);
  });
});

describe("#13 TLS builders", () => {
  it("one Certificate per published host, in the gateway's namespace, named as the Gateway's credentialName", () => {
    const ctx = testContext("oci");
    const certs = uiCertificates(ctx, "letsencrypt");
    const gw = platformRoutes(ctx).find((o) => o.kind === "Gateway" && o.metadata.name === "platform")!;
    expect(certs.map((c) => c.spec.dnsNames)).toEqual(publishedHosts(ctx).map((h) => [h.host]));
    for (const c of certs) {
      expect(c.metadata.namespace).toBe("istio-system");
      expect(c.spec.issuerRef).toEqual({ group: "cert-manager.io", kind: "ClusterIssuer", name: "letsencrypt" });
      const server = gw.spec.servers.find((s: any) => s.hosts[0] === c.spec.dnsNames[0]);
      expect(server.tls.credentialName).toBe(c.spec.secretName);
    }
  });

  it("the ACME solver goes through Istio's IngressClass, on a ClusterIP Service", () => {
    const i = acmeIssuer("letsencrypt-staging", "ops@example.org");
    expect(i.spec.acme.server).toBe("https://acme-staging-v02.api.letsencrypt.org/directory");
    expect(i.spec.acme.solvers).toEqual([{ http01: { ingress: { ingressClassName: "istio", serviceType: "ClusterIP" } } }]);
  });

  it("cert-manager: CRDs from the chart, and the API check is not a hook (a helm v4 Chart drops hooks)", () => {
    const v = certManagerValues(testContext("oci")) as any;
    expect(v.crds.enabled).toBe(true);
    expect(v.startupapicheck.enabled).toBe(true);
    for (const annotations of [v.startupapicheck.jobAnnotations, v.startupapicheck.rbac.annotations, v.startupapicheck.serviceAccount.annotations]) {
      expect(annotations["helm.sh/hook"]).toBeNull();
      expect(annotations["helm.sh/hook-delete-policy"]).toBeNull();
    }
  });
});

const chartValues = (run: StackRun, chart: string) => plain(findAll(run.created, "kubernetes:helm.sh/v4:Chart", (c) => c.inputs.chart === chart)[0].inputs.values);
const objects = (run: StackRun, type: string): Created[] => findAll(run.created, type);

describe("#13 TLS in the whole stacks", () => {
  const runs: Record<string, StackRun> = {};
  beforeAll(async () => {
    for (const s of ["dev", "oci", "homelab"]) runs[s] = await runStack(s);
  }, 60_000);

  it("#13 the issuer per environment: the platform CA on dev, Let's Encrypt with the configured contact on oci and homelab", () => {
    const issuers = (s: string) => objects(runs[s], "kubernetes:cert-manager.io/v1:ClusterIssuer").map((c) => plain(c.inputs));
    expect(issuers("dev").map((i) => i.metadata.name)).toEqual(["platform-ca"]);
    expect(issuers("dev")[0].spec).toEqual({ ca: { secretName: "platform-ca" } });
    for (const s of ["oci", "homelab"]) {
      expect(issuers(s).map((i) => i.metadata.name)).toEqual(["letsencrypt"]);
      expect(issuers(s)[0].spec.acme.email).toBe("admin@example.com");
      expect(issuers(s)[0].spec.acme.server).toBe("https://acme-v02.api.letsencrypt.org/directory");
    }
  });

  it("#13 every UI host has an HTTPS server (TLS 1.2+) with a certificate cert-manager issues, and the UIs are served on HTTPS only", () => {
    for (const [s, run] of Object.entries(runs)) {
      const gateways = objects(run, "kubernetes:networking.istio.io/v1:Gateway").map((c) => plain(c.inputs));
      const https = gateways.flatMap((g) => g.spec.servers.filter((x: any) => x.port.protocol === "HTTPS").map((x: any) => ({ gw: g.metadata.name, ...x })));
      const certs = objects(run, "kubernetes:cert-manager.io/v1:Certificate").map((c) => plain(c.inputs));
      const urls = run.outputs.urls as Record<string, string>;
      for (const ui of ["gitea", "argocd", "kiali", "app"]) {
        const host = new URL(urls[ui]).hostname;
        expect(urls[ui], `${s} ${ui}`).toMatch(/^https:\/\//);
        const server = https.find((x) => x.hosts.includes(host));
        expect(server, `${s}: no HTTPS server for ${host}`).toBeDefined();
        expect(server.tls.mode).toBe("SIMPLE");
        expect(server.tls.minProtocolVersion).toBe("TLSV1_2");
        const cert = certs.find((c) => c.spec.secretName === server.tls.credentialName);
        expect(cert, `${s}: no Certificate for ${server.tls.credentialName}`).toBeDefined();
        // credentialName is looked up in the gateway deployment's namespace.
        expect(cert.metadata.namespace).toBe("istio-system");
        expect(cert.spec.dnsNames).toContain(host);
      }
      // The UI VirtualServices bind to the HTTPS Gateway only (on the HTTP port they would race the redirect).
      for (const vs of objects(run, "kubernetes:networking.istio.io/v1:VirtualService").map((c) => plain(c.inputs))) {
        if (vs.metadata.name === "https-redirect") continue;
        expect(vs.spec.gateways, `${s} ${vs.metadata.name}`).toEqual(["istio-system/platform"]);
      }
      expect(objects(run, "kubernetes:networking.k8s.io/v1:IngressClass").map((c) => plain(c.inputs).spec)).toEqual([{ controller: "istio.io/ingress-controller" }]);
    }
  });

  it("#13 HTTP redirects to HTTPS except the ACME challenge: a catch-all redirect route, no server-level httpsRedirect", () => {
    for (const [s, run] of Object.entries(runs)) {
      const gateways = objects(run, "kubernetes:networking.istio.io/v1:Gateway").map((c) => plain(c.inputs));
      // tls.httpsRedirect would make Envoy redirect the whole virtual host, the challenge path included.
      for (const g of gateways) for (const x of g.spec.servers) expect(x.tls?.httpsRedirect, `${s} ${g.metadata.name}`).toBeUndefined();
      const http = gateways.find((g) => g.spec.servers.some((x: any) => x.port.protocol === "HTTP"));
      const redirect = objects(run, "kubernetes:networking.istio.io/v1:VirtualService").map((c) => plain(c.inputs)).find((v) => v.spec.gateways.includes(`istio-system/${http.metadata.name}`));
      expect(redirect, `${s}: nothing on the HTTP Gateway`).toBeDefined();
      const urls = run.outputs.urls as Record<string, string>;
      // Host names, not a wildcard: istiod merges the solver Ingress's route into these virtual hosts.
      expect([...redirect.spec.hosts].sort()).toEqual(["gitea", "argocd", "kiali", "app"].map((u) => new URL(urls[u]).hostname).sort());
      expect(redirect.spec.http).toHaveLength(1);
      const [route] = redirect.spec.http;
      // No match: a catch-all, which istiod sorts after the solver's exact /.well-known/acme-challenge/<token> route.
      expect(route.match).toBeUndefined();
      expect(route.route).toBeUndefined();
      const httpsPort = new URL(urls.gitea).port || "443";
      expect(route.redirect).toEqual({ scheme: "https", port: Number(httpsPort), redirectCode: 308 });
    }
  });

  it("#13 Gitea's ROOT_URL and Argo CD's url are https; Argo CD still reads Git in-cluster (PM-14)", () => {
    for (const [s, run] of Object.entries(runs)) {
      const urls = run.outputs.urls as Record<string, string>;
      expect(chartValues(run, "gitea").gitea.config.server.ROOT_URL, s).toBe(`${urls.gitea}/`);
      expect(chartValues(run, "argo-cd").configs.cm.url, s).toBe(urls.argocd);
      const repo = objects(run, "kubernetes:core/v1:Secret").map((c) => plain(c.inputs)).find((x) => x.metadata.labels?.["argocd.argoproj.io/secret-type"] === "repository");
      expect(repo.stringData.url, s).toMatch(/^http:\/\/gitea-http\.gitea\.svc\.cluster\.local:3000\//);
    }
  });

  it("PM-24 the runner and the shipped workflows stay on the NodePort HTTP URL when ROOT_URL is https", () => {
    for (const [s, run] of Object.entries(runs)) {
      const urls = run.outputs.urls as Record<string, string>;
      const runner = objects(run, "kubernetes:apps/v1:Deployment").map((c) => plain(c.inputs)).find((d) => d.metadata.namespace === "gitea-runner");
      const instance = runner.spec.template.spec.containers.flatMap((c: any) => c.env ?? []).find((e: any) => e.name === "GITEA_INSTANCE_URL").value;
      expect(instance, s).toBe(urls.giteaNodePort);
      expect(instance, s).toMatch(/^http:\/\/[^/]+:30300$/);
      expect(instance, s).not.toBe(urls.gitea);
      // The release workflow in the bootstrap content checks out from the same URL, not Gitea's ROOT_URL.
      const content = objects(run, "kubernetes:core/v1:ConfigMap").map((c) => plain(c.inputs)).flatMap((c) => Object.values(c.data ?? {}) as string[]);
      const workflow = content.find((v) => typeof v === "string" && v.includes("github-server-url"));
      expect(workflow, `${s}: no shipped workflow with github-server-url`).toBeDefined();
      expect(workflow).toContain(`github-server-url: ${instance}`);
      expect(workflow).not.toContain(urls.gitea);
    }
  });

  it("#13 the platform CA: its certificate is a plain output, its key a secret everywhere it goes", () => {
    const dev = runs.dev;
    const pem = dev.outputs.platformCaCertificate as string;
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const cert = findAll(dev.created, "tls:index/selfSignedCert:SelfSignedCert");
    expect(cert).toHaveLength(1);
    expect(cert[0].inputs).toMatchObject({ isCaCertificate: true, allowedUses: expect.arrayContaining(["cert_signing"]) });
    const key = findAll(dev.created, "tls:index/privateKey:PrivateKey", (k) => k.name.includes("-ca-"));
    expect(key.map((k) => k.inputs)).toEqual([{ algorithm: "ECDSA", ecdsaCurve: "P256" }]);
    const keyPem = key[0].outputs!.privateKeyPem as string;
    const secret = findAll(dev.created, "kubernetes:core/v1:Secret", (c) => c.inputs.metadata.name === "platform-ca")[0];
    expect(secret.inputs.metadata.namespace).toBe("cert-manager");
    expect(secret.inputs.type).toBe("kubernetes.io/tls");
    expect(isSecretInput(secret.inputs.stringData) || isSecretInput(secret.inputs.stringData["tls.key"])).toBe(true);
    // The key never appears in plaintext: not in any resource's inputs, not in any output.
    for (const c of dev.created) expect(outsideSecrets(c.inputs, "mock-tls-ca-key-pem"), `${c.type} ${c.name}`).toEqual([]);
    expect(keyPem).toContain("mock-tls-ca-key-pem");
    expect(JSON.stringify(dev.outputs)).not.toContain("mock-tls-ca-key-pem");
    // Let's Encrypt stacks have no CA to trust.
    expect(runs.oci.outputs.platformCaCertificate).toBeUndefined();
  });

  it("#13 cert-manager is installed once, outside the mesh, before its issuers", () => {
    for (const [s, run] of Object.entries(runs)) {
      const ns = objects(run, "kubernetes:core/v1:Namespace").map((c) => plain(c.inputs)).find((n) => n.metadata.name === "cert-manager");
      expect(ns.metadata.labels["istio-injection"], s).toBe("disabled");
      expect(ns.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
      expect(chartValues(run, "cert-manager").crds.enabled).toBe(true);
    }
  });
});

describe("#13 order: cert-manager's CRDs and webhook before its objects", () => {
  it("every ClusterIssuer and Certificate depends on the cert-manager chart (its CRDs, and the API check Job)", async () => {
    for (const s of ["dev", "oci"]) {
      const run = await runStack(s);
      const regs = [...run.engine.resources.values()];
      const chart = regs.find((r) => r.type === "kubernetes:helm.sh/v4:Chart" && r.inputs.chart === "cert-manager")!;
      const cm = regs.filter((r) => r.type.startsWith("kubernetes:cert-manager.io/"));
      expect(cm.length, s).toBe(5); // one issuer + a Certificate per published UI (Prometheus is not published)
      for (const r of cm) expect(r.dependencies, `${s} ${r.name}`).toContain(chart.urn);
      // The Certificates also wait for their issuer.
      const issuer = cm.find((r) => r.type === "kubernetes:cert-manager.io/v1:ClusterIssuer")!;
      for (const r of cm.filter((x) => x.type.endsWith(":Certificate"))) expect(r.dependencies).toContain(issuer.urn);
    }
  }, 60_000);
});
