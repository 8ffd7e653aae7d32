#!/usr/bin/env bash
# Oracle's Ubuntu images end INPUT and FORWARD with REJECT in /etc/iptables/rules.v4, which breaks
# the Kubernetes API, NodePorts and pod traffic. Accept what K3s needs ahead of those rules and persist.
# Inputs (environment): POD_CIDR, SERVICE_CIDR, VCN_CIDR, TCP_PORTS (space separated), UDP_PORTS.
set -euo pipefail

pod_cidr="${POD_CIDR:-10.42.0.0/16}"
service_cidr="${SERVICE_CIDR:-10.43.0.0/16}"
vcn_cidr="${VCN_CIDR:-10.0.0.0/16}"
tcp_ports="${TCP_PORTS:-80 443 6443 10250}"
udp_ports="${UDP_PORTS:-8472 51820 51821}"

# Inserts a rule at the top of a chain unless an identical one exists (idempotent on re-runs).
accept() {
  local chain="$1"; shift
  if ! iptables -C "$chain" "$@" -j ACCEPT 2>/dev/null; then
    iptables -I "$chain" 1 "$@" -j ACCEPT
  fi
}

for port in $tcp_ports; do accept INPUT -p tcp --dport "$port"; done
for port in $udp_ports; do accept INPUT -s "$vcn_cidr" -p udp --dport "$port"; done
accept INPUT -p tcp --dport 30000:32767
for cidr in "$pod_cidr" "$service_cidr"; do
  accept INPUT -s "$cidr"
  accept FORWARD -s "$cidr"
  accept FORWARD -d "$cidr"
done

if command -v netfilter-persistent >/dev/null 2>&1; then
  netfilter-persistent save
else
  mkdir -p /etc/iptables
  iptables-save > /etc/iptables/rules.v4
fi
echo "oci-firewall: K3s ports accepted and saved"
