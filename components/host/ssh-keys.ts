// Which SSH keys an OCI node trusts. Pulumi connects with the stack's own key (a tls.PrivateKey
// kept in state, authorized at launch), not with the user's (once only, to adopt a node an older
// program launched with the user's key alone): OCI reads
// ssh_authorized_keys only at launch, so a changed platform:sshPublicKey would otherwise leave
// Pulumi with a key the node does not trust. The user's key is installed next to the stack's by
// scripts/authorized-keys.sh, which swaps it when it changes.
import * as pulumi from "@pulumi/pulumi";
import { readScript, scriptWithEnv } from "../lib/scripts";

const oneLine = (key: string) => key.trim().split(/\r?\n/)[0];

/** ssh_authorized_keys at launch: the stack's key, then the user's (OCI: one key per line). */
export function launchAuthorizedKeys(stackPublicKey: string, userPublicKey?: string): string {
  // Unchanged from the stack's key alone when there is no user key (nodes launched so far).
  return userPublicKey ? `${oneLine(stackPublicKey)}\n${oneLine(userPublicKey)}\n` : stackPublicKey;
}

/** The keys the node must trust: the stack's first (Pulumi's connection), then the user's. */
export function keptKeys(stackPublicKey: string, userPublicKey?: string): string {
  return [stackPublicKey, ...(userPublicKey ? [userPublicKey] : [])].map(oneLine).join("\n");
}

/** stdin for a remote Command (run as the SSH user) that makes authorized_keys hold exactly the kept keys among those it manages. */
export function authorizedKeysScript(stackPublicKey: pulumi.Input<string>, userPublicKey?: string): pulumi.Output<string> {
  return scriptWithEnv(readScript("host/scripts/authorized-keys.sh"), {
    KEEP_KEYS: pulumi.output(stackPublicKey).apply((pub) => keptKeys(pub, userPublicKey)),
  });
}

const blob = (key: string) => oneLine(key).split(/\s+/).slice(0, 2).join(" ");

/**
 * The private key that authorizes the stack's key on a node, from the keys it was launched with:
 * the stack's when it has it; the user's when it was launched with the user's alone (an older
 * program); otherwise the stack's (authorized by an earlier run). The program cannot tell whether
 * an older node was adopted already, so a missing user key is a warning, not an error: refusing
 * would block every later run of a node adopted long ago.
 */
export function adoptionKey(
  node: string, launchKeys: string, stack: { publicKey: string; privateKey: string }, userPublicKey: string, userPrivateKey: string | undefined,
): { privateKey: string; warning?: string } {
  const launched = launchKeys.split(/\r?\n/).filter((l) => l.trim()).map(blob);
  if (launched.includes(blob(stack.publicKey)) || !launched.includes(blob(userPublicKey))) return { privateKey: stack.privateKey };
  if (userPrivateKey === undefined) {
    return {
      privateKey: stack.privateKey,
      warning: `node ${node} was launched with platform:sshPublicKey alone: if its commands fail to authenticate, set the private key for one run (pulumi config set --secret platform:sshPrivateKey < ~/.ssh/id_ed25519) so that the stack can authorize its own key`,
    };
  }
  return { privateKey: userPrivateKey };
}
