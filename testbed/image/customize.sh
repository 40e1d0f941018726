#!/usr/bin/env bash
# Runs INSIDE the debootstrapped chroot (as root) to turn a minbase Debian 12
# into a systemd image for containers. Called by testbed/base-image.sh with
# SOURCE_DATE_EPOCH, HELLO_DEBIAN_MIRROR and HELLO_DEBIAN_SECURITY_MIRROR set.
# Changing this file changes the image tag.
set -euo pipefail
export LC_ALL=C DEBIAN_FRONTEND=noninteractive

: "${SOURCE_DATE_EPOCH:?}"
mirror="${HELLO_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security_mirror="${HELLO_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

# --- apt ---------------------------------------------------------------------
cat >/etc/apt/sources.list <<EOF
deb ${mirror} bookworm main
deb ${mirror} bookworm-updates main
deb ${security_mirror} bookworm-security main
EOF
cat >/etc/apt/apt.conf.d/90hello-no-recommends <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
# Keep the containers small: downloaded .debs are deleted after each dpkg run. apt's binary
# package cache (pkgcache.bin) is kept: without it every apt run, and so every apt task of Ansible,
# parses all package lists again (0.87 s instead of 0.33 s per cache open, measured in a lab
# container; docs/testing.md, Timings).
cat >/etc/apt/apt.conf.d/90hello-clean <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
EOF

# --- locale ------------------------------------------------------------------
sed -i -e 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' /etc/locale.gen
grep -q '^en_US.UTF-8 UTF-8' /etc/locale.gen || echo 'en_US.UTF-8 UTF-8' >>/etc/locale.gen
locale-gen
printf 'LANG=en_US.UTF-8\n' >/etc/default/locale

# --- systemd in a container ----------------------------------------------------
# Units that need real hardware, a kernel to configure or a console. Masking is
# a symlink to /dev/null, which works without a running systemd.
mask_units=(
  systemd-udevd.service
  systemd-udevd-control.socket
  systemd-udevd-kernel.socket
  systemd-udev-trigger.service
  systemd-udev-settle.service
  getty@tty1.service
  console-getty.service
  systemd-remount-fs.service
  systemd-modules-load.service
  systemd-sysctl.service
  systemd-firstboot.service
  systemd-hwdb-update.service
  sys-kernel-config.mount
  sys-kernel-debug.mount
  sys-kernel-tracing.mount
  sys-fs-fuse-connections.mount
  dev-hugepages.mount
  dev-mqueue.mount
  proc-sys-fs-binfmt_misc.automount
  proc-sys-fs-binfmt_misc.mount
  systemd-binfmt.service
  e2scrub_reap.service
  e2scrub_all.timer
  apt-daily.timer
  apt-daily-upgrade.timer
)
for unit in "${mask_units[@]}"; do
  ln -sf /dev/null "/etc/systemd/system/${unit}"
done
# Boot to multi-user, no graphical target.
ln -sf /lib/systemd/system/multi-user.target /etc/systemd/system/default.target

# Empty machine-id: systemd generates a fresh one in every container.
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id
ln -s /etc/machine-id /var/lib/dbus/machine-id

# Docker manages these; do not leak the build host's into the image.
: >/etc/resolv.conf
printf 'localhost\n' >/etc/hostname

# --- sshd, as in a cloud image ------------------------------------------------------
# openssh-server is in the image (packages.txt) like on any cloud host; its host keys must differ per
# host, so the image has none and each container creates its own at first boot, before sshd starts
# (what cloud-init does on a cloud image). The bastion role hardens sshd.
rm -f /etc/ssh/ssh_host_*
cat >/etc/systemd/system/hello-ssh-host-keys.service <<'EOF'
[Unit]
Description=Create this host's SSH host keys (test bed image)
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=ssh.service
EOF
mkdir -p /etc/systemd/system/ssh.service.wants
ln -sf /etc/systemd/system/hello-ssh-host-keys.service /etc/systemd/system/ssh.service.wants/hello-ssh-host-keys.service

# --- reproducibility and size ---------------------------------------------------
# Password-change dates ("days since epoch") would otherwise be the build day.
days=$((SOURCE_DATE_EPOCH / 86400))
for f in /etc/shadow /etc/shadow-; do
  if [[ -f "$f" ]]; then
    sed -i -E "s/^([^:]*:[^:]*:)[0-9]+:/\1${days}:/" "$f"
  fi
done
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/partial/*
rm -f /var/cache/debconf/*-old /var/lib/dpkg/*-old /etc/*- 2>/dev/null || true
rm -f /var/cache/ldconfig/aux-cache
rm -rf /var/log/* /var/tmp/* /tmp/* /root/.bash_history
# Log directories that packages expect to exist (no /var/log/journal: the
# journal stays volatile in containers).
mkdir -p /var/log/apt
