// Prints the traffic plan as the README's table; `--write` replaces the block in README.md.
import * as fs from "fs";
import * as path from "path";
import { trafficPlan, trafficTable } from "../components/traffic";
import { endpoints } from "../components/lib/endpoints";
import { PROFILES } from "../components/lib/profiles";

// The plan is the same in every environment (namespaces, labels and ports do not differ), except
// the ACME flows, which only a Let's Encrypt issuer has: shown, as on oci's default.
const ctx = {
  environment: "oci" as const, profile: PROFILES.oci, endpoints: endpoints({ environment: "oci", domain: "example.org", nodeAddress: "10.0.1.11" }),
  tls: { issuer: "letsencrypt" as const, acmeEmail: "admin@example.org" },
};
const table = trafficTable(trafficPlan(ctx));
if (process.argv.includes("--write")) {
  const file = path.resolve(__dirname, "../README.md");
  const text = fs.readFileSync(file, "utf8");
  const block = /<!-- traffic:start -->\n[\s\S]*?<!-- traffic:end -->/;
  if (!block.test(text)) throw new Error("README.md has no <!-- traffic:start --> ... <!-- traffic:end --> block");
  fs.writeFileSync(file, text.replace(block, `<!-- traffic:start -->\n${table}\n<!-- traffic:end -->`));
} else {
  console.log(table);
}
