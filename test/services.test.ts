import { describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { sampleAppApplication } from "../components/services";
import { endpoints } from "../components/lib/endpoints";
import { PROFILES } from "../components/lib/profiles";
import { application } from "../components/gitops/applications";

const ctx = { environment: "oci" as const, profile: PROFILES.oci, endpoints: endpoints({ environment: "oci", domain: "p.example.com", nodeAddress: "10.0.1.11" }) };
const repo = "http://gitea-http.gitea.svc.cluster.local:3000/platform/platform-apps.git";

describe("the sample app's Application (kept in Git under argocd/)", () => {
  const app = YAML.parse(sampleAppApplication(ctx, repo));

  it("PM-28 syncs in the app wave, after the platform, and skips dry-run for Rollout CRDs", () => {
    expect(Number(app.metadata.annotations["argocd.argoproj.io/sync-wave"])).toBeGreaterThanOrEqual(0);
    expect(app.spec.syncPolicy.syncOptions).toContain("SkipDryRunOnMissingResource=true");
  });

  it("PM-31 selfHeal is on, and the canary weights the Rollout owns are ignored so it does not fight Argo CD", () => {
    expect(app.spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
    expect(app.spec.ignoreDifferences).toEqual([
      { group: "networking.istio.io", kind: "VirtualService", name: "sample-api", jqPathExpressions: [".spec.http[].route[].weight"] },
    ]);
    expect(app.spec.syncPolicy.syncOptions).toEqual(expect.arrayContaining(["RespectIgnoreDifferences=true", "ApplyOutOfSyncOnly=true"]));
  });

  it("PM-36 destination is the namespace its resources live in; the stack owns that namespace", () => {
    expect(app.spec.destination.namespace).toBe("sample-app");
    expect(app.spec.syncPolicy.syncOptions).not.toContain("CreateNamespace=true");
    expect(app.spec.source).toMatchObject({ repoURL: repo, targetRevision: "main", path: "deploy/oci" });
  });

  it("extra sync options are validated", () => {
    expect(() => application({ name: "x", project: "apps", repoURL: repo, path: "a", destinationNamespace: "x", createNamespace: true, tier: "app", extraSyncOptions: ["bad option"] }))
      .toThrow(/must look like Name=value/);
  });
});
