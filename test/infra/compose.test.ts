// Checks docker-compose.yml as Debian's docker-compose resolves it (`config` needs no
// Docker engine): the services, pinned images, the worker's build, and SSH key
// material mounted read-only at run time instead of built into the image.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

const repoRoot = path.resolve(__dirname, '..', '..');

interface BindMount {
  type: string;
  source: string;
  target: string;
  read_only?: boolean;
}

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  volumes?: Array<BindMount | string>;
  ports?: string[];
  entrypoint?: string[];
  depends_on?: Record<string, { condition: string }>;
  user?: string;
}

interface ComposeConfig {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const operatorEnv = {
  KBOOT_POSTGRES_PASSWORD: 'compose-test-password',
  KBOOT_SSH_KEY: '/home/operator/.ssh/kboot_ed25519',
  KBOOT_KNOWN_HOSTS: '/home/operator/.ssh/kboot_known_hosts',
};

/** Runs `docker-compose config` with only PATH, HOME and the given variables set. */
function composeConfig(extraEnv: Record<string, string>) {
  return spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...extraEnv },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('docker-compose.yml', () => {
  let config: ComposeConfig;

  beforeAll(() => {
    const result = composeConfig(operatorEnv);
    if (result.error) {
      throw new Error(`docker-compose config could not run: ${result.error.message}; run scripts/ensure-deps.sh`);
    }
    if (result.status !== 0) {
      throw new Error(`docker-compose config exited ${result.status}: ${result.stderr}`);
    }
    config = parse(result.stdout) as ComposeConfig;
  });

  test('defines the deployment services', () => {
    expect(Object.keys(config.services).sort()).toEqual([
      'kboot-worker',
      'postgresql',
      'temporal',
      'temporal-schema',
      'temporal-setup',
      'temporal-ui',
    ]);
  });

  test('pins every image version', () => {
    for (const [name, service] of Object.entries(config.services)) {
      const tag = service.image?.split(':')[1] ?? '';
      expect({ name, tag, pinned: /^\d+\.\d+/.test(tag) }).toEqual({ name, tag, pinned: true });
    }
  });

  test('postgresql keeps data on a volume', () => {
    expect(config.services.postgresql.volumes).toContain('postgresql-data:/var/lib/postgresql/data:rw');
    expect(config.volumes).toHaveProperty('postgresql-data');
  });

  test('server waits for schema and skips version check', () => {
    const temporal = config.services.temporal;
    expect(temporal.depends_on?.['temporal-schema']).toEqual({ condition: 'service_completed_successfully' });
    expect(temporal.environment?.DB).toBe('postgres12');
    expect(temporal.environment?.POSTGRES_PWD).toBe(operatorEnv.KBOOT_POSTGRES_PASSWORD);
    expect(temporal.environment?.TEMPORAL_VERSION_CHECK_DISABLED).toBe('1');
    expect(temporal.ports).toEqual(['127.0.0.1:7233:7233/tcp']);

    const dynamicConfig = readFileSync(path.join(repoRoot, 'scripts/compose/dynamicconfig.yaml'), 'utf8');
    expect(parse(dynamicConfig)).toEqual({ 'frontend.enableServerVersionCheck': [{ value: false }] });
  });

  test('one-shot services run the repository scripts', () => {
    const schema = config.services['temporal-schema'];
    const setup = config.services['temporal-setup'];
    expect(schema.entrypoint).toEqual(['bash', '/opt/kboot/scripts/compose/temporal-schema.sh']);
    expect(setup.entrypoint).toEqual(['bash', '/opt/kboot/scripts/temporal-register.sh', '--wait', '300']);
    expect(setup.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    for (const service of [schema, setup]) {
      expect(service.volumes).toContain(`${path.join(repoRoot, 'scripts')}:/opt/kboot/scripts:ro`);
    }
  });

  test('worker builds from the repository Dockerfile', () => {
    const worker = config.services['kboot-worker'];
    expect(worker.build).toEqual({ context: repoRoot, dockerfile: 'Dockerfile' });
    expect(worker.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(worker.depends_on?.['temporal-setup']).toEqual({ condition: 'service_completed_successfully' });

    const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20\.\d+\.\d+-bookworm-slim AS build$/m);
    expect(dockerfile).toMatch(/^RUN npm ci\b/m);
    expect(dockerfile).toMatch(/^RUN npm run build$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/client\/cli\.js", "worker"\]$/m);
    const copies = dockerfile.split('\n').filter((line) => /^(COPY|ADD)\b/.test(line));
    expect(copies.filter((line) => /ssh|known_hosts|id_ed25519|id_rsa|\.pem|\.key\b/i.test(line))).toEqual([]);
  });

  test('worker mounts key material read-only', () => {
    const mounts = (config.services['kboot-worker'].volumes ?? []).filter(
      (volume): volume is BindMount => typeof volume !== 'string',
    );
    expect(mounts).toEqual([
      { type: 'bind', source: operatorEnv.KBOOT_SSH_KEY, target: '/run/kboot/ssh/id_key', read_only: true },
      { type: 'bind', source: operatorEnv.KBOOT_KNOWN_HOSTS, target: '/run/kboot/ssh/known_hosts', read_only: true },
    ]);
  });

  test('dockerignore keeps keys out of the build context', () => {
    const ignored = readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8').split('\n');
    for (const pattern of ['node_modules', 'dist', '.git', '**/id_ed25519*', '**/id_rsa*', '**/known_hosts']) {
      expect(ignored).toContain(pattern);
    }
  });

  test.each(Object.keys(operatorEnv))('config rejects missing %s', (name) => {
    const env: Record<string, string> = { ...operatorEnv };
    delete env[name];
    const result = composeConfig(env);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(`set ${name} to`);
  });
});
