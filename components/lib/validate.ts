// Pure parsers for config values (config.ts wraps each failure in a ConfigError naming the key).
// Each throws Invalid with what is allowed; none ever puts a secret's value into its message.

export class Invalid extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Invalid";
  }
}

/** Shown for a value in a message: short, and control characters made visible. */
export function shown(value: string, max = 40): string {
  const s = JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
  return s;
}

const OCTET = /^(0|[1-9]\d{0,2})$/;

/**
 * Strict dotted-quad IPv4: four decimal octets 0-255, no leading zeros. `0177.0.0.1` is refused:
 * inet_aton (ssh, curl, ping) reads a leading 0 as octal, 127.0.0.1, while others read 177.
 */
export function parseIpv4(value: string): [number, number, number, number] {
  const parts = value.split(".");
  if (parts.length !== 4) throw new Invalid(`${shown(value)} is not an IPv4 address (four decimal numbers 0-255 separated by dots)`);
  for (const p of parts) {
    if (/^0\d+$/.test(p)) throw new Invalid(`${shown(value)} has a leading zero in "${p}": some tools read it as octal; write it without leading zeros`);
    if (!OCTET.test(p) || Number(p) > 255) throw new Invalid(`${shown(value)} is not an IPv4 address (four decimal numbers 0-255 separated by dots)`);
  }
  return parts.map(Number) as [number, number, number, number];
}

export function isIpv4(value: string): boolean {
  try {
    parseIpv4(value);
    return true;
  } catch {
    return false;
  }
}

const toInt = (o: number[]): number => ((o[0] << 24) >>> 0) + (o[1] << 16) + (o[2] << 8) + o[3];
const fromInt = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
const mask = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** True when the whole of `cidr` lies inside `outer` (both a.b.c.d/n). */
export function cidrWithin(cidr: Cidr, outer: string): boolean {
  const [ip, bits] = outer.split("/");
  const o = { network: toInt(parseIpv4(ip)), prefix: Number(bits) };
  return cidr.prefix >= o.prefix && ((toInt(parseIpv4(cidr.address)) & mask(o.prefix)) >>> 0) === o.network;
}

/** RFC 1918: not routed on the internet, so a wide range of it admits no stranger from there. */
export const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] as const;

/**
 * Narrowest prefix accepted for a public admin CIDR. A /16 (65,536 addresses) is already as much
 * as one ISP's dynamic pool or a company's egress range; anything wider admits other people's
 * networks to SSH and the Kubernetes API. Private RFC 1918 ranges may be wider (a LAN's 10.0.0.0/8).
 */
export const MIN_ADMIN_PREFIX = 16;

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  /** Canonical a.b.c.d/n. */
  readonly cidr: string;
}

/**
 * A real IPv4 CIDR: strict address, decimal prefix 0-32 without leading zeros, no host bits
 * (`203.0.113.7/24` is refused with its network 203.0.113.0/24), prefix >= minPrefix unless the
 * range is inside RFC 1918 space.
 */
export function parseCidr(value: string, minPrefix = MIN_ADMIN_PREFIX): Cidr {
  if (value.includes(",")) throw new Invalid(`${shown(value)}: one CIDR only, not a list`);
  const m = /^([^/]+)\/([^/]*)$/.exec(value);
  if (!m) throw new Invalid(`${shown(value)} is not an IPv4 CIDR: write address/prefix, e.g. 203.0.113.7/32`);
  const octets = parseIpv4(m[1]);
  if (!/^(0|[1-9]\d?)$/.test(m[2]) || Number(m[2]) > 32) {
    throw new Invalid(`${shown(value)}: the prefix must be a decimal number 0-32 without leading zeros`);
  }
  const prefix = Number(m[2]);
  const ip = toInt(octets);
  const network = (ip & mask(prefix)) >>> 0;
  if (network !== ip) {
    throw new Invalid(`${shown(value)} has host bits set: the network is ${fromInt(network)}/${prefix} (or use ${m[1]}/32 for that one address)`);
  }
  const cidr: Cidr = { address: m[1], prefix, cidr: `${m[1]}/${prefix}` };
  if (prefix < minPrefix && !PRIVATE_RANGES.some((r) => cidrWithin(cidr, r))) {
    throw new Invalid(`${shown(value)} is /${prefix}: wider than /${minPrefix} (${2 ** (32 - minPrefix)} addresses) is refused for public addresses; give your own address as /32 or your network (/${minPrefix} to /32)`);
  }
  return cidr;
}

/** Ranges a host address must not be in, with why. */
const FORBIDDEN_HOST_RANGES: readonly [string, string][] = [
  ["0.0.0.0/8", "\"this network\" (0.0.0.0 means any local address)"],
  ["127.0.0.0/8", "loopback (PM-14)"],
  ["169.254.0.0/16", "link-local (169.254.169.254 is the cloud metadata service)"],
  ["224.0.0.0/4", "multicast"],
  ["240.0.0.0/4", "reserved, including the broadcast address 255.255.255.255"],
];

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/**
 * An RFC 1123 DNS name of at least two labels: labels of 1-63 letters, digits and inner hyphens,
 * at most 253 in all, no trailing dot; the last label not all digits (RFC 3696 2: a numeric
 * "TLD" makes URL parsers read the name as an IPv4 address: `10.0.0.1.2` is "Invalid URL").
 */
export function parseDnsName(value: string): string {
  const what = "a DNS name (labels of letters, digits and inner hyphens, separated by dots, e.g. platform.example.com)";
  if (value.length === 0 || value.length > 253) throw new Invalid(`${shown(value)} is not ${what}: 1 to 253 characters`);
  const labels = value.split(".");
  if (labels.length < 2) throw new Invalid(`${shown(value)} is not ${what}: at least two labels`);
  for (const l of labels) {
    if (l.length > 63) throw new Invalid(`${shown(value)} is not ${what}: a label has more than 63 characters`);
    if (!LABEL.test(l)) throw new Invalid(`${shown(value)} is not ${what}`);
  }
  if (/^\d+$/.test(labels[labels.length - 1])) throw new Invalid(`${shown(value)} is neither an IPv4 address nor ${what}: its last label is a number`);
  return value.toLowerCase();
}

export function isDnsName(value: string): boolean {
  try {
    parseDnsName(value);
    return /^[a-z0-9.-]+$/.test(value);
  } catch {
    return false;
  }
}

/** Names that never reach the host from elsewhere: loopback (RFC 6761) and mDNS (RFC 6762). */
function localName(name: string): string | undefined {
  if (name === "localhost" || name.endsWith(".localhost")) return "resolves to loopback (RFC 6761)";
  if (name.endsWith(".local")) return "is multicast DNS (RFC 6762): other hosts, pods and certificate authorities cannot resolve it";
  if (name.endsWith(".invalid")) return "never resolves (RFC 6761)";
  return undefined;
}

/**
 * The homelab host: a strict IPv4 address outside loopback, link-local, multicast, broadcast and
 * 0.0.0.0/8, or a DNS name not under .localhost/.local. IPv6 is not supported: the SSH
 * connection, the K3s TLS SANs and the node address the cluster hands out are IPv4 only.
 */
export function parseHostAddress(value: string): string {
  const syntax = (detail: string) => new Invalid(`must be an IPv4 address or a DNS name: ${detail}`);
  const reach = (detail: string) => new Invalid(`must be an address the cluster's pods can reach too, the host's LAN or public address: ${detail}`);
  if (value.includes(":")) throw syntax(`${shown(value)}: IPv6 addresses and host:port are not supported (the port is platform:sshPort)`);
  let address: string;
  if (/^[\d.]+$/.test(value) || /^0x/i.test(value)) {
    try {
      address = parseIpv4(value).join(".");
    } catch (e) {
      throw e instanceof Invalid ? syntax(e.message) : e;
    }
    for (const [range, why] of FORBIDDEN_HOST_RANGES) {
      if (cidrWithin({ address, prefix: 32, cidr: `${address}/32` }, range)) throw reach(`${shown(value)} is ${why}`);
    }
    return address;
  }
  const local = localName(value.toLowerCase());
  if (local) throw reach(`${shown(value)} ${local} (PM-14)`);
  try {
    return parseDnsName(value);
  } catch (e) {
    throw e instanceof Invalid ? syntax(e.message) : e;
  }
}

/**
 * platform:domain. dev: any DNS name (*.localhost resolves to 127.0.0.1 in browsers). oci and
 * homelab: the UIs are served to other machines, so not .localhost (loopback), .local (mDNS) or
 * .invalid. Private names such as .internal or .home.arpa are accepted (a platform CA covers them).
 */
export function parseDomain(value: string, environment: string): string {
  let name: string;
  try {
    name = parseDnsName(value.trim().toLowerCase());
  } catch (e) {
    throw e instanceof Invalid ? new Invalid(`must be a valid DNS name such as platform.example.com: ${e.message}`) : e;
  }
  if (environment !== "dev") {
    const local = localName(name);
    if (local) throw new Invalid(`${shown(value)} ${local}; on ${environment} the UIs are reached from other machines: use a name you control, e.g. platform.example.com`);
  }
  return name;
}

/**
 * platform:backupS3Endpoint: an http(s) URL without path, user or query; the port 1-65535; an
 * IPv4 host strict and not loopback (inside a pod that is the pod itself), link-local (the cloud
 * metadata service), multicast or 0.0.0.0/8. Names may be single-label (a LAN's `nas`).
 */
export function parseS3Endpoint(value: string): string {
  const m = /^(https?):\/\/([A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/.exec(value);
  if (!m) throw new Invalid(`must be an http(s) URL without a path, e.g. https://s3.eu-central-003.backblazeb2.com or http://192.168.1.20:9000, got ${shown(value)}`);
  const [, , host, port] = m;
  if (port !== undefined && (!/^[1-9]\d*$/.test(port) || Number(port) > 65535)) throw new Invalid(`the port must be 1-65535, got ${shown(port)}`);
  if (/^[\d.]+$/.test(host)) {
    const address = parseIpv4(host).join(".");
    for (const [range, why] of FORBIDDEN_HOST_RANGES) {
      if (cidrWithin({ address, prefix: 32, cidr: `${address}/32` }, range)) throw new Invalid(`${shown(host)} is ${why}: the backup pods could not reach an S3 service there`);
    }
  } else if (localName(host.toLowerCase()) || !host.split(".").every((l) => LABEL.test(l))) {
    throw new Invalid(`${shown(host)} is not a host name the backup pods can resolve`);
  }
  return value.replace(/\/$/, "");
}

/** Key types accepted in sshPublicKey, and the ones refused with why. */
export const SSH_KEY_TYPES = [
  "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
  // RSA keys sign with rsa-sha2-256/512 since OpenSSH 7.2; only the SHA-1 signature (also called
  // ssh-rsa) was disabled in 8.8. Accepted from 2048 bits.
  "ssh-rsa",
] as const;

function sshString(buf: Buffer, at: number): [Buffer, number] {
  if (at + 4 > buf.length) throw new Invalid("truncated");
  const len = buf.readUInt32BE(at);
  if (at + 4 + len > buf.length) throw new Invalid("truncated");
  return [buf.subarray(at + 4, at + 4 + len), at + 4 + len];
}

/**
 * One OpenSSH public key line: `<type> <base64> [comment]`, a known type, the body's own type
 * equal to the declared one. No options prefix (`command="…"`, `from=`): those belong to an
 * authorized_keys line we write ourselves. One trailing newline (from `< key.pub`) is dropped.
 */
export function parseSshPublicKey(value: string): string {
  const line = value.endsWith("\n") ? value.slice(0, -1).replace(/\r$/, "") : value;
  if (/[\r\n]/.test(line)) throw new Invalid("must be exactly one line (one key); a second line would become a second authorized key");
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line)) throw new Invalid("contains control characters");
  const [type, body, ...comment] = line.trim().split(/[ \t]+/);
  if (!(SSH_KEY_TYPES as readonly string[]).includes(type)) {
    const why = type === "ssh-dss" ? "DSA keys are no longer supported by OpenSSH (removed in 10.0)"
      : /=|^(no-|restrict|cert-authority)/.test(type ?? "") ? "an options prefix (command=, from=, no-pty, …) is not allowed"
      : `unknown key type ${shown(type ?? "", 30)}`;
    throw new Invalid(`must be an OpenSSH public key "<type> AAAA… [comment]" with type one of ${SSH_KEY_TYPES.join(", ")}: ${why}`);
  }
  if (body === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) throw new Invalid(`must be an OpenSSH public key: the part after ${type} is not base64`);
  const buf = Buffer.from(body, "base64");
  let inner: Buffer;
  let at: number;
  try {
    [inner, at] = sshString(buf, 0);
  } catch {
    throw new Invalid(`must be an OpenSSH public key: the ${type} body is truncated`);
  }
  if (inner.toString("latin1") !== type) throw new Invalid(`must be an OpenSSH public key: the body is a ${shown(inner.toString("latin1"), 30)} key, not ${type}`);
  if (type === "ssh-rsa") {
    try {
      const [, afterE] = sshString(buf, at);
      const [n] = sshString(buf, afterE);
      const bits = (n.length - (n[0] === 0 ? 1 : 0)) * 8;
      if (bits < 2048) throw new Invalid(`an RSA key of ${bits} bits is too weak; use 2048 bits or more, or better ssh-ed25519`);
    } catch (e) {
      throw e instanceof Invalid && e.message.startsWith("an RSA") ? e : new Invalid("must be an OpenSSH public key: the ssh-rsa body is truncated");
    }
  }
  return [type, body, ...comment].join(" ");
}

/** Printable text: no control character (a newline would split an htpasswd, env or credential-helper line). */
function assertNoControl(value: string): void {
  if (/[\x00-\x1f\x7f]/.test(value)) throw new Invalid("must not contain control characters such as a newline or tab (they split the lines our consumers write: htpasswd, the K3s environment file, git's credential helper)");
}

/**
 * A short list of the passwords tried first (the usual defaults and the top of breach lists),
 * compared on the letters alone and case-insensitively: `Password123!` is `password`.
 */
const COMMON = new Set([
  "password", "passwort", "admin", "administrator", "root", "changeme", "letmein", "welcome", "qwerty",
  "qwertz", "azerty", "asdf", "asdfgh", "asdfghjkl", "zxcvbn", "iloveyou", "secret", "default", "guest",
  "user", "test", "login", "master", "dragon", "monkey", "abc", "abcdef", "abcdefgh", "gitea", "argocd",
  "argo", "platform", "kubernetes", "registry", "docker", "pulumi", "ubuntu", "superuser", "trustno",
]);

export interface PasswordRule {
  /** @default 12 */
  readonly minLength?: number;
  /** bcrypt reads only the first 72 bytes: more would look stronger than it is. */
  readonly bcrypt?: boolean;
}

/** The lower bound for every password key; Gitea's own MIN_PASSWORD_LENGTH default is 8. */
export const MIN_PASSWORD_LENGTH = 12;

/**
 * A password: at least 12 characters (at least Gitea's default MIN_PASSWORD_LENGTH 8, which
 * `gitea admin user change-password` enforces at pod start), not only digits, at least 5 distinct
 * characters, not a common password with digits or symbols around it, no control characters.
 */
export function checkPassword(value: string, rule: PasswordRule = {}): void {
  const min = rule.minLength ?? MIN_PASSWORD_LENGTH;
  if (value.length === 0) throw new Invalid(`is empty; set at least ${min} characters, or \`pulumi config rm\` it to have one generated`);
  assertNoControl(value);
  if (value.trim() !== value) throw new Invalid("must not begin or end with whitespace (it is easily lost when copied)");
  if (value.length < min) throw new Invalid(`is too short: at least ${min} characters, or \`pulumi config rm\` it to have one generated`);
  if (rule.bcrypt && Buffer.byteLength(value, "utf8") > 72) throw new Invalid("is longer than 72 bytes: bcrypt ignores everything after the 72nd byte");
  if (/^\d+$/.test(value)) throw new Invalid("must not be digits only");
  if (new Set(value).size < 5) throw new Invalid("is too repetitive: use at least 5 different characters");
  const letters = value.toLowerCase().replace(/[^a-z]/g, "");
  // A repeated word ("adminadmin", "abcabcabc") counts as the word.
  const unit = /^(.+?)\1*$/.exec(letters)?.[1] ?? "";
  const repeated = letters.length >= 4 && unit.length < letters.length && (unit.length <= 4 || COMMON.has(unit));
  if (COMMON.has(letters) || repeated) throw new Invalid("is a common password (with digits or symbols added); choose another, or `pulumi config rm` it to have one generated");
}

/** The characters install-k3s.sh will write to the K3s environment file (its `case` refuses others). */
export const K3S_TOKEN_CHARS = /^[A-Za-z0-9._:+/=-]+$/;

/**
 * K3s join token: at least 16 characters (the secret half of K3s's own `k3s token generate` is
 * 16 characters; the token also derives the key that encrypts the cluster's bootstrap data, so a
 * short one can be guessed against the supervisor port or an exported datastore), only the
 * characters install-k3s.sh writes.
 */
export function checkK3sToken(value: string): void {
  if (value.length === 0) throw new Invalid("is empty; `pulumi config rm` it to have one generated");
  assertNoControl(value);
  if (!K3S_TOKEN_CHARS.test(value)) throw new Invalid("may contain only letters, digits and . _ : + / = - (what install-k3s.sh writes to the K3s environment file)");
  if (value.length < 16) throw new Invalid("is too short: at least 16 characters, or `pulumi config rm` it to have one generated");
}

/** An access key or similar token: non-empty, no whitespace or control characters. */
export function checkToken(value: string): void {
  if (value.length === 0) throw new Invalid("is empty");
  assertNoControl(value);
  if (/\s/.test(value)) throw new Invalid("must not contain whitespace");
}

/**
 * An unencrypted private key in PEM/OpenSSH armor (`< ~/.ssh/id_ed25519`). Passphrase-protected
 * keys cannot be used by the SSH connection; a public key in its place is the usual mistake.
 */
export function checkPrivateKey(value: string): void {
  const text = value.trim();
  if (text.length === 0) throw new Invalid("is empty");
  if (/^(ssh-|ecdsa-|sk-)/.test(text)) throw new Invalid("is a public key; give the private half: pulumi config set --secret platform:sshPrivateKey < ~/.ssh/id_ed25519");
  const begin = /^-----BEGIN ((?:OPENSSH |RSA |EC |DSA )?PRIVATE KEY)-----\r?\n/.exec(text);
  if (!begin) throw new Invalid("must be a private key file starting with -----BEGIN OPENSSH PRIVATE KEY----- (pulumi config set --secret platform:sshPrivateKey < ~/.ssh/id_ed25519)");
  if (!text.endsWith(`-----END ${begin[1]}-----`)) throw new Invalid(`must end with -----END ${begin[1]}----- (the whole file, e.g. < ~/.ssh/id_ed25519)`);
  if (/Proc-Type: 4,ENCRYPTED/.test(text)) throw new Invalid("is encrypted with a passphrase; the SSH connection cannot prompt for it");
}
