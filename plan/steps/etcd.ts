/**
 * etcd member: /etc/etcd/etcd.conf with the full initial cluster, start etcd, and wait until it
 * runs and listens where etcd.conf sets. The quorum gate, not this step, waits for the cluster
 * to form.
 *
 * A member whose data dir contains a write-ahead log is never bootstrapped again: etcd ignores every
 * `initial-*` setting once it has data, and this step changes no membership for it. A member
 * without data looks at the cluster first:
 * - no other member answers: the cluster is being bootstrapped, so it starts as `new` with the
 *   initial cluster of etcd.conf;
 * - it is registered and ran before (a wiped or replaced disk): it is removed and added again and
 *   starts as `existing`, because starting it under its old identity with an empty log makes
 *   etcd refuse or panic. That needs a quorum, and without one the step fails and changes nothing;
 * - it is registered but never ran, or not registered yet (a new member): it joins as `existing`.
 * The `existing` settings go to /etc/etcd/kboot-membership.env, which a drop-in loads after
 * etcd.conf, so etcd.conf stays the same on every host and every run. The file is removed once
 * the member has data.
 */
import { quote } from '../shell.js';
import type { ClusterSpec, HostSpec } from '../spec.js';
import { etcdInitialCluster, hostsWithRole } from '../topology.js';
import type { Ensure, Probe, StepRendering } from '../types.js';
import { environmentFile, MANAGED_HEADER } from './common.js';

export const ETCD_CONF = '/etc/etcd/etcd.conf';
export const ETCD_MEMBERSHIP_ENV = '/etc/etcd/kboot-membership.env';
export const ETCD_DROP_IN = '/etc/systemd/system/etcd.service.d/10-kboot-membership.conf';

/** How long the step waits for etcd to start listening, and how long a starting etcd must stay up. */
const START_TIMEOUT_SECONDS = 60;
const STABLE_SECONDS = 3;

/**
 * Removes the join settings once the member has data. Left in place they would let a member whose
 * data dir is wiped again start under its old identity with an empty log, which etcd refuses or
 * panics on ("tocommit is out of range"). Without them it fails with "already bootstrapped", and
 * the membership ensure handles that.
 */
const REMOVE_JOIN_SETTINGS = `rm -f ${ETCD_MEMBERSHIP_ENV} && echo "kboot: etcd removed ${ETCD_MEMBERSHIP_ENV}: the member has data"`;

/** etcdctl with the v3 API and short timeouts, so a dead member costs seconds, not minutes. */
const ETCDCTL = 'ETCDCTL_API=3 etcdctl --dial-timeout=2s --command-timeout=5s';

interface MemberContext {
  spec: ClusterSpec;
  host: HostSpec;
  peerUrl: string;
}

/**
 * A shell function that exits 0 when something listens on the member's address (or every
 * address) for both the peer and the client port, and otherwise prints where etcd listens instead.
 */
function listeningFunction({ spec, host }: MemberContext): string {
  const { peerPort, clientPort } = spec.etcd;
  return `kboot_etcd_listening() {
  local port role addresses listening=yes
  for port in ${peerPort} ${clientPort}; do
    if [ "$port" = ${peerPort} ]; then role='its peers (ETCD_LISTEN_PEER_URLS)'; else role='its clients (ETCD_LISTEN_CLIENT_URLS)'; fi
    addresses=$(ss -Hltn "sport = :$port" 2>/dev/null | awk '{print $4}' | paste -sd ' ')
    case " $addresses " in
      *" ${host.address}:$port "*|*" 0.0.0.0:$port "*|*" *:$port "*|*" [::]:$port "*) ;;
      *) echo "etcd on ${host.name} listens on \${addresses:-nothing} for $role, not ${host.address}:$port as ${ETCD_CONF} sets"; listening=no ;;
    esac
  done
  [ $listening = yes ]
}`;
}

function membershipEnsure(context: MemberContext): Ensure {
  const { spec, host, peerUrl } = context;
  const { dataDir } = spec.etcd;
  const others = hostsWithRole(spec, 'etcd')
    .filter((member) => member.name !== host.name)
    .map((member) => `http://${member.address}:${spec.etcd.clientPort}`);
  const name = quote(host.name);
  const where = `etcd member ${host.name} has no data in ${dataDir}`;
  return {
    description: `etcd membership of ${host.name}`,
    check: `ls ${quote(dataDir)}/member/wal/*.wal >/dev/null 2>&1 && ! test -e ${quote(ETCD_MEMBERSHIP_ENV)}`,
    apply: `{
  if ls ${quote(dataDir)}/member/wal/*.wal >/dev/null 2>&1; then
    ${REMOVE_JOIN_SETTINGS}
  else
    systemctl stop etcd >/dev/null 2>&1
    systemctl reset-failed etcd >/dev/null 2>&1
    # Left-overs of failed starts (a snapshot without a log) would be read as this member's data.
    if [ -d ${quote(`${dataDir}/member`)} ]; then
      stale=${quote(dataDir)}.kboot-stale-$(date +%Y%m%dT%H%M%S)
      mv ${quote(dataDir)} "$stale" || kboot_fail "move the left-overs in ${dataDir} aside"
      echo "kboot: etcd moved ${dataDir} aside to $stale"
    fi
    # etcd serves /version only once its member has joined a cluster that reached quorum, so an
    # answer means the cluster exists, even if it has lost its quorum since.
    others=
    for url in ${others.map(quote).join(' ')}; do
      curl -fsS --max-time 3 "$url/version" >/dev/null 2>&1 && others="$others\${others:+,}$url"
    done
    if [ -z "$others" ]; then
      rm -f ${quote(ETCD_MEMBERSHIP_ENV)}
      echo "kboot: etcd ${host.name} bootstraps with the initial cluster: no other member has joined a cluster yet"
    elif ! members=$(${ETCDCTL} --endpoints="$others" member list 2>/tmp/kboot-etcd-members.err); then
      kboot_fail "${where}, and the members that answer ($others) cannot list the cluster's members: $(tail -n1 /tmp/kboot-etcd-members.err). Re-adding it needs a quorum. Nothing was changed: bring a majority of the members back, then apply again"
    else
      # member list lines: ID, STATUS, NAME, PEER ADDRS, CLIENT ADDRS, IS LEARNER
      self=$(awk -F', ' -v name=${name} -v peer=${quote(peerUrl)} '$3 == name || index(","$4",", ","peer",") {print; exit}' <<<"$members")
      total=$(grep -c . <<<"$members")
      healthy_urls=$(${ETCDCTL} --endpoints="$(awk -F', ' '$5 != "" {print $5}' <<<"$members" | paste -sd,)" endpoint health 2>&1 | sed -n 's/^\\([^ ]*\\) is healthy.*/\\1/p')
      healthy_names=$(awk -F', ' -v urls=" $(echo $healthy_urls) " '{n=split($5, u, ","); for (i = 1; i <= n; i++) if (index(urls, " " u[i] " ")) {print $3; break}}' <<<"$members" | paste -sd ' ')
      healthy=$(wc -w <<<"$healthy_names")
      self_id=$(cut -d, -f1 <<<"$self")
      self_clients=$(awk -F', ' '{print $5}' <<<"$self")
      if [ -n "$self" ] && [ -z "$self_clients" ]; then
        # Registered but never started: join under that registration.
        initial=$(awk -F', ' -v self_name=${name} -v self_peer=${quote(peerUrl)} -v spec=${quote(etcdInitialCluster(spec))} '
          BEGIN { k = split(spec, pairs, ","); for (i = 1; i <= k; i++) { split(pairs[i], p, "="); known[p[2]] = p[1] } }
          { n = split($4, urls, ","); for (i = 1; i <= n; i++) { u = urls[i]; name = $3; if (name == "") name = (u == self_peer ? self_name : known[u]); if (name == "") { print "?" u; exit 1 } out = out (out == "" ? "" : ",") name "=" u } }
          END { print out }' <<<"$members") || kboot_fail "${where}, and the member list has an unnamed member kboot cannot place: $initial"
        reason="member ${host.name} is registered (id $self_id) but never ran"
      else
        if [ -n "$self" ]; then need=$(( total / 2 + 1 )); else need=$(( (total + 1) / 2 + 1 )); fi
        if [ "$healthy" -lt "$need" ]; then
          kboot_fail "${where}\${self:+ and is registered in the member list (id $self_id)}: \${self:+removing and }adding it changes the membership, which needs a quorum of $need healthy members, and only $healthy of $total answer (\${healthy_names:-none}). Nothing was changed: bring a majority of the members back, then apply again"
        fi
        if [ -n "$self" ]; then
          ${ETCDCTL} --endpoints="$others" member remove "$self_id" >/dev/null || kboot_fail "remove etcd member ${host.name} (id $self_id), registered without data, from the cluster"
          echo "kboot: etcd removed member ${host.name} (id $self_id): registered but no data"
        fi
        added=$(${ETCDCTL} --endpoints="$others" member add ${name} --peer-urls=${quote(peerUrl)}) || kboot_fail "add etcd member ${host.name} (${peerUrl}) to the cluster"
        initial=$(sed -n 's/^ETCD_INITIAL_CLUSTER="\\(.*\\)"$/\\1/p' <<<"$added")
        [ -n "$initial" ] || kboot_fail "add etcd member ${host.name}: etcdctl member add printed no ETCD_INITIAL_CLUSTER: $added"
        reason="member ${host.name} was added to the running cluster as $(sed -n 's/^Member \\([0-9a-f]*\\) added.*/\\1/p' <<<"$added")"
      fi
      { echo "# Written by kboot: $reason."
        echo "# etcd reads these settings only while its data dir is empty."
        echo "ETCD_INITIAL_CLUSTER=\\"$initial\\""
        echo 'ETCD_INITIAL_CLUSTER_STATE="existing"'
      } > ${quote(`${ETCD_MEMBERSHIP_ENV}.tmp`)} && mv -f ${quote(`${ETCD_MEMBERSHIP_ENV}.tmp`)} ${quote(ETCD_MEMBERSHIP_ENV)} || kboot_fail "write ${ETCD_MEMBERSHIP_ENV}"
      echo "kboot: etcd ${host.name} joins as existing: $reason"
    fi
  fi
}`,
  };
}

/**
 * Starts (or, after a change to etcd.conf, restarts) etcd without blocking, because a member of a
 * new cluster reports ready only once a quorum has started, and waits until it listens as
 * configured and stays up. A unit that fails, or an etcd that listens on other addresses (such as
 * the packaged etcd.conf's localhost), fails the step at once rather than after the timeout.
 */
// NOTE: a member added to the spec changes ETCD_INITIAL_CLUSTER in every member's etcd.conf, so
// every member restarts in the same run, briefly without a quorum. etcd ignores that setting once
// a member has data; restarting one member at a time would avoid the gap.
function startEnsure(context: MemberContext): Ensure {
  const { host } = context;
  const listening = listeningFunction(context);
  return {
    description: `etcd on ${host.name} runs and listens as ${ETCD_CONF} sets`,
    check: `${listening}
case "$(systemctl is-active etcd)" in active|activating) ;; *) exit 1 ;; esac
! kboot_changed ${quote(ETCD_CONF)} && kboot_etcd_listening >/dev/null`,
    apply: `{
  ${listening}
  [ "$(systemctl is-enabled etcd 2>/dev/null)" != masked ] || kboot_fail "etcd is masked on ${host.name}: run systemctl unmask etcd to let it start"
  previous=$(systemctl show -p MainPID --value etcd 2>/dev/null)
  # Only what etcd logs from this start on explains a failure.
  logged=$(journalctl -u etcd --no-pager 2>/dev/null | wc -l)
  state=$(systemctl is-active etcd)
  if [ "$state" = active ] || [ "$state" = activating ]; then
    systemctl restart --no-block etcd || kboot_fail "restart etcd on ${host.name}"
    echo "kboot: restarted etcd"
  else
    previous=
    systemctl reset-failed etcd >/dev/null 2>&1
    systemctl start --no-block etcd || kboot_fail "start etcd on ${host.name}"
    echo "kboot: started etcd"
  fi
  systemctl is-enabled --quiet etcd || systemctl enable etcd >/dev/null 2>&1 || kboot_fail "enable etcd on ${host.name}"
  began=$SECONDS seen= since=$SECONDS
  while true; do
    sleep 0.5
    state=$(systemctl is-active etcd)
    pid=$(systemctl show -p MainPID --value etcd)
    if [ "$state" = failed ] || { [ "$state" = inactive ] && [ $((SECONDS - began)) -ge ${STABLE_SECONDS} ]; }; then
      log=$(journalctl -u etcd --no-pager 2>/dev/null | tail -n +$((logged + 1)))
      foreign=$(grep -m1 -oE 'permanently removed from the cluster|failed to find member [0-9a-f]+|tocommit\\([0-9]+\\) is out of range' <<<"$log")
      if [ -n "$foreign" ] && ls ${quote(context.spec.etcd.dataDir)}/member/wal/*.wal >/dev/null 2>&1; then
        kboot_fail "etcd on ${host.name} failed to start: its data dir ${context.spec.etcd.dataDir} holds a member the cluster does not have any more ($foreign). kboot never discards a member's data: move ${context.spec.etcd.dataDir} aside on ${host.name}, then apply again to add the member back"
      fi
      kboot_fail "etcd on ${host.name} failed to start ($state): $(tail -n 4 <<<"$log" | paste -sd ' ')"
    fi
    if [ "$pid" != "$seen" ]; then seen=$pid since=$SECONDS; fi
    up=$(( SECONDS - since ))
    if [ -n "$pid" ] && [ "$pid" != 0 ]; then
      # A restart of a unit still starting may wait behind that start, so the old process can
      # still be the one listening: it counts for a wrong listener, never for success.
      if where=$(kboot_etcd_listening); then
        if [ "$pid" != "$previous" ] && { [ "$state" = active ] || [ $up -ge ${STABLE_SECONDS} ]; }; then break; fi
        where="etcd still runs as process $previous, which the restart has not replaced"
      elif [ $up -ge ${STABLE_SECONDS} ] && ! grep -q 'listens on nothing' <<<"$where"; then
        kboot_fail "$(head -n1 <<<"$where"), so other hosts cannot reach it: another setting overrides ${ETCD_CONF} (see systemctl cat etcd and the EnvironmentFile lines it lists)"
      fi
    fi
    if [ $((SECONDS - began)) -ge ${START_TIMEOUT_SECONDS} ]; then
      kboot_fail "etcd on ${host.name} ($state) does not listen as ${ETCD_CONF} sets after ${START_TIMEOUT_SECONDS}s: \${where:-no process}"
    fi
  done
  if ls ${quote(context.spec.etcd.dataDir)}/member/wal/*.wal >/dev/null 2>&1; then ${REMOVE_JOIN_SETTINGS}; fi
}`,
  };
}

function runningProbe(context: MemberContext): Probe {
  return {
    description: `etcd on ${context.host.name} is active or waiting for its peers, and listens on ${context.host.address}`,
    script: `${listeningFunction(context)}
state=$(systemctl is-active etcd)
case "$state" in active|activating) ;; *) echo "etcd is $state" >&2; exit 1 ;; esac
kboot_etcd_listening >&2`,
    timeoutSeconds: 10,
    intervalSeconds: 1,
  };
}

export function renderEtcd(spec: ClusterSpec, host: HostSpec): StepRendering {
  const { clientPort, peerPort, dataDir, initialClusterToken } = spec.etcd;
  const peerUrl = `http://${host.address}:${peerPort}`;
  const context: MemberContext = { spec, host, peerUrl };
  const entries: Array<[string, string]> = [
    ['ETCD_NAME', host.name],
    ['ETCD_DATA_DIR', dataDir],
    ['ETCD_LISTEN_PEER_URLS', peerUrl],
    ['ETCD_LISTEN_CLIENT_URLS', `http://${host.address}:${clientPort},http://127.0.0.1:${clientPort}`],
    ['ETCD_INITIAL_ADVERTISE_PEER_URLS', peerUrl],
    ['ETCD_ADVERTISE_CLIENT_URLS', `http://${host.address}:${clientPort}`],
    ['ETCD_INITIAL_CLUSTER', etcdInitialCluster(spec)],
    ['ETCD_INITIAL_CLUSTER_STATE', 'new'],
    ['ETCD_INITIAL_CLUSTER_TOKEN', initialClusterToken],
  ];
  // flanneld before 0.10 reads its network config through the v2 API, which etcd 3.4 serves only
  // when asked to.
  if (spec.flannel.etcdApi === 'v2') entries.push(['ETCD_ENABLE_V2', 'true']);
  const dropIn = [MANAGED_HEADER.trimEnd(), '[Service]', `EnvironmentFile=-${ETCD_MEMBERSHIP_ENV}`, ''].join('\n');
  return {
    step: 'etcd',
    host: host.name,
    title: 'Configure and start the etcd member',
    phase: 'etcd',
    files: [environmentFile(ETCD_CONF, entries), { path: ETCD_DROP_IN, content: dropIn, mode: '0644' }],
    blocks: [],
    ensures: [membershipEnsure(context), startEnsure(context)],
    units: [],
    verify: [runningProbe(context)],
  };
}
