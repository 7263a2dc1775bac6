#!/bin/bash
# Boot of one kboot sandbox host. The fleet runs it as
#   ip netns exec kb-<fleet>-<host> unshare --pid --fork --mount --uts --propagation private --mount-proc \
#     /bin/bash <root>/<fleet>/host-boot.sh <host dir>
# so it starts as PID 1 of the host's own PID, mount and UTS namespaces, inside the host's network
# namespace (already wired by the fleet). It gives the host a private disk, private /etc, /usr, /var,
# /root, /home, /opt and /tmp (overlays over the machine's own directories) and a private /run. It
# creates the users and the sshd configuration of a kboot target host. Then it execs the systemd
# stand-in, which starts sshd.service.
#
# <host dir>/boot.env sets HOST_NAME, HOST_ADDRESS, SANDBOX_ROOT, DISK_MIB, FLEET_PUBLIC_KEY,
# and STANDIN_BIN_DIR. The systemd stand-in links systemctl, yum and rpm into the host's /usr/bin
# itself when it starts. The fleet waits for <host dir>/hostkeys/ready.
set -euo pipefail

host_dir=$1
# shellcheck source=/dev/null
. "$host_dir/boot.env"

log() { echo "host-boot $HOST_NAME: $*"; }

# The disk is a size-limited tmpfs, so filling a host's disk (a fault the fleet injects) cannot fill the
# machine's disk, and everything the host wrote is gone when its mount namespace ends.
disk=$host_dir/disk
mkdir -p "$disk"
mount -t tmpfs -o "size=${DISK_MIB}m,mode=0755" kboot-disk "$disk"

# Hides every entry of the lower dir $1 in the overlay whose upper dir is $2, except the relative path
# $3 (and the directories leading to it), by placing overlayfs whiteouts (character device 0/0) in the
# upper dir before the overlay is mounted. Directories on the kept path keep the lower owner and mode.
hide_lower_except() {
  local lower=$1 upper=$2 keep=$3 first rest entry name
  first=${keep%%/*}
  rest=${keep#"$first"}
  rest=${rest#/}
  mkdir -p "$upper"
  chmod --reference="$lower" "$upper"
  chown --reference="$lower" "$upper"
  for entry in "$lower"/* "$lower"/.[!.]* "$lower"/..?*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    name=${entry##*/}
    if [ -n "$first" ] && [ "$name" = "$first" ]; then
      if [ -n "$rest" ] && [ -d "$entry" ] && [ ! -L "$entry" ]; then
        hide_lower_except "$entry" "$upper/$name" "$rest"
      fi
      continue
    fi
    mknod "$upper/$name" c 0 0
  done
}

# The stand-in binaries are served to the host from /usr/libexec/kboot-sandbox, not from where they
# were built (often under /root, which a host keeps at mode 0550 as CentOS does): daemons that run as
# their own user, like etcd with User=etcd, must be able to reach them. Held here before the overlays
# hide the build path, moved into place after.
mkdir -p "$disk/standin-bin"
mount --bind "$STANDIN_BIN_DIR" "$disk/standin-bin"

for dir in etc usr var root home opt tmp; do
  mkdir -p "$disk/$dir/upper" "$disk/$dir/work"
  # The merged directory takes its owner and mode from the upper dir, and /tmp must stay 1777.
  chmod --reference="/$dir" "$disk/$dir/upper"
  chown --reference="/$dir" "$disk/$dir/upper"
  if [ "$dir" = root ]; then
    # The machine's root home (dotfiles, tool caches, credentials) is not the host's.
    hide_lower_except /root "$disk/root/upper" ''
  fi
  mount -t overlay overlay -o "lowerdir=/$dir,upperdir=$disk/$dir/upper,workdir=$disk/$dir/work" "/$dir"
done
mkdir -p /usr/libexec/kboot-sandbox
mount --move "$disk/standin-bin" /usr/libexec/kboot-sandbox
mount -o remount,bind,ro /usr/libexec/kboot-sandbox
STANDIN_BIN_DIR=/usr/libexec/kboot-sandbox
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mkdir -p /run/lock /run/sshd
log "mounted overlays on /etc /usr /var /root /home /opt /tmp, tmpfs on /run (disk ${DISK_MIB} MiB)"

hostname "$HOST_NAME"
echo "$HOST_NAME" >/etc/hostname
cat >/etc/hosts <<EOF
127.0.0.1   localhost localhost.localdomain
::1         localhost localhost.localdomain
$HOST_ADDRESS $HOST_NAME
EOF
# The host has no name server. glibc's default (127.0.0.1) fails at once, where the machine's own
# name server would be reached only through a route the host does not have, and time out.
cat >/etc/resolv.conf <<EOF
# kboot sandbox host: no name server; names resolve through /etc/hosts only.
EOF
# The host presents itself as the CentOS 7 machine its stand-ins (yum, rpm, systemd) imitate, so
# kboot's preflight reads the same OS identity it reads on a real fleet.
rm -f /etc/os-release /etc/redhat-release /etc/centos-release
cat >/etc/os-release <<'EOF'
NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core) (kboot sandbox host)"
EOF
echo 'CentOS Linux release 7.9.2009 (Core)' >/etc/centos-release
ln -s centos-release /etc/redhat-release
rm -f /etc/machine-id
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >/etc/machine-id
echo >>/etc/machine-id

# Root's shell startup files as a fresh CentOS 7 host has them.
cat >/root/.bash_profile <<'EOF'
# .bash_profile
if [ -f ~/.bashrc ]; then
	. ~/.bashrc
fi
PATH=$PATH:$HOME/bin
export PATH
EOF
cat >/root/.bashrc <<'EOF'
# .bashrc
alias rm='rm -i'
alias cp='cp -i'
alias mv='mv -i'
if [ -f /etc/bashrc ]; then
	. /etc/bashrc
fi
EOF
chmod 0550 /root

# Users: root, and kboot with passwordless sudo. '*' disables password login without locking the
# account, because sshd rejects public keys for locked ('!') accounts when PAM is off.
if ! getent passwd kboot >/dev/null; then
  useradd --create-home --shell /bin/bash kboot
fi
usermod --password '*' kboot
mkdir -p /etc/sudoers.d
echo 'kboot ALL=(ALL) NOPASSWD: ALL' >/etc/sudoers.d/kboot
chmod 0440 /etc/sudoers.d/kboot

mkdir -p /etc/ssh/authorized_keys
chmod 0755 /etc/ssh/authorized_keys
for user in root kboot; do
  echo "$FLEET_PUBLIC_KEY" >"/etc/ssh/authorized_keys/$user"
  chmod 0644 "/etc/ssh/authorized_keys/$user"
done

# Fresh host keys: the machine's own are in the lower /etc and must not be shared by every host.
# ed25519 and ecdsa only: an RSA 3072 key takes about 0.5 s of CPU, which would add about 13 s to a
# 50-host boot on 2 cores (estimate from one ssh-keygen run).
rm -f /etc/ssh/ssh_host_*
ssh-keygen -q -t ed25519 -N '' -C "root@$HOST_NAME" -f /etc/ssh/ssh_host_ed25519_key
ssh-keygen -q -t ecdsa -b 256 -N '' -C "root@$HOST_NAME" -f /etc/ssh/ssh_host_ecdsa_key

rm -rf /etc/ssh/sshd_config.d
cat >/etc/ssh/sshd_config <<EOF
# sshd configuration of kboot sandbox host $HOST_NAME, written by the fleet at boot.
ListenAddress $HOST_ADDRESS:22
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
AuthorizedKeysFile /etc/ssh/authorized_keys/%u
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PidFile /run/sshd.pid
# A rollout opens many connections and sessions at once.
MaxStartups 200:30:400
MaxSessions 100
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
EOF

# The machine's own unit enablement (Debian's ssh, etcd, postgresql...) is not the host's: a fresh
# CentOS host enables none of the services kboot installs, so the host starts from an empty
# /etc/systemd/system with only sshd.service enabled.
find /etc/systemd/system -mindepth 1 -delete
mkdir -p /etc/systemd/system/multi-user.target.wants /var/log/kboot-sandbox
# As CentOS 7 ships it, Type=notify (Debian's sshd sends READY=1 too), so that `systemctl start sshd`
# returns only once sshd listens. RestartSec is shorter than CentOS's 42 s so a failed sshd returns
# within a test's patience.
cat >/etc/systemd/system/sshd.service <<'EOF'
# sshd of a kboot sandbox host, written by the fleet at boot (real OpenSSH from the machine).
[Unit]
Description=OpenSSH server daemon
After=network.target

[Service]
Type=notify
ExecStartPre=/bin/mkdir -p /run/sshd
ExecStart=/usr/sbin/sshd -D -e
ExecReload=/bin/kill -HUP $MAINPID
KillMode=process
Restart=on-failure
RestartSec=1

[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/sshd.service /etc/systemd/system/multi-user.target.wants/sshd.service

# Publish the host keys to the fleet (which writes known_hosts from them), then hide the sandbox root:
# a host must not see the fleet's private key or other hosts' state.
mkdir -p "$host_dir/hostkeys"
cp /etc/ssh/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ecdsa_key.pub "$host_dir/hostkeys/"
touch "$host_dir/hostkeys/ready"
mount -t tmpfs -o size=1m,mode=0755,ro kboot-hidden "$SANDBOX_ROOT"

cd /
log "exec $STANDIN_BIN_DIR/systemd"
exec "$STANDIN_BIN_DIR/systemd"
