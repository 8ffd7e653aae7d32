// The API server validates every NetworkPolicy ipBlock (kubernetes pkg/apis/networking/validation
// ValidateIPBlock): `cidr` a valid CIDR, and each `except` inside it with a longer prefix ("must be
// a strict subset of `cidr`"), or the whole policy is refused. Judged on what the stacks register,
// including homelab with a DNS hostAddress (the node range is then the private ranges, one of
// which holds the pod and Service CIDRs).
import { describe, expect, it } from "vitest";
import { runStack } from "./helpers/stack";

function range(cidr: string): { first: number; last: number; bits: number; aligned: boolean } {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) throw new Error(`"${cidr}" is not an IPv4 CIDR`);
  const n = m.slice(1, 5).reduce((a, o) => a * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(m[5]));
  return { first: n, last: n + size - 1, bits: Number(m[5]), aligned: n % size === 0 };
}

/** The API server's verdict on one ipBlock: the errors it would return. */
export function ipBlockErrors(block: { cidr: string; except?: string[] }): string[] {
  const errors: string[] = [];
  let outer;
  try { outer = range(block.cidr); } catch (e) { return [(e as Error).message]; }
  if (!outer.aligned) errors.push(`cidr ${block.cidr} has host bits`);
  for (const e of block.except ?? []) {
    let inner;
    try { inner = range(e); } catch (err) { errors.push((err as Error).message); continue; }
    if (inner.first < outer.first || inner.first > outer.last || inner.bits <= outer.bits) errors.push(`except ${e} must be a strict subset of cidr ${block.cidr}`);
  }
  return errors;
}

const CASES: [string, Record<string, string>][] = [
  ["dev", {}], ["oci", {}], ["homelab", {}], ["homelab", { "platform:hostAddress": "host.homelab.example.com" }],
];

describe("#14.4 every ipBlock the stacks register is one the API server accepts", () => {
  it("the check refuses what the API server refuses", () => {
    expect(ipBlockErrors({ cidr: "172.16.0.0/12", except: ["10.42.0.0/16"] })).toHaveLength(1);
    expect(ipBlockErrors({ cidr: "10.0.0.0/8", except: ["10.0.0.0/8"] })).toHaveLength(1);
    expect(ipBlockErrors({ cidr: "10.0.0.1/8" })).toHaveLength(1);
    expect(ipBlockErrors({ cidr: "0.0.0.0/0", except: ["169.254.0.0/16", "10.42.0.0/16"] })).toEqual([]);
  });

  for (const [stack, config] of CASES) {
    it(`${stack}${Object.keys(config).length ? ` ${JSON.stringify(config)}` : ""}: cidr valid, each except strictly inside it`, async () => {
      const run = await runStack(stack, { config });
      const bad: string[] = [];
      let blocks = 0;
      for (const c of run.created.filter((x) => x.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy")) {
        const spec = (c.inputs as any).spec;
        const peers = [...(spec.ingress ?? []).flatMap((r: any) => r.from ?? []), ...(spec.egress ?? []).flatMap((r: any) => r.to ?? [])];
        for (const p of peers.filter((x: any) => x.ipBlock)) {
          blocks++;
          for (const e of ipBlockErrors(p.ipBlock)) bad.push(`${c.name}: ${e}`);
        }
      }
      expect(blocks).toBeGreaterThan(0);
      expect(bad).toEqual([]);
    }, 120_000);
  }
});
