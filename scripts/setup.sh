#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine (as root), idempotently and quietly when
# everything is already there: Debian packages, npm dependencies, and the compiled package.
set -euo pipefail
cd "$(dirname "$0")/.."

# etcd-server and openssl: the end-to-end tests' API server; prometheus: the metrics test's scraper;
# iptables, ipset, nftables and xdp-tools (xdp-filter): the benchmarks.
# libbpf-dev, libelf-dev and zlib1g-dev: the static loader (bpf/loader.c).
APT_PACKAGES=(clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool iproute2 redis-server redis-tools openssh-server openssh-client
  etcd-server openssl prometheus
  iptables ipset nftables xdp-tools)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# calico-xdp keeps its pins in the host's bpffs and never mounts one itself; systemd mounts it at boot,
# a bare machine may not have.
grep -qs " /sys/fs/bpf bpf " /proc/mounts || mount -t bpf bpf /sys/fs/bpf

# npm ci only when the lock file changed since the last install.
stamp=node_modules/.package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi

# The dynamic provider loads pulumi-calico-xdp/provider from the program's node_modules, as an
# installed package would; from this repository that name is the repository itself.
ln -sfn .. node_modules/pulumi-calico-xdp

npm run --silent build
