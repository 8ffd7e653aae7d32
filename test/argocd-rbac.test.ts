// Issue 13: the Argo CD guest stays read-only. Judged by Argo CD's own decision procedure
// (helpers/argocd-rbac.ts) on the argocd-rbac-cm and argocd-cm our values render.
import { describe, expect, it } from "vitest";
import { argoCdValues, GUEST_ACCOUNT } from "../components/gitops/argocd-values";
import { bcryptHash } from "../components/lib/hash";
import { argocdAllows } from "./helpers/argocd-rbac";
import { testContext } from "./helpers/context";

const values = (env: "dev" | "oci" | "homelab") => argoCdValues({
  ctx: testContext(env), adminPasswordHash: bcryptHash("admin-pw", "argocd-admin"), guestPasswordHash: bcryptHash("guest-pw", "argocd-guest"),
}) as any;
const APP = "default/sample-app";
/** Everything a read-only user must not do (resource, action, object). */
const WRITES: [string, string, string][] = [
  ["applications", "sync", APP], ["applications", "create", APP], ["applications", "update", APP], ["applications", "delete", APP],
  ["applications", "delete/*", APP], ["applications", "override", APP], ["applications", "action/argoproj.io/Rollout/promote-full", APP],
  ["exec", "create", APP], ["logs", "get", APP], ["applicationsets", "create", "default/x"], ["projects", "update", "default"],
  ["repositories", "create", "*"], ["clusters", "update", "https://kubernetes.default.svc"], ["accounts", "update", "admin"],
  ["certificates", "create", "*"], ["gpgkeys", "create", "*"], ["write-repositories", "create", "*"],
];

describe("#13 the Argo CD guest stays read-only", () => {
  for (const env of ["dev", "oci", "homelab"] as const) {
    it(`${env}: the guest reads applications and projects, and cannot sync, change, delete, exec or read pod logs`, () => {
      const v = values(env);
      const rbac = v.configs.rbac;
      expect(argocdAllows(rbac, GUEST_ACCOUNT, "applications", "get", APP)).toBe(true);
      expect(argocdAllows(rbac, GUEST_ACCOUNT, "projects", "get", "default")).toBe(true);
      for (const [res, act, obj] of WRITES) expect(argocdAllows(rbac, GUEST_ACCOUNT, res, act, obj), `guest ${act} ${res}`).toBe(false);
      // The admin keeps everything (the evaluator can say yes).
      for (const [res, act, obj] of WRITES.filter(([r]) => r !== "logs")) expect(argocdAllows(rbac, "admin", res, act, obj), `admin ${act} ${res}`).toBe(true);
      // Any other subject (a future SSO user, a project token without a role) gets nothing by default.
      expect(argocdAllows(rbac, "someone", "applications", "get", APP)).toBe(false);
    });

    it(`${env}: login only (no apiKey), no anonymous access, no exec`, () => {
      const cm = values(env).configs.cm;
      expect(cm[`accounts.${GUEST_ACCOUNT}`].split(",").map((c: string) => c.trim())).toEqual(["login"]);
      expect(cm["users.anonymous.enabled"]).toBe("false");
      expect(cm["exec.enabled"]).toBe("false");
    });
  }

  it("the evaluator sees the defects: a default role outranks a deny; the guest bound to admin may sync", () => {
    const rbac = values("oci").configs.rbac;
    // policy.default is tried on its own first: with role:readonly the guest's logs deny does not hold.
    expect(argocdAllows({ ...rbac, "policy.default": "role:readonly" }, GUEST_ACCOUNT, "logs", "get", APP)).toBe(true);
    expect(argocdAllows({ ...rbac, "policy.default": "role:readonly" }, "someone", "applications", "get", APP)).toBe(true);
    expect(argocdAllows({ "policy.csv": `g, ${GUEST_ACCOUNT}, role:admin\n` }, GUEST_ACCOUNT, "applications", "sync", APP)).toBe(true);
    expect(argocdAllows({ "policy.csv": `p, ${GUEST_ACCOUNT}, exec, create, */*, allow\n` }, GUEST_ACCOUNT, "exec", "create", APP)).toBe(true);
  });
});
