/**
 * docker on a node, after flannel: a drop-in orders docker after flanneld and feeds it flannel's
 * options (--bip, --mtu), and the storage options set the driver and data root before docker's
 * first start.
 *
 * Two states that a docker started before kboot leaves behind are handled here:
 * - Storage. A docker that already initialized other storage (the package's default loop-lvm,
 *   another driver, thin pool or data root) cannot switch without losing its images, so the step
 *   fails before it changes anything, unless docker.allowDataRootWipe lets it wipe that data root.
 * - Network. A docker started before flannel had a lease put docker0 on its default 172.17.0.1/16.
 *   The stale bridge and its masquerade rule are removed and docker is started again, so docker0
 *   gets the lease's address and MTU, which the verification compares.
 */
import { quote } from '../shell.js';
import type { ClusterSpec, HostSpec } from '../spec.js';
import type { Ensure, Probe, StepRendering } from '../types.js';
import { environmentFile, MANAGED_HEADER, unitActive } from './common.js';

export const DOCKER_DROP_IN = '/etc/systemd/system/docker.service.d/10-kboot-flannel.conf';
export const DOCKER_STORAGE = '/etc/sysconfig/docker-storage';

/** docker 1.13's data root when no --graph is given. */
const DEFAULT_DATA_ROOT = '/var/lib/docker';

/**
 * Exits 0 when docker0's address is the first address of the flannel lease and its MTU is the
 * lease's; otherwise prints both and exits 1.
 */
export const DOCKER_BRIDGE_MATCHES_LEASE = `(
  . /run/flannel/subnet.env
  actual=$(ip -4 -o addr show dev docker0 2>/dev/null | awk '{print $4}' | head -n1)
  mtu=$(cat /sys/class/net/docker0/mtu 2>/dev/null || true)
  if [ "$actual" != "$FLANNEL_SUBNET" ] || [ "$mtu" != "$FLANNEL_MTU" ]; then
    echo "docker0 has \${actual:-no address} mtu \${mtu:-none}, flannel lease is $FLANNEL_SUBNET mtu $FLANNEL_MTU" >&2
    exit 1
  fi
)`;

export function dockerStorageOptions(spec: ClusterSpec): string {
  const { storageDriver, dataRoot, storageOptions } = spec.docker;
  return [`--storage-driver=${storageDriver}`, `--graph=${dataRoot}`, ...storageOptions.map((option) => `--storage-opt=${option}`)].join(' ');
}

/** Returns the thin pool device of a devicemapper spec, or '' for loop-lvm and other drivers. */
function thinPoolDevice(spec: ClusterSpec): string {
  const option = spec.docker.storageOptions.find((candidate) => candidate.startsWith('dm.thinpooldev='));
  return spec.docker.storageDriver === 'devicemapper' && option ? option.slice('dm.thinpooldev='.length) : '';
}

/** Describes the storage the spec requests, in the words `docker info` uses. */
function describeDesiredStorage(spec: ClusterSpec): string {
  const { storageDriver, dataRoot } = spec.docker;
  if (storageDriver !== 'devicemapper') return `${storageDriver} with data root ${dataRoot}`;
  const pool = thinPoolDevice(spec);
  const layout = pool ? `on thin pool ${pool}` : 'loop-lvm';
  return `devicemapper ${layout} with data root ${dataRoot}`;
}

/**
 * Shell functions that find docker data the spec's storage would abandon or could not use.
 * `kboot_docker_storage_conflicts` prints one `ROOT<TAB>what is there` line per such data root and
 * exits 1 when there is none. A running docker is read through `docker info`. A stopped one is
 * read from the driver folders under the data roots it may have used: the spec's, docker's
 * default, and the one the current /etc/sysconfig/docker-storage names.
 */
function storageConflictFunctions(spec: ClusterSpec): string {
  const pool = thinPoolDevice(spec);
  return `want_driver=${quote(spec.docker.storageDriver)} want_root=${quote(spec.docker.dataRoot)} want_pool=${quote(pool ? pool.split('/').pop() ?? '' : '')}
kboot_docker_storage_conflicts() {
  local info driver root pool loop images containers layout candidate dir seen= found=1
  if systemctl is-active --quiet docker && info=$(docker info 2>/dev/null); then
    driver=$(sed -n 's/^Storage Driver: //p' <<<"$info")
    root=$(sed -n 's/^Docker Root Dir: //p' <<<"$info")
    pool=$(sed -n 's/^ *Pool Name: //p' <<<"$info")
    loop=$(grep -c '^ *Data loop file:' <<<"$info")
    images=$(sed -n 's/^Images: //p' <<<"$info")
    containers=$(sed -n 's/^Containers: //p' <<<"$info")
    layout=
    if [ "$driver" = devicemapper ]; then
      if [ "$loop" -gt 0 ]; then layout=' loop-lvm'; pool=; else layout=" on thin pool $pool"; fi
    fi
    if [ "$driver" != "$want_driver" ] || [ "$root" != "$want_root" ] || { [ "$driver" = devicemapper ] && [ "$pool" != "$want_pool" ]; }; then
      printf '%s\\t%s\\n' "$root" "running with $driver$layout, data root $root (\${images:-?} images, \${containers:-?} containers)"
      return 0
    fi
    return 1
  fi
  root=$(sed -n 's/.*--graph[= ]\\([^ "]*\\).*/\\1/p' ${quote(DOCKER_STORAGE)} 2>/dev/null | head -n1)
  for candidate in "$want_root" ${quote(DEFAULT_DATA_ROOT)} \${root:+"$root"}; do
    case " $seen " in *" $candidate "*) continue ;; esac
    seen="$seen $candidate"
    [ -d "$candidate" ] || continue
    for dir in devicemapper overlay2 overlay btrfs vfs aufs zfs; do
      [ -d "$candidate/$dir" ] || continue
      if [ "$candidate" = "$want_root" ] && [ "$dir" = "$want_driver" ]; then
        # The same driver in the same place: only loop-lvm against a thin pool differs.
        if [ "$dir" = devicemapper ] && [ -n "$want_pool" ] && [ -e "$candidate/devicemapper/devicemapper/data" ]; then
          printf '%s\\t%s\\n' "$candidate" "$candidate holds devicemapper loop-lvm data"
          found=0
        fi
        continue
      fi
      printf '%s\\t%s\\n' "$candidate" "$candidate holds $dir data"
      found=0
    done
  done
  return $found
}`;
}

function storageEnsure(spec: ClusterSpec, host: HostSpec): Ensure {
  const storageFile = environmentFile(DOCKER_STORAGE, [['DOCKER_STORAGE_OPTIONS', dockerStorageOptions(spec)]]);
  const content = storageFile.content.replace(/\n$/, '');
  const functions = storageConflictFunctions(spec);
  const found = `$(cut -f2 <<<"$conflicts" | paste -sd ';' | sed 's/;/; /g')`;
  const roots = `$(cut -f1 <<<"$conflicts" | paste -sd ' ')`;
  const refusal = `kboot_fail "docker on ${host.name}: ${found}; the spec asks for ${describeDesiredStorage(spec)}, which needs wiping the docker data root ${roots} and deletes its images and containers. Nothing was changed: set docker.allowDataRootWipe: true to let kboot wipe it, or move the data off ${host.name} first"`;
  // The roots come from docker or from the host's folders, and a wipe never touches a system folder.
  const wipe = `systemctl stop docker || kboot_fail "stop docker on ${host.name} to wipe its data root"
    while IFS=$'\\t' read -r root what; do
      case "$root" in
        /|/bin|/boot|/dev|/etc|/home|/lib|/lib64|/opt|/proc|/root|/run|/sbin|/srv|/sys|/tmp|/usr|/var|/var/lib|'') kboot_fail "not wiping docker data root '$root' on ${host.name}: it is a system folder" ;;
      esac
      find "$root" -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} +
      [ -z "$(ls -A "$root")" ] || kboot_fail "wipe docker data root $root on ${host.name}: files on another file system are left, unmount them first"
      echo "kboot: wiped docker data root $root ($what)"
    done <<<"$conflicts"`;
  return {
    description: `docker storage: ${describeDesiredStorage(spec)}`,
    check: `${functions}
kboot_same ${quote(DOCKER_STORAGE)} 0644 <<'KBOOT_STORAGE' || exit 1
${content}
KBOOT_STORAGE
! kboot_docker_storage_conflicts >/dev/null`,
    apply: `{
  ${functions}
  if conflicts=$(kboot_docker_storage_conflicts); then
    ${spec.docker.allowDataRootWipe ? wipe : refusal}
  fi
  kboot_file ${quote(DOCKER_STORAGE)} 0644 <<'KBOOT_STORAGE'
${content}
KBOOT_STORAGE
}`,
  };
}

/** Returns a probe that docker-storage and the running docker still have the spec's storage. */
function storageProbe(spec: ClusterSpec): Probe {
  const content = environmentFile(DOCKER_STORAGE, [['DOCKER_STORAGE_OPTIONS', dockerStorageOptions(spec)]]).content.replace(/\n$/, '');
  return {
    description: `docker storage is ${describeDesiredStorage(spec)}`,
    script: `${storageConflictFunctions(spec)}
kboot_same ${quote(DOCKER_STORAGE)} 0644 <<'KBOOT_STORAGE' || { echo "${DOCKER_STORAGE} differs from the spec" >&2; exit 1; }
${content}
KBOOT_STORAGE
if conflicts=$(kboot_docker_storage_conflicts); then cut -f2 <<<"$conflicts" >&2; exit 1; fi`,
    timeoutSeconds: 0,
    intervalSeconds: 1,
  };
}

/**
 * Removes a docker0 that holds an address outside the flannel lease, with the masquerade rule
 * docker added for it. docker 1.13 replaces the bridge address on its next start but leaves that
 * rule, which masquerades a subnet nothing uses any more, and an older docker refuses to start
 * with "bridge IPv4 does not match requested configuration".
 */
function staleBridgeEnsure(host: HostSpec): Ensure {
  const staleAddresses = `kboot_docker0_stale() {
  local lease address stale=1
  lease=$(sed -n 's/^FLANNEL_SUBNET=//p' /run/flannel/subnet.env 2>/dev/null | tr -d '"')
  [ -n "$lease" ] || return 1
  for address in $(ip -4 -o addr show dev docker0 2>/dev/null | awk '{print $4}'); do
    [ "$address" = "$lease" ] || { echo "$address"; stale=0; }
  done
  return $stale
}`;
  return {
    description: 'docker0 holds no address outside the flannel lease',
    check: `${staleAddresses}
test -s /run/flannel/subnet.env || exit 1
! kboot_docker0_stale >/dev/null`,
    apply: `{
  test -s /run/flannel/subnet.env || kboot_fail "no flannel lease in /run/flannel/subnet.env on ${host.name}: flanneld must run before docker"
  ${staleAddresses}
  kboot_network() {
    local a b c d bits=\${1#*/} value mask
    IFS=. read -r a b c d <<<"\${1%/*}"
    mask=$(( bits == 0 ? 0 : (0xffffffff << (32 - bits)) & 0xffffffff ))
    value=$(( ((a << 24) | (b << 16) | (c << 8) | d) & mask ))
    echo "$(( value >> 24 & 255 )).$(( value >> 16 & 255 )).$(( value >> 8 & 255 )).$(( value & 255 ))/$bits"
  }
  stale=$(kboot_docker0_stale | paste -sd ' ')
  if systemctl is-active --quiet docker; then systemctl stop docker || kboot_fail "stop docker on ${host.name} to remove its stale bridge docker0 ($stale)"; fi
  if command -v iptables >/dev/null; then
    for address in $stale; do
      network=$(kboot_network "$address")
      for attempt in 1 2 3 4 5; do iptables -t nat -D POSTROUTING -s "$network" ! -o docker0 -j MASQUERADE 2>/dev/null || break; done
    done
  fi
  ip link set docker0 down 2>/dev/null
  ip link delete docker0 || kboot_fail "delete the stale bridge docker0 ($stale) on ${host.name}"
  echo "kboot: removed stale bridge docker0 $stale"
}`,
  };
}

export function renderDocker(spec: ClusterSpec, host: HostSpec): StepRendering {
  const dropIn = [
    MANAGED_HEADER.trimEnd(),
    '[Unit]',
    'After=flanneld.service',
    'Requires=flanneld.service',
    '',
    '[Service]',
    'EnvironmentFile=-/run/flannel/docker',
    '',
  ].join('\n');
  return {
    step: 'docker',
    host: host.name,
    title: 'Configure docker on the flannel network and start it',
    phase: 'docker',
    // docker-storage is written by the storage ensure, after it has checked what docker already holds.
    files: [{ path: DOCKER_DROP_IN, content: dropIn, mode: '0644' }],
    blocks: [],
    ensures: [storageEnsure(spec, host), staleBridgeEnsure(host)],
    units: [{ unit: 'docker', readsFiles: [DOCKER_DROP_IN, DOCKER_STORAGE], restartUnless: DOCKER_BRIDGE_MATCHES_LEASE }],
    verify: [
      unitActive('docker'),
      storageProbe(spec),
      // docker sets docker0 up before it reports ready, so a mismatch now is a setting, not a delay.
      { description: 'docker0 matches the flannel lease', script: DOCKER_BRIDGE_MATCHES_LEASE, timeoutSeconds: 10, intervalSeconds: 1 },
    ],
  };
}
