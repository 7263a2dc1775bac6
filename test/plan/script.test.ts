import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkScript, parseCheckReport, parseStepReport, stepScript, type StepRendering } from '../../plan/index';

/** Runs a step script with the local bash, as the remote host would. */
function run(script: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('bash', ['-s'], { input: script, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function rendering(dir: string, content: string): StepRendering {
  return {
    step: 'hosts-file',
    host: 'local',
    title: 'test step',
    phase: 'hosts',
    files: [{ path: join(dir, 'etc/app.conf'), content, mode: '0640' }],
    blocks: [{ path: join(dir, 'hosts'), marker: 'kboot test', content: '10.0.0.1 a\n10.0.0.2 b' }],
    ensures: [{ description: 'tool installed', check: `test -e ${join(dir, 'installed')}`, apply: `echo once >> ${join(dir, 'installed')}` }],
    units: [],
    verify: [{ description: 'config holds the value', script: `grep -q '^value=' ${join(dir, 'etc/app.conf')}`, timeoutSeconds: 1, intervalSeconds: 1 }],
  };
}

describe('step script', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kboot-script-'));
  const markerDir = join(dir, 'markers');
  writeFileSync(join(dir, 'hosts'), '127.0.0.1 localhost\n');

  test('first run applies everything', () => {
    const result = run(stepScript(rendering(dir, 'value=1\n'), { fingerprint: 'f1', kbootVersion: 't', markerDir }));
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const report = parseStepReport(result.stdout);
    expect(report.outcome).toBe('applied');
    expect(report.changed).toEqual([join(dir, 'etc/app.conf'), join(dir, 'hosts')]);
    expect(readFileSync(join(dir, 'etc/app.conf'), 'utf8')).toBe('value=1\n');
    expect(spawnSync('stat', ['-c', '%a', join(dir, 'etc/app.conf')], { encoding: 'utf8' }).stdout.trim()).toBe('640');
    expect(readFileSync(join(dir, 'hosts'), 'utf8')).toBe('127.0.0.1 localhost\n# BEGIN kboot test\n10.0.0.1 a\n10.0.0.2 b\n# END kboot test\n');
    expect(readFileSync(join(dir, 'installed'), 'utf8')).toBe('once\n');
    expect(JSON.parse(readFileSync(join(markerDir, 'hosts-file.json'), 'utf8')).fingerprint).toBe('f1');
  });

  test('same fingerprint is skipped', () => {
    const result = run(stepScript(rendering(dir, 'value=1\n'), { fingerprint: 'f1', kbootVersion: 't', markerDir }));
    expect(parseStepReport(result.stdout)).toMatchObject({ outcome: 'skipped', changed: [] });
  });

  test('drift is repaired', () => {
    writeFileSync(join(dir, 'etc/app.conf'), 'broken\n');
    const result = run(stepScript(rendering(dir, 'value=1\n'), { fingerprint: 'f1', kbootVersion: 't', markerDir }));
    expect(parseStepReport(result.stdout)).toMatchObject({ outcome: 'repaired', drift: true, changed: [join(dir, 'etc/app.conf')] });
    expect(readFileSync(join(dir, 'etc/app.conf'), 'utf8')).toBe('value=1\n');
  });

  test('changed input re-applies only what differs', () => {
    const result = run(stepScript(rendering(dir, 'value=2\n'), { fingerprint: 'f2', kbootVersion: 't', markerDir }));
    const report = parseStepReport(result.stdout);
    expect(report.outcome).toBe('applied');
    expect(report.changed).toEqual([join(dir, 'etc/app.conf')]);
    expect(readFileSync(join(dir, 'installed'), 'utf8')).toBe('once\n');
    expect(readFileSync(join(dir, 'hosts'), 'utf8').match(/BEGIN kboot test/g)).toHaveLength(1);
  });

  test('failed verification fails the step and keeps the marker', () => {
    const result = run(stepScript(rendering(dir, 'other=3\n'), { fingerprint: 'f3', kbootVersion: 't', markerDir }));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('kboot: verify failed: config holds the value');
    expect(JSON.parse(readFileSync(join(markerDir, 'hosts-file.json'), 'utf8')).fingerprint).toBe('f2');
  });

  test('hostile content stays data', () => {
    const hostile = `$(touch ${dir}/owned) \`touch ${dir}/owned2\` ; ' " \nKBOOT_EOF\nvalue=4\n`;
    const result = run(stepScript(rendering(dir, hostile), { fingerprint: 'f4', kbootVersion: 't', markerDir }));
    expect(result.status).toBe(0);
    expect(readFileSync(join(dir, 'etc/app.conf'), 'utf8')).toBe(hostile);
    expect(existsSync(join(dir, 'owned'))).toBe(false);
    expect(existsSync(join(dir, 'owned2'))).toBe(false);
  });
});

describe('step script probes', () => {
  test('probe exit ends only the probe', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kboot-probe-'));
    const base = rendering(dir, 'value=1\n');
    const withExit = { ...base, verify: [{ description: 'exits 1 first time', script: `test -e ${dir}/second || { touch ${dir}/second; exit 1; }`, timeoutSeconds: 3, intervalSeconds: 1 }] };
    const options = { fingerprint: 'f1', kbootVersion: 't', markerDir: join(dir, 'markers') };
    expect(parseStepReport(run(stepScript(withExit, options)).stdout).outcome).toBe('applied');
    const rerun = run(stepScript({ ...withExit, verify: [{ ...withExit.verify[0], script: 'exit 1', timeoutSeconds: 0 }] }, options));
    expect(rerun.stdout).toContain('kboot: drift');
    expect(rerun.stderr).toContain('kboot: verify failed: exits 1 first time');
  });
});

describe('hand edits', () => {
  test('edited file is drift, repaired', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kboot-edit-'));
    writeFileSync(join(dir, 'hosts'), '127.0.0.1 localhost\n');
    const options = { fingerprint: 'f1', kbootVersion: 't', markerDir: join(dir, 'markers') };
    const step = rendering(dir, 'value=1\nother=2\n');
    expect(parseStepReport(run(stepScript(step, options)).stdout).outcome).toBe('applied');
    writeFileSync(join(dir, 'etc/app.conf'), 'value=1\nother=3\n');
    const report = parseStepReport(run(stepScript(step, options)).stdout);
    expect(report).toMatchObject({ outcome: 'repaired', drift: true, changed: [join(dir, 'etc/app.conf')] });
    expect(readFileSync(join(dir, 'etc/app.conf'), 'utf8')).toBe('value=1\nother=2\n');
  });

  test('edited block is drift, repaired', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kboot-edit-'));
    writeFileSync(join(dir, 'hosts'), '127.0.0.1 localhost\n');
    const options = { fingerprint: 'f1', kbootVersion: 't', markerDir: join(dir, 'markers') };
    const step = rendering(dir, 'value=1\n');
    run(stepScript(step, options));
    writeFileSync(join(dir, 'hosts'), readFileSync(join(dir, 'hosts'), 'utf8').replace('10.0.0.2 b', '10.0.0.9 b'));
    expect(parseStepReport(run(stepScript(step, options)).stdout)).toMatchObject({ outcome: 'repaired', changed: [join(dir, 'hosts')] });
    expect(parseStepReport(run(stepScript(step, options)).stdout).outcome).toBe('skipped');
  });

  test('check script reports without changing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kboot-check-'));
    writeFileSync(join(dir, 'hosts'), '127.0.0.1 localhost\n');
    const markerDir = join(dir, 'markers');
    const step = rendering(dir, 'value=1\n');
    expect(parseCheckReport(run(checkScript(step, markerDir)).stdout, step, 'f1').condition).toBe('not-applied');
    run(stepScript(step, { fingerprint: 'f1', kbootVersion: 't', markerDir }));
    expect(parseCheckReport(run(checkScript(step, markerDir)).stdout, step, 'f1')).toEqual({ condition: 'in-place', failedProbes: [] });
    expect(parseCheckReport(run(checkScript(step, markerDir)).stdout, step, 'f2').condition).toBe('changed');
    writeFileSync(join(dir, 'etc/app.conf'), 'broken\n');
    const drift = parseCheckReport(run(checkScript(step, markerDir)).stdout, step, 'f1');
    expect(drift.condition).toBe('drift');
    expect(drift.failedProbes).toEqual([`${join(dir, 'etc/app.conf')} differs from the spec`, 'config holds the value']);
    expect(readFileSync(join(dir, 'etc/app.conf'), 'utf8')).toBe('broken\n');
  });
});
