// The CrossGuard pack: `pulumi preview --policy-pack policy` runs every lesson against the stack.
// The policies themselves live in policies.ts so the tests can call them without the engine.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("platform-lessons", {
  description: "The platform's post-mortems (docs/postmortems.md) as policies: what a workload must not repeat.",
  enforcementLevel: "mandatory",
  policies,
});
