// Argo CD's RBAC decision, as argoproj/argo-cd v3.4.4 makes it (the argo-cd chart 10.1.1's
// appVersion): casbin with assets/model.conf (allow if some allow matches and no deny does; g for
// roles, transitively), globs on resource, action and object (util/glob: `*` spans `/` too), the
// built-in policy (assets/builtin-policy.csv) under argocd-rbac-cm's policy.csv, and the default
// role tried first, on its own (util/rbac/rbac.go enforce).

/** assets/builtin-policy.csv @ v3.4.4. */
export const BUILTIN_POLICY = `
p, role:readonly, applications, get, */*, allow
p, role:readonly, applicationsets, get, */*, allow
p, role:readonly, certificates, get, *, allow
p, role:readonly, clusters, get, *, allow
p, role:readonly, repositories, get, *, allow
p, role:readonly, write-repositories, get, *, allow
p, role:readonly, projects, get, *, allow
p, role:readonly, accounts, get, *, allow
p, role:readonly, gpgkeys, get, *, allow
p, role:readonly, logs, get, */*, allow
p, role:admin, applications, create, */*, allow
p, role:admin, applications, update, */*, allow
p, role:admin, applications, update/*, */*, allow
p, role:admin, applications, delete, */*, allow
p, role:admin, applications, delete/*, */*, allow
p, role:admin, applications, sync, */*, allow
p, role:admin, applications, override, */*, allow
p, role:admin, applications, action/*, */*, allow
p, role:admin, applicationsets, get, */*, allow
p, role:admin, applicationsets, create, */*, allow
p, role:admin, applicationsets, update, */*, allow
p, role:admin, applicationsets, delete, */*, allow
p, role:admin, certificates, create, *, allow
p, role:admin, certificates, update, *, allow
p, role:admin, certificates, delete, *, allow
p, role:admin, clusters, create, *, allow
p, role:admin, clusters, update, *, allow
p, role:admin, clusters, delete, *, allow
p, role:admin, repositories, create, *, allow
p, role:admin, repositories, update, *, allow
p, role:admin, repositories, delete, *, allow
p, role:admin, write-repositories, create, *, allow
p, role:admin, write-repositories, update, *, allow
p, role:admin, write-repositories, delete, *, allow
p, role:admin, projects, create, *, allow
p, role:admin, projects, update, *, allow
p, role:admin, projects, delete, *, allow
p, role:admin, accounts, update, *, allow
p, role:admin, gpgkeys, create, *, allow
p, role:admin, gpgkeys, delete, *, allow
p, role:admin, exec, create, */*, allow
g, role:admin, role:readonly
g, admin, role:admin
`;

const glob = (pattern: string, value: string) =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`).test(value);

function parse(csv: string) {
  const lines = csv.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#")).map((l) => l.split(",").map((x) => x.trim()));
  return {
    p: lines.filter((l) => l[0] === "p").map(([, sub, res, act, obj, eft]) => ({ sub, res, act, obj, eft: eft ?? "allow" })),
    g: lines.filter((l) => l[0] === "g").map(([, member, role]) => ({ member, role })),
  };
}

/** May `subject` do `action` on `resource` / `object` under this argocd-rbac-cm? */
export function argocdAllows(rbac: { "policy.default"?: string; "policy.csv"?: string }, subject: string, resource: string, action: string, object: string): boolean {
  const { p, g } = parse(`${BUILTIN_POLICY}\n${rbac["policy.csv"] ?? ""}`);
  const enforce = (sub: string) => {
    const subjects = new Set([sub]);
    for (let grew = true; grew;) {
      grew = false;
      for (const e of g) if (subjects.has(e.member) && !subjects.has(e.role)) { subjects.add(e.role); grew = true; }
    }
    const hits = p.filter((x) => subjects.has(x.sub) && glob(x.res, resource) && glob(x.act, action) && glob(x.obj, object));
    return hits.some((x) => x.eft === "allow") && !hits.some((x) => x.eft === "deny");
  };
  const def = rbac["policy.default"] ?? "";
  return (def !== "" && enforce(def)) || enforce(subject);
}
