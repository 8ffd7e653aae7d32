// RBAC as the API server evaluates it (plugin/pkg/auth/authorizer/rbac: RuleAllows = verb, API
// group, resource and, when the rule names any, resourceNames against the request's name), and the
// authorizer checks a server-side apply gets (apiserver endpoints/handlers/patch.go): `patch` for
// the PATCH itself and, when the object does not exist yet, `create` with the object's name
// (createAuthorizerAttributes, withAuthorization on createValidation). A POST create carries no name.
export interface PolicyRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly resourceNames?: readonly string[];
  readonly verbs: readonly string[];
}

export interface ResourceRequest {
  readonly verb: string;
  readonly apiGroup: string;
  readonly resource: string;
  /** "" for a create by POST and for list/watch of a collection. */
  readonly name: string;
}

const has = (list: readonly string[] | undefined, v: string) => (list ?? []).includes("*") || (list ?? []).includes(v);

export function ruleAllows(rule: PolicyRule, r: ResourceRequest): boolean {
  if (!has(rule.verbs, r.verb) || !has(rule.apiGroups, r.apiGroup) || !has(rule.resources, r.resource)) return false;
  return !rule.resourceNames || rule.resourceNames.length === 0 || rule.resourceNames.includes(r.name);
}

export function allows(rules: readonly PolicyRule[], r: ResourceRequest): boolean {
  return rules.some((rule) => ruleAllows(rule, r));
}

/** The verbs a server-side apply of one named object needs: create too when it makes the object. */
export function applyChecks(apiGroup: string, resource: string, name: string, exists: boolean): ResourceRequest[] {
  return [
    { verb: "patch", apiGroup, resource, name },
    ...(exists ? [] : [{ verb: "create", apiGroup, resource, name }]),
  ];
}
