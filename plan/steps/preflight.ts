/**
 * Preflight: changes nothing. Reads what the rollout relies on and fails with every problem found
 * at once: root through sudo, OS family, hostname, ports, free disk. Clock skew is measured by the
 * worker, which compares the host's clock with its own around the call. A sudo that needs a
 * password or a tty fails earlier, in the SSH layer, before this script starts.
 */
import { quote } from '../shell.js';
import type { ClusterSpec, HostSpec } from '../spec.js';
import { hasRole } from '../topology.js';
import type { StepRendering } from '../types.js';

/** A port the host must have free, unless the named process (kboot's own unit) already holds it. */
interface PortClaim {
  port: number;
  owner: string;
}

function portClaims(spec: ClusterSpec, host: HostSpec): PortClaim[] {
  const claims: PortClaim[] = [];
  if (hasRole(host, 'etcd')) {
    claims.push({ port: spec.etcd.clientPort, owner: 'etcd' }, { port: spec.etcd.peerPort, owner: 'etcd' });
  }
  if (hasRole(host, 'master')) {
    claims.push(
      { port: spec.kubernetes.apiPort, owner: 'kube-apiserver' },
      { port: 10251, owner: 'kube-scheduler' },
      { port: 10252, owner: 'kube-controller-manager' },
    );
  }
  if (hasRole(host, 'node')) claims.push({ port: 10250, owner: 'kubelet' }, { port: 10248, owner: 'kubelet' });
  return claims;
}

/** Minimum free space under the data roots, in MiB. */
const MIN_FREE_MIB = 512;

/** The check that the script runs as root: every later step writes under /etc and starts units. */
function rootCheck(spec: ClusterSpec, host: HostSpec): string {
  const user = host.ssh?.user ?? spec.ssh.user;
  if (host.ssh?.sudo ?? spec.ssh.sudo) {
    return `[ "$(id -u)" = 0 ] || problems+=("sudo did not make the script root: it runs as $(id -un); check the sudoers entry of user "${quote(user)})`;
  }
  return `[ "$(id -u)" = 0 ] || problems+=("the script runs as $(id -un), not root, and ssh.sudo is off for this host; set ssh.sudo: true or log in as root")`;
}

export function renderPreflight(spec: ClusterSpec, host: HostSpec): StepRendering {
  const ports = portClaims(spec, host)
    .map(({ port, owner }) => `kboot_port_free ${port} ${quote(owner)}`)
    .join('\n');
  const dataRoots = [hasRole(host, 'etcd') ? '/var/lib' : '', hasRole(host, 'node') ? spec.docker.dataRoot : '']
    .filter(Boolean)
    .map((root) => `kboot_disk_free ${quote(root)}`)
    .join('\n');
  const script = `problems=()
${rootCheck(spec, host)}
. /etc/os-release 2>/dev/null || problems+=("/etc/os-release is missing: cannot tell the OS family")
case " \${ID:-} \${ID_LIKE:-} " in
  *" rhel "*|*" centos "*|*" fedora "*) ;;
  *) problems+=("OS family is \${ID:-unknown}, expected the RHEL family (CentOS, RHEL, Fedora)") ;;
esac
command -v yum >/dev/null || problems+=("yum is not installed")
command -v systemctl >/dev/null || problems+=("systemctl is not installed: kboot needs systemd")
actual=$(hostname)
expected=${quote(host.name)}
[ "$actual" = "$expected" ] || problems+=("hostname is $actual, the spec names this host $expected")
kboot_port_free() {
  local holder
  holder=$(ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:(("\\([^"]*\\)".*/\\1/p' | head -n1)
  # The kernel keeps 15 characters of a process name: kube-controller-manager shows as kube-controller.
  if [ -n "$holder" ] && [ "$holder" != "\${2:0:15}" ]; then problems+=("port $1 is held by $holder, needed by $2"); fi
}
kboot_disk_free() {
  local dir=$1 free
  while [ ! -d "$dir" ]; do dir=$(dirname "$dir"); done
  free=$(df -Pm "$dir" | awk 'NR==2 {print $4}')
  if [ "\${free:-0}" -lt ${MIN_FREE_MIB} ]; then problems+=("only \${free}MiB free under $1, need ${MIN_FREE_MIB}MiB"); fi
}
${ports}
${dataRoots}
if [ \${#problems[@]} -gt 0 ]; then printf 'preflight: %s\\n' "\${problems[@]}" >&2; exit 1; fi`;
  return {
    step: 'preflight',
    host: host.name,
    title: 'Preflight checks',
    phase: 'preflight',
    files: [],
    blocks: [],
    ensures: [],
    units: [],
    verify: [{ description: 'host is ready for the rollout', script, timeoutSeconds: 0, intervalSeconds: 1 }],
  };
}
