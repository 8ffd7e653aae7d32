// The one way a component installs a chart: the pin from versions.ts, a release name, a namespace.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { ChartPin } from "./versions";

export interface PinnedChartArgs {
  /** Helm release name (drives the chart's resource names). @default the Pulumi resource name */
  readonly release?: string;
  readonly namespace: pulumi.Input<string>;
  readonly values: Record<string, unknown>;
}

export function pinnedChart(name: string, pin: ChartPin, args: PinnedChartArgs, opts: pulumi.ComponentResourceOptions): k8s.helm.v4.Chart {
  return new k8s.helm.v4.Chart(name, {
    ...(args.release ? { name: args.release } : {}),
    chart: pin.chart,
    version: pin.version,
    repositoryOpts: { repo: pin.repo },
    namespace: args.namespace,
    values: args.values,
  }, opts);
}
