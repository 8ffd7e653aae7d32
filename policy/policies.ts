// The lessons of docs/postmortems.md that a user's own workloads could repeat, as CrossGuard
// policies over Kubernetes resource inputs. Importable without the policy engine: tests call
// validateResource / validateStack directly; policy/index.ts wraps them in the PolicyPack.
import type {
  ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy,
} from "@pulumi/policy";
import { isLoopbackReference } from "../components/lib/endpoints";
import { isImmutableImage } from "../components/lib/k8s";
import { conditionGuardsEmptyResult, execProbeCannotFail, missingResources } from "./checks";
import { RUNNER_NAMESPACE } from "../components/gitops/runner-config";
import { DECLARED_PROJECTS } from "../components/gitops/projects";
import { containersOf, groupOf, injectorFills, istioGatewayInjected, kindOf, podTemplate, selects } from "./pods";

/**
 * The one documented privileged container: the Actions runner's Docker-in-Docker sidecar (PM-01),
 * which needs privilege to run job containers. Overridable through the policy's config.
 */
export const PRIVILEGED_EXCEPTIONS: readonly { namespace: string; container: string }[] = [
  { namespace: RUNNER_NAMESPACE, container: "dind" },
];

export interface LivenessException {
  readonly namespace: string;
  /** metadata.name of the Deployment/StatefulSet/... */
  readonly workload: string;
  readonly container: string;
  /** Where upstream decides it (template path @ pinned version). */
  readonly reason?: string;
}

/**
 * PM-11: upstream containers that run without a liveness probe because their pinned chart renders
 * none and has no value to add one. They still need a readiness probe. Overridable through config.
 */
export const LIVENESS_EXCEPTIONS: readonly LivenessException[] = [
  { namespace: "istio-system", workload: "istiod", container: "discovery", reason: "istio-discovery templates/deployment.yaml @ 1.30.3: readinessProbe only" },
  { namespace: "istio-system", workload: "istio-ingressgateway", container: "istio-proxy", reason: "istio-discovery files/gateway-injection-template.yaml @ 1.30.3: readinessProbe only" },
  { namespace: "argocd", workload: "argocd-application-controller", container: "application-controller", reason: "argo-cd templates/argocd-application-controller/statefulset.yaml @ 10.1.1: readinessProbe only" },
];

/** The image Istio's injector replaces (istio pkg/kube/inject/webhook.go AutoImage). */
export const ISTIO_AUTO_IMAGE = "auto";

/** Namespaces Argo CD runs in: they must opt out of Linkerd injection (PM-02). */
export const ARGOCD_NAMESPACES: readonly string[] = ["argocd"];

type Check = (args: ResourceValidationArgs, report: ReportViolation) => void;

function resourcePolicy(name: string, description: string, check: Check, extra: Partial<ResourceValidationPolicy> = {}): ResourceValidationPolicy {
  return { name, description, enforcementLevel: "mandatory", validateResource: check, ...extra };
}

function label(args: { name: string; props: Record<string, any> }): string {
  const m = args.props?.metadata ?? {};
  return `${m.namespace ? `${m.namespace}/` : ""}${m.name ?? args.name}`;
}

/** Runs `fn` for every container of a workload resource; `filled` when Istio's gateway injection fills it in. */
function eachContainer(args: ResourceValidationArgs, fn: (c: Record<string, any>, list: string, ns: string, filled: boolean) => void): void {
  const pod = podTemplate(args.type, args.props);
  if (!pod) return;
  for (const ref of containersOf(pod.spec)) fn(ref.container, ref.list, pod.namespace, injectorFills(pod, ref));
}

function isKind(type: string, group: string, ...kinds: string[]): boolean {
  return groupOf(type) === group && kinds.includes(kindOf(type) ?? "");
}

const PROBES = ["readinessProbe", "livenessProbe", "startupProbe"] as const;

export const policies: (ResourceValidationPolicy | StackValidationPolicy)[] = [
  resourcePolicy(
    "pm-15-no-loopback-images",
    "PM-15: container images must not name localhost, 127.0.0.1 or ::1; on a node that is the node itself.",
    (args, report) => eachContainer(args, (c) => {
      if (typeof c.image === "string" && isLoopbackReference(c.image)) {
        report(`PM-15 ${label(args)}: container ${c.name} pulls "${c.image}", which names the loopback address; use the registry host every node resolves.`);
      }
    }),
  ),
  resourcePolicy(
    "pm-04-mutable-tags-pull-always",
    "PM-04: a container whose image tag is mutable (not a semver, git sha or digest) must set imagePullPolicy: Always, or nodes keep a stale copy; `image: auto` only where Istio's gateway injection replaces it.",
    (args, report) => eachContainer(args, (c, _list, _ns, filled) => {
      if (c.image === ISTIO_AUTO_IMAGE) {
        // The gateway chart's placeholder: the webhook puts the template's proxy image there, pinned by
        // istiod's chart (docker.io/istio/proxyv2:<version>). On any other container nothing replaces
        // it, and the kubelet tries to pull an image called "auto".
        if (!filled) {
          report(`PM-04 ${label(args)}: container ${c.name} has image "auto", which only Istio's injector replaces (container istio-proxy of a pod labelled sidecar.istio.io/inject: "true" and annotated inject.istio.io/templates: gateway).`);
        }
        return;
      }
      if (typeof c.image === "string" && !isImmutableImage(c.image) && c.imagePullPolicy !== "Always") {
        report(`PM-04 ${label(args)}: container ${c.name} uses mutable image "${c.image}" with imagePullPolicy ${c.imagePullPolicy ?? "unset"}; pin a version or set Always.`);
      }
    }),
  ),
  resourcePolicy(
    "pm-11-exec-probes-can-fail",
    "PM-11: exec probes must be able to fail; `echo`, `true`, `exit 0`, `print(...)` or `|| true` report a dead service as healthy.",
    (args, report) => eachContainer(args, (c) => {
      for (const probe of PROBES) {
        const exec = c[probe]?.exec;
        if (exec && execProbeCannotFail(exec.command)) {
          report(`PM-11 ${label(args)}: container ${c.name} ${probe} runs ${JSON.stringify(exec.command ?? [])}, which always succeeds; probe the service (httpGet, tcpSocket, or a command that checks it).`);
        }
      }
    }),
  ),
  resourcePolicy(
    "pm-11-workloads-have-probes",
    "PM-11: every long-running container (not Jobs or init containers) has a readiness and a liveness probe (liveness may be missing only on the listed upstream containers whose charts render none).",
    (args, report) => {
      const pod = podTemplate(args.type, args.props);
      if (!pod || pod.kind === "Job" || pod.kind === "CronJob") return;
      const exceptions = args.getConfig<{ exceptions?: LivenessException[] }>()?.exceptions ?? LIVENESS_EXCEPTIONS;
      const workload = args.props?.metadata?.name;
      for (const ref of containersOf(pod.spec)) {
        const c = ref.container;
        if (ref.list !== "containers") continue;
        const missing: string[] = [];
        // The gateway template writes the istio-proxy readinessProbe (httpGet /healthz/ready :15021).
        if (!c.readinessProbe && !injectorFills(pod, ref)) missing.push("readinessProbe");
        if (!c.livenessProbe && !exceptions.some((e) => e.namespace === pod.namespace && e.workload === workload && e.container === c.name)) missing.push("livenessProbe");
        if (missing.length > 0) report(`PM-11 ${label(args)}: container ${c.name} has no ${missing.join(" or ")}.`);
      }
    },
    {
      configSchema: {
        properties: {
          exceptions: { type: "array", items: { type: "object", properties: { namespace: { type: "string" }, workload: { type: "string" }, container: { type: "string" } } } },
        },
      },
    },
  ),
  {
    name: "pm-06-service-targets-exposed-port",
    description: "PM-06: a Service's targetPort must be a port that a selected container exposes (a containerPort, or a port name).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
      const pods = args.resources.map((r) => podTemplate(r.type, r.props)).filter((p) => p !== undefined);
      for (const svc of args.resources.filter((r) => isKind(r.type, "core", "Service"))) {
        const spec = svc.props?.spec ?? {};
        const ns = svc.props?.metadata?.namespace ?? "default";
        const selected = pods.filter((p) => p!.namespace === ns && selects(spec.selector, p!.labels));
        // Pods this stack does not declare (other stacks, Git) cannot be checked here.
        if (selected.length === 0) continue;
        // An Istio gateway listens on what Gateway resources configure (in any stack, or in Git
        // through Argo CD), not on its containerPorts: its Service cannot be judged from the pod.
        if (selected.some((p) => istioGatewayInjected(p!))) continue;
        const ports = selected.flatMap((p) => containersOf(p!.spec).filter((c) => c.list === "containers").flatMap((c) => (c.container.ports ?? []) as Record<string, any>[]));
        for (const port of (spec.ports ?? []) as Record<string, any>[]) {
          const target = port.targetPort ?? port.port;
          const ok = typeof target === "number"
            ? ports.some((p) => p.containerPort === target)
            : ports.some((p) => p.name === target) || (/^\d+$/.test(String(target)) && ports.some((p) => p.containerPort === Number(target)));
          if (!ok) {
            report(`PM-06 Service ${label(svc)}: port ${port.name ?? port.port} targets ${JSON.stringify(target)}, which no selected container exposes (${ports.map((p) => `${p.name ?? "-"}:${p.containerPort}`).join(", ") || "none"}); target the container port by name.`, svc.urn);
          }
        }
      }
    },
  },
  resourcePolicy(
    "pm-37-gateway-ports-named",
    "PM-37: every server port of an Istio Gateway has a name (the API rejects the Gateway otherwise).",
    (args, report) => {
      if (!isKind(args.type, "networking.istio.io", "Gateway")) return;
      ((args.props?.spec?.servers ?? []) as Record<string, any>[]).forEach((s, i) => {
        if (!s?.port?.name) report(`PM-37 Gateway ${label(args)}: spec.servers[${i}].port has no name.`);
      });
    },
  ),
  resourcePolicy(
    "pm-25-analysis-interval-has-count",
    "PM-25: an AnalysisTemplate metric with an interval also sets count; without it the analysis runs indefinitely.",
    (args, report) => {
      if (!isKind(args.type, "argoproj.io", "AnalysisTemplate", "ClusterAnalysisTemplate")) return;
      for (const m of (args.props?.spec?.metrics ?? []) as Record<string, any>[]) {
        if (m?.interval !== undefined && (m.count === undefined || m.count === null)) {
          report(`PM-25 ${kindOf(args.type)} ${label(args)}: metric ${m.name} has interval ${m.interval} but no count.`);
        }
      }
    },
  ),
  resourcePolicy(
    "pm-26-analysis-guards-empty-result",
    "PM-26: a Prometheus success/failure condition that reads result[...] also handles an empty result (len(result) == 0 || ...).",
    (args, report) => {
      if (!isKind(args.type, "argoproj.io", "AnalysisTemplate", "ClusterAnalysisTemplate")) return;
      for (const m of (args.props?.spec?.metrics ?? []) as Record<string, any>[]) {
        if (!m?.provider?.prometheus) continue;
        for (const key of ["successCondition", "failureCondition"]) {
          const cond = m[key];
          if (typeof cond === "string" && !conditionGuardsEmptyResult(cond)) {
            report(`PM-26 ${kindOf(args.type)} ${label(args)}: metric ${m.name} ${key} "${cond}" fails on an empty result; guard it, e.g. "len(result) == 0 || result[0] >= 0.95".`);
          }
        }
      }
    },
  ),
  resourcePolicy(
    "pm-17-rollout-has-strategy",
    "PM-17: an Argo Rollout declares a canary or blueGreen strategy (blue-green with its active Service).",
    (args, report) => {
      if (!isKind(args.type, "argoproj.io", "Rollout")) return;
      const strategy = args.props?.spec?.strategy;
      if (!strategy?.canary && !strategy?.blueGreen) report(`PM-17 Rollout ${label(args)}: spec.strategy has neither canary nor blueGreen.`);
      else if (strategy.blueGreen && !strategy.blueGreen.activeService) report(`PM-17 Rollout ${label(args)}: blueGreen strategy without activeService.`);
    },
  ),
  resourcePolicy(
    "pm-14-argocd-repo-not-loopback",
    "PM-14: Argo CD Applications and repository Secrets never point at localhost/127.0.0.1/::1 (inside a pod that is the pod).",
    (args, report) => {
      const urls: string[] = [];
      if (isKind(args.type, "argoproj.io", "Application")) {
        const spec = args.props?.spec ?? {};
        for (const s of [spec.source, ...(spec.sources ?? [])]) if (typeof s?.repoURL === "string") urls.push(s.repoURL);
      } else if (isKind(args.type, "core", "Secret") && args.props?.metadata?.labels?.["argocd.argoproj.io/secret-type"]?.startsWith("repo")) {
        const url = args.props?.stringData?.url;
        if (typeof url === "string") urls.push(url);
      }
      for (const url of urls.filter(isLoopbackReference)) report(`PM-14 ${kindOf(args.type)} ${label(args)}: repo URL "${url}" is the loopback address; use the Git server's in-cluster DNS name.`);
    },
  ),
  resourcePolicy(
    "pm-31-applications-self-heal",
    "PM-31: Argo CD Applications sync automatically with selfHeal, so drift from Git is reverted and changes go through Git.",
    (args, report) => {
      if (!isKind(args.type, "argoproj.io", "Application")) return;
      const automated = args.props?.spec?.syncPolicy?.automated;
      if (automated?.selfHeal !== true) report(`PM-31 Application ${label(args)}: spec.syncPolicy.automated.selfHeal is not true.`);
    },
  ),
  resourcePolicy(
    "issue-14-1-applications-in-declared-projects",
    "#14.1: Argo CD Applications and ApplicationSets belong to a project the platform declares (platform, apps), never `default` or an unset project: the default project is locked and Git write is not cluster-admin.",
    (args, report) => {
      if (!isKind(args.type, "argoproj.io", "Application", "ApplicationSet")) return;
      const kind = kindOf(args.type);
      const spec = kind === "ApplicationSet" ? args.props?.spec?.template?.spec : args.props?.spec;
      const project = spec?.project;
      const allowed = args.getConfig<{ projects?: string[] }>()?.projects ?? DECLARED_PROJECTS;
      if (typeof project !== "string" || !allowed.includes(project)) {
        report(`#14.1 ${kind} ${label(args)}: project ${JSON.stringify(project ?? null)} is not one the platform declares (${allowed.join(", ")}); the default project deploys nothing.`);
      }
    },
    { configSchema: { properties: { projects: { type: "array", items: { type: "string" } } } } },
  ),
  resourcePolicy(
    "pm-02-argocd-namespace-no-mesh",
    "PM-02: the argocd namespace opts out of Linkerd injection (linkerd.io/inject: disabled) and is not labelled for Istio injection.",
    (args, report) => {
      if (!isKind(args.type, "core", "Namespace")) return;
      const m = args.props?.metadata ?? {};
      const namespaces = args.getConfig<{ argocdNamespaces?: string[] }>()?.argocdNamespaces ?? ARGOCD_NAMESPACES;
      if (!namespaces.includes(m.name)) return;
      if (m.annotations?.["linkerd.io/inject"] !== "disabled") report(`PM-02 Namespace ${m.name}: missing annotation linkerd.io/inject: disabled.`);
      if (m.labels?.["istio-injection"] === "enabled") report(`PM-02 Namespace ${m.name}: labelled istio-injection=enabled; Argo CD's gRPC breaks behind sidecars.`);
    },
    { configSchema: { properties: { argocdNamespaces: { type: "array", items: { type: "string" } } } } },
  ),
  resourcePolicy(
    "pm-07-containers-have-resources",
    "PM-07: every container sets requests.cpu, requests.memory and limits.memory, so the memory budget holds.",
    (args, report) => eachContainer(args, (c) => {
      const missing = missingResources(c.resources);
      if (missing.length > 0) report(`PM-07 ${label(args)}: container ${c.name} has no ${missing.join(", ")}.`);
    }),
  ),
  resourcePolicy(
    "pm-01-privileged-only-runner-dind",
    "PM-01: no privileged containers, except the Actions runner's Docker-in-Docker sidecar (the documented exception).",
    (args, report) => {
      const config = args.getConfig<{ exceptions?: { namespace: string; container: string }[] }>();
      const exceptions = config?.exceptions ?? PRIVILEGED_EXCEPTIONS;
      eachContainer(args, (c, _list, ns) => {
        if (c.securityContext?.privileged !== true) return;
        if (exceptions.some((e) => e.namespace === ns && e.container === c.name)) return;
        report(`PM-01 ${label(args)}: container ${c.name} is privileged; only ${exceptions.map((e) => `${e.namespace}/${e.container}`).join(", ")} may be.`);
      });
    },
    {
      configSchema: {
        properties: {
          exceptions: { type: "array", items: { type: "object", properties: { namespace: { type: "string" }, container: { type: "string" } } } },
        },
      },
    },
  ),
];
