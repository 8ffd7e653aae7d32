// Typed Argo Rollout builders (PM-17): a Rollout without a strategy cannot be typed, is refused at
// runtime, and the blue-green variant comes with the active and preview Services it names.
import { K8sObject, service, workloadPorts } from "../lib/k8s";

/** Durations as Argo Rollouts accepts them: "30s", "5m", "1h" (and "500ms"). */
export const DURATION = /^\d+(ms|s|m|h)$/;

export function checkDuration(value: string, what: string): void {
  if (typeof value !== "string" || !DURATION.test(value)) throw new Error(`${what}: "${value}" is not a duration like 30s, 5m or 1h`);
}

const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
function checkName(value: string, what: string): void {
  if (typeof value !== "string" || value.length > 63 || !DNS_NAME.test(value)) throw new Error(`${what}: "${value}" is not a DNS-1123 label`);
}

/** A literal value, or the hash of the newest pod template: how a query targets only canary pods. */
export type AnalysisArg =
  | { readonly name: string; readonly value: string }
  | { readonly name: string; readonly valueFrom: { readonly podTemplateHashValue: "Latest" | "Stable" } };

export type CanaryStep =
  | { readonly setWeight: number }
  | { readonly pause: { readonly duration?: string } }
  | { readonly analysis: { readonly templates: readonly { readonly templateName: string }[]; readonly args?: readonly AnalysisArg[] } };

export interface IstioTrafficRouting {
  /** VirtualService whose named HTTP routes carry the stable/canary split. */
  readonly virtualService: { readonly name: string; readonly routes: readonly string[] };
  /** Subset-level splitting: the DestinationRule whose subsets Argo Rollouts labels with pod-template hashes. */
  readonly destinationRule?: { readonly name: string; readonly canarySubsetName: string; readonly stableSubsetName: string };
}

export interface CanaryStrategy {
  /** Service selecting the stable pods (Argo Rollouts adds the pod-template-hash selector). */
  readonly stableService: string;
  /** Service selecting the canary pods. */
  readonly canaryService: string;
  /** Steps; see canarySteps(). */
  readonly steps: readonly CanaryStep[];
  /** Istio traffic shaping; without it the split is by replica count. */
  readonly trafficRouting?: { readonly istio: IstioTrafficRouting };
}

export interface AnalysisRef {
  readonly templateName: string;
  readonly args?: readonly AnalysisArg[];
}

export interface BlueGreenStrategy {
  /** Service receiving production traffic. */
  readonly activeService: string;
  /** Service reaching the new ReplicaSet before promotion. */
  readonly previewService: string;
  /** @default false: a human (or the pre-promotion analysis) promotes. */
  readonly autoPromotionEnabled?: boolean;
  readonly prePromotionAnalysis?: AnalysisRef;
  readonly postPromotionAnalysis?: AnalysisRef;
  /** @default 30 */
  readonly scaleDownDelaySeconds?: number;
}

/** Exactly one of canary or blueGreen: the type forbids a Rollout without a strategy (PM-17). */
export type RolloutStrategy =
  | { readonly canary: CanaryStrategy; readonly blueGreen?: never }
  | { readonly blueGreen: BlueGreenStrategy; readonly canary?: never };

export interface RolloutArgs {
  readonly name: string;
  readonly namespace: string;
  /** Pod selector; must be a subset of the pod labels. */
  readonly selector: Record<string, string>;
  /** @default 2 */
  readonly replicas?: number;
  /** Pod template labels. @default selector */
  readonly podLabels?: Record<string, string>;
  readonly podAnnotations?: Record<string, string>;
  /** Pod spec with hardened containers (container() from lib/k8s.ts). */
  readonly podSpec: { readonly containers: readonly Record<string, any>[]; readonly [key: string]: unknown };
  /** @default 3 */
  readonly revisionHistoryLimit?: number;
  readonly labels?: Record<string, string>;
  readonly strategy: RolloutStrategy;
}

function checkAnalysisRef(ref: { templateName: string }, what: string): void {
  if (!ref || typeof ref.templateName !== "string" || ref.templateName.length === 0) throw new Error(`${what}: templateName is required`);
  checkName(ref.templateName, `${what} templateName`);
}

function checkSteps(name: string, steps: readonly CanaryStep[]): void {
  if (!Array.isArray(steps) || steps.length === 0) throw new Error(`rollout ${name}: canary needs at least one step`);
  for (const step of steps) {
    const keys = Object.keys(step);
    if (keys.length !== 1) throw new Error(`rollout ${name}: each canary step has exactly one of setWeight, pause, analysis (got ${keys.join(", ") || "none"})`);
    if ("setWeight" in step) {
      if (!Number.isInteger(step.setWeight) || step.setWeight < 0 || step.setWeight > 100) throw new Error(`rollout ${name}: setWeight ${step.setWeight} must be an integer 0..100`);
    } else if ("pause" in step) {
      if (step.pause.duration !== undefined) checkDuration(step.pause.duration, `rollout ${name} pause`);
    } else if ("analysis" in step) {
      if (!step.analysis.templates?.length) throw new Error(`rollout ${name}: analysis step needs at least one template`);
      step.analysis.templates.forEach((t: { templateName: string }) => checkAnalysisRef(t, `rollout ${name} analysis step`));
    } else {
      throw new Error(`rollout ${name}: unknown canary step ${keys[0]}`);
    }
  }
}

function canarySpec(name: string, c: CanaryStrategy): Record<string, unknown> {
  checkName(c.stableService, `rollout ${name} stableService`);
  checkName(c.canaryService, `rollout ${name} canaryService`);
  if (c.stableService === c.canaryService) throw new Error(`rollout ${name}: stableService and canaryService must differ`);
  checkSteps(name, c.steps);
  const out: Record<string, unknown> = {
    stableService: c.stableService,
    canaryService: c.canaryService,
    steps: c.steps.map((s) => JSON.parse(JSON.stringify(s))),
  };
  const istio = c.trafficRouting?.istio;
  if (c.trafficRouting && !istio) throw new Error(`rollout ${name}: trafficRouting supports istio only`);
  if (istio) {
    checkName(istio.virtualService?.name, `rollout ${name} virtualService`);
    if (!istio.virtualService.routes?.length) throw new Error(`rollout ${name}: virtualService.routes must name the HTTP routes to split`);
    const routing: Record<string, unknown> = { virtualService: { name: istio.virtualService.name, routes: [...istio.virtualService.routes] } };
    if (istio.destinationRule) {
      const dr = istio.destinationRule;
      checkName(dr.name, `rollout ${name} destinationRule`);
      if (!dr.canarySubsetName || !dr.stableSubsetName || dr.canarySubsetName === dr.stableSubsetName) {
        throw new Error(`rollout ${name}: destinationRule needs distinct canarySubsetName and stableSubsetName`);
      }
      routing.destinationRule = { name: dr.name, canarySubsetName: dr.canarySubsetName, stableSubsetName: dr.stableSubsetName };
    }
    out.trafficRouting = { istio: routing };
  }
  return out;
}

function analysisRef(ref: AnalysisRef): Record<string, unknown> {
  return { templates: [{ templateName: ref.templateName }], ...(ref.args ? { args: ref.args.map((a) => ({ ...a })) } : {}) };
}

function blueGreenSpec(name: string, b: BlueGreenStrategy): Record<string, unknown> {
  checkName(b.activeService, `rollout ${name} activeService`);
  checkName(b.previewService, `rollout ${name} previewService`);
  if (b.activeService === b.previewService) throw new Error(`rollout ${name}: activeService and previewService must differ`);
  const delay = b.scaleDownDelaySeconds ?? 30;
  if (!Number.isInteger(delay) || delay < 0) throw new Error(`rollout ${name}: scaleDownDelaySeconds must be a non-negative integer`);
  if (b.prePromotionAnalysis) checkAnalysisRef(b.prePromotionAnalysis, `rollout ${name} prePromotionAnalysis`);
  if (b.postPromotionAnalysis) checkAnalysisRef(b.postPromotionAnalysis, `rollout ${name} postPromotionAnalysis`);
  return {
    activeService: b.activeService,
    previewService: b.previewService,
    autoPromotionEnabled: b.autoPromotionEnabled ?? false,
    scaleDownDelaySeconds: delay,
    ...(b.prePromotionAnalysis ? { prePromotionAnalysis: analysisRef(b.prePromotionAnalysis) } : {}),
    ...(b.postPromotionAnalysis ? { postPromotionAnalysis: analysisRef(b.postPromotionAnalysis) } : {}),
  };
}

/** An argoproj.io/v1alpha1 Rollout; throws on a missing or ambiguous strategy (PM-17). */
export function rollout(args: RolloutArgs): K8sObject {
  checkName(args.name, "rollout name");
  checkName(args.namespace, `rollout ${args.name} namespace`);
  const s = args.strategy as Partial<{ canary: CanaryStrategy; blueGreen: BlueGreenStrategy }> | undefined;
  if (!s || (!s.canary && !s.blueGreen)) {
    throw new Error(`rollout ${args.name}: missing required field "strategy" (canary or blueGreen) (PM-17)`);
  }
  if (s.canary && s.blueGreen) throw new Error(`rollout ${args.name}: strategy must be canary OR blueGreen, not both`);
  if (!args.selector || Object.keys(args.selector).length === 0) throw new Error(`rollout ${args.name}: selector must not be empty`);
  const podLabels = { ...args.selector, ...args.podLabels };
  for (const [k, v] of Object.entries(args.selector)) {
    if (podLabels[k] !== v) throw new Error(`rollout ${args.name}: pod label ${k} must equal selector value ${v}`);
  }
  const replicas = args.replicas ?? 2;
  if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`rollout ${args.name}: replicas must be an integer >= 1`);
  if (!args.podSpec?.containers?.length) throw new Error(`rollout ${args.name}: podSpec needs at least one container`);
  const strategy = s.canary ? { canary: canarySpec(args.name, s.canary) } : { blueGreen: blueGreenSpec(args.name, s.blueGreen!) };
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Rollout",
    metadata: { name: args.name, namespace: args.namespace, labels: args.labels ?? { ...args.selector } },
    spec: {
      replicas,
      revisionHistoryLimit: args.revisionHistoryLimit ?? 3,
      selector: { matchLabels: { ...args.selector } },
      template: {
        metadata: { labels: podLabels, ...(args.podAnnotations ? { annotations: { ...args.podAnnotations } } : {}) },
        spec: { ...args.podSpec, containers: [...args.podSpec.containers] },
      },
      strategy,
    },
  };
}

export interface CanaryStepsOptions {
  /** Arguments passed to every analysis run, e.g. the service name the query filters on. */
  readonly args?: readonly AnalysisArg[];
  /** A pause after each weight below 100 so metrics accumulate before the analysis, e.g. "30s". */
  readonly pause?: string;
}

/** [20, 80, 100] -> setWeight 20, analysis, setWeight 80, analysis, setWeight 100. */
export function canarySteps(weights: readonly number[], analysisTemplateName: string, opts: CanaryStepsOptions = {}): CanaryStep[] {
  if (!weights.length) throw new Error("canarySteps: at least one weight");
  checkAnalysisRef({ templateName: analysisTemplateName }, "canarySteps");
  if (opts.pause !== undefined) checkDuration(opts.pause, "canarySteps pause");
  weights.forEach((w, i) => {
    if (!Number.isInteger(w) || w < 1 || w > 100) throw new Error(`canarySteps: weight ${w} must be an integer 1..100`);
    if (i > 0 && w <= weights[i - 1]) throw new Error(`canarySteps: weights must increase (${weights.join(", ")})`);
  });
  if (weights[weights.length - 1] !== 100) throw new Error("canarySteps: the last weight must be 100 (full promotion)");
  const steps: CanaryStep[] = [];
  for (const w of weights) {
    steps.push({ setWeight: w });
    if (w === 100) break;
    if (opts.pause) steps.push({ pause: { duration: opts.pause } });
    steps.push({
      analysis: {
        templates: [{ templateName: analysisTemplateName }],
        ...(opts.args ? { args: opts.args.map((a) => ({ ...a })) } : {}),
      },
    });
  }
  return steps;
}

export interface BlueGreenRolloutArgs extends Omit<RolloutArgs, "strategy"> {
  /** @default `${name}-active` */
  readonly activeService?: string;
  /** @default `${name}-preview` */
  readonly previewService?: string;
  /** Container port names the Services expose. @default all named ports */
  readonly servicePortNames?: readonly string[];
  /** Service port per container port name. @default the container port */
  readonly servicePorts?: Record<string, number>;
  readonly autoPromotionEnabled?: boolean;
  readonly prePromotionAnalysis?: AnalysisRef;
  readonly postPromotionAnalysis?: AnalysisRef;
  readonly scaleDownDelaySeconds?: number;
}

/** A blue-green Rollout with the active and preview Services it names (PM-17), ports by name (PM-06). */
export function blueGreenRollout(args: BlueGreenRolloutArgs): { rollout: K8sObject; activeService: K8sObject; previewService: K8sObject } {
  const activeName = args.activeService ?? `${args.name}-active`;
  const previewName = args.previewService ?? `${args.name}-preview`;
  const { activeService: _a, previewService: _p, servicePortNames, servicePorts, autoPromotionEnabled, prePromotionAnalysis, postPromotionAnalysis, scaleDownDelaySeconds, ...base } = args;
  const ro = rollout({
    ...base,
    strategy: { blueGreen: { activeService: activeName, previewService: previewName, autoPromotionEnabled, prePromotionAnalysis, postPromotionAnalysis, scaleDownDelaySeconds } },
  });
  const ports = workloadPorts(args.podSpec as any);
  const svc = (name: string) => service({ name, namespace: args.namespace, selector: { ...args.selector }, ports, only: servicePortNames, servicePorts });
  return { rollout: ro, activeService: svc(activeName), previewService: svc(previewName) };
}

export interface CanaryRolloutArgs extends Omit<RolloutArgs, "strategy"> {
  readonly canary: Omit<CanaryStrategy, "stableService" | "canaryService"> & {
    /** @default `${name}-stable` */
    readonly stableService?: string;
    /** @default `${name}-canary` */
    readonly canaryService?: string;
  };
  /** Container port names the Services expose. @default all named ports */
  readonly servicePortNames?: readonly string[];
  /** Service port per container port name. @default the container port */
  readonly servicePorts?: Record<string, number>;
}

/** A canary Rollout with the stable and canary Services it names, ports by name (PM-06). */
export function canaryRollout(args: CanaryRolloutArgs): { rollout: K8sObject; stableService: K8sObject; canaryService: K8sObject } {
  const stableName = args.canary.stableService ?? `${args.name}-stable`;
  const canaryName = args.canary.canaryService ?? `${args.name}-canary`;
  const { canary, servicePortNames, servicePorts, ...base } = args;
  const ro = rollout({ ...base, strategy: { canary: { ...canary, stableService: stableName, canaryService: canaryName } } });
  const ports = workloadPorts(args.podSpec as any);
  const svc = (name: string) => service({ name, namespace: args.namespace, selector: { ...args.selector }, ports, only: servicePortNames, servicePorts });
  return { rollout: ro, stableService: svc(stableName), canaryService: svc(canaryName) };
}
