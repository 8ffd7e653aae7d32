// SSH host keys Pulumi pins (#13.4). Without `connection.hostKey` @pulumi/command accepts any host
// key, and a man-in-the-middle on the path gets the K3s token and the registry password and can
// hand back a forged kubeconfig. pulumi-command (provider/pkg/provider/remote/connection.go) parses
// hostKey with ssh.ParseAuthorizedKey, checks it with ssh.FixedHostKey and asks the server for that
// key type only: an authorized_keys-style line, "ssh-ed25519 AAAA...".
// oci: each node's key is a stack-owned tls.PrivateKey that cloud-init installs at launch; a node
// launched before that gets it once over its last unpinned connection (hostKeyScript). homelab: the
// host's own key, from platform:sshHostKey.
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { readScript, scriptWithEnv } from "../lib/scripts";

/** Host key types OpenSSH's sshd offers (sshkey.c), as ssh-keyscan prints them. */
export const HOST_KEY_TYPES = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"] as const;

/**
 * "type base64" from an authorized_keys or ssh-keyscan line ("host type base64", "[host]:port type
 * base64", a trailing comment), or an error saying what is wrong. The blob must decode and name its
 * own type first (the SSH wire format), so a truncated or pasted-wrong key fails here, not at dial.
 */
export function parseHostKey(value: string): { key: string } | { error: string } {
  const text = value.trim();
  if (text === "") return { error: "is empty" };
  if (/[\r\n]/.test(text)) return { error: "must be one line (one host key)" };
  const fields = text.split(/[ \t]+/);
  const at = fields.findIndex((f) => (HOST_KEY_TYPES as readonly string[]).includes(f));
  if (at < 0 || at > 1) return { error: `must start with a host key type (${HOST_KEY_TYPES.join(", ")}), as ssh-keyscan prints it` };
  const [type, blob] = [fields[at], fields[at + 1] ?? ""];
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(blob) || blob.length % 4 !== 0) return { error: `has no base64 key after "${type}"` };
  const raw = Buffer.from(blob, "base64");
  const len = raw.length >= 4 ? raw.readUInt32BE(0) : -1;
  const named = len >= 0 && raw.length >= 4 + len && raw.subarray(4, 4 + len).toString("latin1") === type;
  // ed25519: the name, then 32 bytes of key (RFC 8709); other types: at least something after the name.
  const whole = type === "ssh-ed25519" ? raw.length === 4 + 11 + 4 + 32 : raw.length > 4 + len + 4;
  if (!named || !whole) return { error: `the base64 key is not a ${type} key (truncated or copied wrong?)` };
  return { key: `${type} ${blob}` };
}

/** The pinned line for a tls.PrivateKey's publicKeyOpenssh ("ssh-ed25519 AAAA...\n"). */
export function hostKeyLine(publicKeyOpenssh: string): string {
  return publicKeyOpenssh.trim().split(/\s+/).slice(0, 2).join(" ");
}

/**
 * cloud-init (cc_ssh): delete the image's host keys and write only the stack's ed25519 key, so sshd
 * offers the pinned key and nothing else. Runs once per instance.
 */
export function hostKeyCloudConfig(privateKeyOpenssh: string, publicKeyOpenssh: string): Record<string, unknown> {
  return {
    ssh_deletekeys: true,
    ssh_genkeytypes: [],
    ssh_keys: { ed25519_private: privateKeyOpenssh, ed25519_public: `${hostKeyLine(publicKeyOpenssh)}\n` },
  };
}

/** The host key a node's launch user_data (base64, as OCI keeps it) installed, or undefined (launched before host keys). */
export function launchHostKey(userDataB64: string | undefined): string | undefined {
  if (!userDataB64) return undefined;
  const text = Buffer.from(userDataB64, "base64").toString("utf8");
  const doc = text.startsWith("#cloud-config") ? (YAML.parse(text) as { ssh_keys?: { ed25519_public?: string } } | null) : null;
  const pub = doc?.ssh_keys?.ed25519_public;
  return pub ? hostKeyLine(pub) : undefined;
}

/** stdin for a root remote Command that installs the host key on a running node and reloads sshd. */
export function hostKeyScript(privateKeyOpenssh: pulumi.Input<string>, publicKeyOpenssh: pulumi.Input<string>): pulumi.Output<string> {
  return scriptWithEnv(readScript("host/scripts/host-key.sh"), {
    HOST_KEY_PRIVATE: pulumi.secret(privateKeyOpenssh),
    HOST_KEY_PUBLIC: pulumi.output(publicKeyOpenssh).apply(hostKeyLine),
  });
}

/** What the homelab error says when platform:sshHostKey is missing or wrong. */
export function hostKeyHelp(address: string, port: number): string {
  return `get it from the host with \`ssh-keyscan -t ed25519 -p ${port} ${address}\`, check its fingerprint out of band ` +
    "(on the host's console: `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`; on your side: `ssh-keyscan ... | ssh-keygen -lf -`), " +
    `then pulumi config set platform:sshHostKey "ssh-ed25519 AAAA..."`;
}
