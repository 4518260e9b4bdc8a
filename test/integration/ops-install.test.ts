/**
 * scripts/install.sh rendered into a temporary root (no systemd, no user created, nothing outside
 * the root touched): the files it writes, their content, running it twice, and the unit checked by
 * `systemd-analyze verify` and the logrotate rules by `logrotate -d` where those tools exist.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { ROOT, run, sluice } from './ops-harness.ts'

const SCRIPT = join(ROOT, 'scripts', 'install.sh')
const roots: string[] = []
after(() => { for (const r of roots) rmSync(r, { recursive: true, force: true }) })

function tempRoot (): string {
  const r = mkdtempSync(join(tmpdir(), 'sluice-root-'))
  roots.push(r)
  return r
}

function install (root: string, ...args: string[]): ReturnType<typeof run> {
  return run('sh', [SCRIPT, '--root', root, '--no-deps', '--node', process.execPath, ...args])
}

/** path -> sha256 of every file under dir. */
function tree (dir: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e)
      if (statSync(p).isDirectory()) walk(p)
      else out.set(relative(dir, p), createHash('sha256').update(readFileSync(p)).digest('hex'))
    }
  }
  walk(dir)
  return out
}

async function which (cmd: string): Promise<boolean> {
  return (await run('sh', ['-c', `command -v ${cmd}`])).code === 0
}

test('install.sh --root renders code, config, unit, logrotate, sysusers, sysctl and the command', async () => {
  const root = tempRoot()
  const r = await install(root)
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /\/etc\/sluice\/sluice\.conf written/)

  // Code: the runtime tree, without tests or benchmarks.
  const code = join(root, 'opt', 'sluice')
  for (const f of ['bin/sluice.mjs', 'src/cli/main.ts', 'src/primary/status-server.ts', 'package.json', 'package-lock.json', 'deploy/sluice.service.in']) {
    assert.ok(existsSync(join(code, f)), f)
  }
  assert.equal(existsSync(join(code, 'test')), false)
  assert.equal(existsSync(join(code, 'src/metrics/metrics.test.ts')), false)
  assert.ok((statSync(join(code, 'bin/sluice.mjs')).mode & 0o111) !== 0)

  const unit = readFileSync(join(root, 'etc/systemd/system/sluice.service'), 'utf8')
  assert.doesNotMatch(unit, /@[A-Z_]+@/, 'every placeholder is filled')
  for (const line of [
    'Type=simple',
    `ExecStart=${process.execPath} /opt/sluice/bin/sluice.mjs start --foreground -c /etc/sluice/sluice.conf`,
    `ExecStartPost=${process.execPath} /opt/sluice/bin/sluice.mjs health --ready --wait 170 -c /etc/sluice/sluice.conf`,
    `ExecReload=${process.execPath} /opt/sluice/bin/sluice.mjs reload -c /etc/sluice/sluice.conf`,
    'Restart=on-failure',
    'LimitNOFILE=65536',
    'User=sluice',
    'StateDirectory=sluice',
    'LogsDirectory=sluice',
    'KillMode=mixed',
    'WantedBy=multi-user.target',
  ]) assert.ok(unit.split('\n').includes(line), `unit has ${line}`)

  const confPath = join(root, 'etc/sluice/sluice.conf')
  assert.equal(statSync(confPath).mode & 0o777, 0o640, 'the config may hold pg_password')
  const conf = readFileSync(confPath, 'utf8')
  for (const line of ['prefix = /var/lib/sluice', 'status_listen = 127.0.0.1:8007', 'proxy_error_log = /var/log/sluice/error.log', 'proxy_access_log = /var/log/sluice/access.log', 'nginx_worker_processes = auto']) {
    assert.ok(conf.split('\n').includes(line), `config has ${line}`)
  }
  // The rendered config is valid for this Sluice (prefix pointed at a writable place).
  const checked = await sluice(['check', confPath, '-p', join(root, 'var/lib/sluice')])
  assert.equal(checked.code, 0, checked.err)
  assert.match(checked.out, /is valid/)

  const cmd = readFileSync(join(root, 'usr/local/bin/sluice'), 'utf8')
  assert.match(cmd, new RegExp(`exec ${process.execPath} /opt/sluice/bin/sluice\\.mjs "\\$@"`))
  assert.ok((statSync(join(root, 'usr/local/bin/sluice')).mode & 0o111) !== 0)
  assert.match(readFileSync(join(root, 'etc/logrotate.d/sluice'), 'utf8'), /\/var\/log\/sluice\/\*\.log \{[\s\S]*kill -USR1 "\$\(cat \/var\/lib\/sluice\/sluice\.pid\)"/)
  assert.match(readFileSync(join(root, 'usr/lib/sysusers.d/sluice.conf'), 'utf8'), /^u sluice - "Sluice API gateway" \/var\/lib\/sluice/m)
  assert.match(readFileSync(join(root, 'etc/sysctl.d/60-sluice.conf'), 'utf8'), /^net\.ipv4\.tcp_migrate_req = 1$/m)
})

test('install.sh runs twice safely: same files, an edited config is kept, the unit is not rewritten', async () => {
  const root = tempRoot()
  assert.equal((await install(root)).code, 0)
  const confPath = join(root, 'etc/sluice/sluice.conf')
  appendFileSync(confPath, 'pg_host = db.internal\n')
  const before = tree(root)
  const again = await install(root)
  assert.equal(again.code, 0, again.err)
  assert.match(again.out, /sluice\.conf exists: kept/)
  assert.match(again.out, /unit unchanged/)
  assert.deepEqual(tree(root), before)
  assert.match(readFileSync(confPath, 'utf8'), /^pg_host = db\.internal$/m)
})

test('install.sh options: prefix, state and log directories outside /var/lib and /var/log, another user', async () => {
  const root = tempRoot()
  const r = await install(root, '--prefix', '/srv/sluice', '--state-dir', '/srv/sluice-state', '--log-dir', '/srv/sluice-logs', '--user', 'gw', '--conf', '/etc/gw/gw.conf', '--no-sysctl')
  assert.equal(r.code, 0, r.err)
  const unit = readFileSync(join(root, 'etc/systemd/system/sluice.service'), 'utf8')
  assert.match(unit, /^User=gw$/m)
  assert.match(unit, /^ExecStart=\S+ \/srv\/sluice\/bin\/sluice\.mjs start --foreground -c \/etc\/gw\/gw\.conf$/m)
  assert.doesNotMatch(unit, /^StateDirectory=/m, 'StateDirectory= only names directories under /var/lib')
  assert.doesNotMatch(unit, /^LogsDirectory=/m)
  assert.ok(existsSync(join(root, 'srv/sluice-state')) && existsSync(join(root, 'srv/sluice-logs')))
  assert.ok(existsSync(join(root, 'srv/sluice/bin/sluice.mjs')))
  assert.match(readFileSync(join(root, 'etc/gw/gw.conf'), 'utf8'), /^prefix = \/srv\/sluice-state$/m)
  assert.equal(existsSync(join(root, 'etc/sysctl.d/60-sluice.conf')), false)

  const bad = await run('sh', [SCRIPT, '--root', root, '--no-deps', '--prefix', 'relative/path'])
  assert.notEqual(bad.code, 0)
  assert.match(bad.err, /must be absolute/)
  const unknown = await run('sh', [SCRIPT, '--frobnicate'])
  assert.notEqual(unknown.code, 0)
  assert.match(unknown.err, /unknown option/)
})

test('the rendered unit passes systemd-analyze verify; the logrotate rules parse (where the tools exist)', async (t) => {
  const root = tempRoot()
  // root owns everything here, so logrotate's `su` line names an account that exists.
  assert.equal((await install(root, '--user', 'root')).code, 0)
  const unitPath = join(root, 'etc/systemd/system/sluice.service')
  if (await which('systemd-analyze')) {
    const v = await run('systemd-analyze', ['verify', unitPath])
    assert.equal(v.code, 0, v.err)
    // verify reports bad keys and values as warnings on stderr with a zero exit status.
    const own = v.err.split('\n').filter((l) => l.includes('sluice.service'))
    assert.deepEqual(own, [], v.err)
    // And it does catch a broken unit, so a clean result means something.
    const broken = join(root, 'broken.service')
    writeFileSync(broken, readFileSync(unitPath, 'utf8').replace('KillMode=mixed', 'KillMode=sometimes'))
    assert.match((await run('systemd-analyze', ['verify', broken])).err, /kill mode/i)
  } else {
    t.diagnostic('systemd-analyze is not installed: unit verification skipped')
  }
  if (await which('logrotate')) {
    const l = await run('logrotate', ['-d', '-s', join(root, 'logrotate.state'), join(root, 'etc/logrotate.d/sluice')])
    assert.equal(l.code, 0, l.err + l.out)
    assert.doesNotMatch(l.err + l.out, /error:/)
  } else {
    t.diagnostic('logrotate is not installed: rules not parsed')
  }
})
