#!/usr/bin/env bash
# Oracle's Ubuntu images end INPUT and FORWARD with REJECT in /etc/iptables/rules.v4, which breaks
# the Kubernetes API, NodePorts and pod traffic. Accept what K3s needs ahead of those rules and persist.
# Inputs (environment): POD_CIDR, SERVICE_CIDR, VCN_CIDR, TCP_PORTS (space separated), UDP_PORTS,
# RULES_V4 (where the rules are saved; tests only).
set -euo pipefail

pod_cidr="${POD_CIDR:-10.42.0.0/16}"
service_cidr="${SERVICE_CIDR:-10.43.0.0/16}"
vcn_cidr="${VCN_CIDR:-10.0.0.0/16}"
tcp_ports="${TCP_PORTS:-80 443 6443 10250}"
udp_ports="${UDP_PORTS:-8472 51820 51821}"
rules_v4="${RULES_V4:-/etc/iptables/rules.v4}"

# Inserts a rule at the top of a chain unless an identical one exists (idempotent on re-runs).
accept() {
  local chain="$1"; shift
  if ! iptables -C "$chain" "$@" -j ACCEPT 2>/dev/null; then
    iptables -I "$chain" 1 "$@" -j ACCEPT
  fi
}

for port in $tcp_ports; do accept INPUT -p tcp --dport "$port"; done
for port in $udp_ports; do accept INPUT -s "$vcn_cidr" -p udp --dport "$port"; done
accept INPUT -s "$vcn_cidr" -p tcp --dport 30000:32767
for cidr in "$pod_cidr" "$service_cidr"; do
  accept INPUT -s "$cidr"
  accept FORWARD -s "$cidr"
  accept FORWARD -d "$cidr"
done

# NodePorts only from the VCN, the pods and the node itself, whatever the security list says (#13.3):
# in mangle PREROUTING, before kube-proxy's DNAT turns them into pod ports (which the FORWARD
# accepts above let through from anywhere). The node's own connections go through OUTPUT.
# Pods never reach the instance metadata service: user_data holds the node's SSH host key (#13.4).
# OCI's DNS resolver is the same address, on 53: left alone.
iptables -t mangle -N PLATFORM-NODEPORTS 2>/dev/null || true
iptables -t mangle -F PLATFORM-NODEPORTS
for cidr in "$vcn_cidr" "$pod_cidr" "$service_cidr"; do iptables -t mangle -A PLATFORM-NODEPORTS -s "$cidr" -j RETURN; done
iptables -t mangle -A PLATFORM-NODEPORTS -m addrtype --src-type LOCAL -j RETURN
iptables -t mangle -A PLATFORM-NODEPORTS -j DROP
mangle() {
  iptables -t mangle -C PREROUTING "$@" 2>/dev/null || iptables -t mangle -I PREROUTING 1 "$@"
}
mangle -p tcp --dport 30000:32767 -m conntrack --ctstate NEW -j PLATFORM-NODEPORTS
mangle -s "$pod_cidr" -d 169.254.169.254/32 -p tcp --dport 80 -j DROP

# Persisted for netfilter-persistent.service, which restores rules.v4 at boot before the network
# (and K3s) comes up. Without K3s's own rules: the stack re-runs this on nodes where K3s runs, and
# a saved kube-router rule names an ipset that does not exist at boot, and iptables-restore fails
# on it. K3s rebuilds its chains when it starts. (What `netfilter-persistent save` does, filtered.)
mkdir -p "$(dirname "$rules_v4")"
saved="$(mktemp "$rules_v4.XXXXXX")"
iptables-save | grep -vE 'KUBE-|CNI-|FLANNEL-' > "$saved"
chmod 0640 "$saved"
mv -f "$saved" "$rules_v4"
echo "oci-firewall: K3s ports accepted, NodePorts from the VCN only, saved"
