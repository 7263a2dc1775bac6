/**
 * A docker that the package install started before kboot ran, as field hosts often have it: the
 * docker package from the fleet's repository, docker0 on docker's default 172.17.0.1/16, and the
 * storage `storageOptions` sets (empty: devicemapper loop-lvm, the package default).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { UpResult } from '../../sandbox/fleet/index';
import { onHost } from '../helpers/rollout';
import type { SpecDocument } from './fleet';

/** The address docker 1.13 gives docker0 when nothing sets --bip. */
export const DOCKER_DEFAULT_BRIDGE = '172.17.0.1/16';

export async function startDockerAsPackaged(fleet: UpResult, host: string, storageOptions = ''): Promise<void> {
  const spec = parse(readFileSync(fleet.specFile, 'utf8')) as SpecDocument;
  const repository = spec.packages.repository;
  // The sandbox dockerd stand-in refuses to guess a bridge address, so the default is spelled out
  // in docker-network, which /run/flannel/docker overrides once flannel has a lease.
  await onHost(
    fleet.name,
    host,
    `printf '%s\\n' '[${repository.id}]' 'name=${repository.name}' 'baseurl=${repository.baseurl}' 'enabled=1' 'gpgcheck=0' > /etc/yum.repos.d/${repository.id}.repo
yum install -y docker >/dev/null
echo 'DOCKER_NETWORK_OPTIONS="--bip=${DOCKER_DEFAULT_BRIDGE}"' > /etc/sysconfig/docker-network
echo 'DOCKER_STORAGE_OPTIONS="${storageOptions}"' > /etc/sysconfig/docker-storage
systemctl start docker`,
  );
}

/** `docker info` on the host, as text. */
export function dockerInfo(fleet: string, host: string): Promise<string> {
  return onHost(fleet, host, 'docker info 2>/dev/null');
}
