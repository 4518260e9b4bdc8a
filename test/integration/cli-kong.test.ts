/**
 * The `sluice` command as a Kong user drives it: Kong's commands, options and spellings, a
 * kong.conf written for Kong, KONG_* environment, Kong's exit codes and error shape. Separate
 * processes against a real PostgreSQL (a scratch database per test) and real sockets.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { freePort } from '../helpers/ports.ts'

const BIN = new URL('../../bin/sluice.mjs', import.meta.url).pathname
const dbs: TestDb[] = []
const dirs: string[] = []

after(async () => {
  for (const d of dbs) await d.drop()
  for (const p of dirs) rmSync(p, { recursive: true, force: true })
})

interface Run { code: number; out: string; err: string }

function cleanEnv (env: Record<string, string>): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KONG_') && !k.startsWith('SLUICE_')) clean[k] = v
  return { ...clean, ...env }
}

function sluice (args: string[], env: Record<string, string> = {}, cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: cleanEnv(env), cwd, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, out: stdout, err: stderr })
    })
  })
}

function tempDir (): string {
  const d = mkdtempSync(join(tmpdir(), 'sluice-kongcli-'))
  chmodSync(d, 0o755)
  dirs.push(d)
  return d
}

function pgEnv (db: TestDb): Record<string, string> {
  const s = db.settings
  return { KONG_PG_HOST: s.host, KONG_PG_PORT: String(s.port), KONG_PG_USER: s.user, KONG_PG_PASSWORD: s.password, KONG_PG_DATABASE: s.database }
}

test('kong CLI: usage, per-command --help, unknown commands and options', async () => {
  const none = await sluice([])
  assert.equal(none.code, 1, 'no command: usage on stderr, exit 1, as kong')
  assert.match(none.err, /Usage: sluice COMMAND/)
  const help = await sluice(['--help'])
  assert.equal(help.code, 0)
  for (const c of ['start', 'stop', 'quit', 'restart', 'reload', 'health', 'check', 'prepare', 'migrations', 'config', 'version', 'drain']) {
    assert.match(help.out, new RegExp(`^  ${c} `, 'm'), c)
    const h = await sluice([c, '--help'])
    assert.equal(h.code, 0, `${c} --help`)
    assert.match(h.out, new RegExp(`^Usage: sluice ${c}`), c)
    assert.match(h.out, /--vv/)
  }
  assert.match((await sluice(['help', 'quit'])).out, /-w, --wait SECONDS/)
  assert.match((await sluice(['start', '-h'])).out, /--run-migrations/)

  const unknown = await sluice(['frobnicate'])
  assert.equal(unknown.code, 1)
  assert.match(unknown.err, /^Error: No such command: frobnicate/)
  const badOpt = await sluice(['stop', '--frobnicate'])
  assert.equal(badOpt.code, 1)
  assert.match(badOpt.err, /^Error: unrecognized option: --frobnicate\n\nUsage: sluice stop/)
  const noValue = await sluice(['start', '-c'])
  assert.equal(noValue.code, 1)
  assert.match(noValue.err, /option -c needs a value/)
  const badSeconds = await sluice(['quit', '-t', 'soon'])
  assert.equal(badSeconds.code, 1)
  assert.match(badSeconds.err, /-t\/--timeout expects a number of seconds; got 'soon'/)
  const hybrid = await sluice(['hybrid', 'gen_cert'])
  assert.equal(hybrid.code, 1)
  assert.match(hybrid.err, /Sluice has no hybrid mode/)
  const subNone = await sluice(['config'])
  assert.equal(subNone.code, 1)
  assert.match(subNone.err, /expected a command/)
  const subBad = await sluice(['migrations', 'sideways'])
  assert.equal(subBad.code, 1)
  assert.match(subBad.err, /No such command for migrations: sideways/)
})

test('kong CLI: version and version -a', async () => {
  const v = await sluice(['version'])
  assert.equal(v.code, 0)
  assert.match(v.out, /^Sluice \d+\.\d+\.\d+ \(Kong 3\.10\.\d+\)\n$/)
  const a = await sluice(['version', '--all'])
  assert.equal(a.code, 0)
  assert.match(a.out, /^Sluice: \S+\nKong: 3\.10\.\d+\nNode\.js: \S+\nuWebSockets\.js: /)
})

test('kong CLI: check <conf> with a kong.conf written for Kong', async () => {
  const dir = tempDir()
  const good = join(dir, 'kong.conf')
  writeFileSync(good, [
    '# written for Kong 3.10',
    'database = postgres',
    'pg_host = 127.0.0.1            # trailing comment',
    'proxy_listen = 0.0.0.0:8000 reuseport backlog=16384, \\',
    '               [::]:8443 http2 ssl reuseport backlog=16384',
    'admin_listen = 127.0.0.1:8001, 127.0.0.1:8444 http2 ssl',
    'nginx_main_worker_processes = 2',
    'nginx_http_client_body_timeout = 30s',
    'ssl_cert = /etc/kong/cert.pem',
    'nginx_http_gzip = on',
    'anonymous_reports = off',
    '',
  ].join('\n'))
  const ok = await sluice(['check', good])
  assert.equal(ok.code, 0, ok.err)
  assert.equal(ok.out, `configuration at ${good} is valid\n`)
  assert.match(ok.err, /Warning: .*kong\.conf:9: ssl_cert is a Kong setting Sluice does not implement; ignored/)
  assert.match(ok.err, /Warning: .*nginx_http_gzip is an nginx directive injection/)
  assert.match(ok.err, /Warning: .*anonymous_reports is a Kong setting/)

  const bad = join(dir, 'bad.conf')
  writeFileSync(bad, 'database = cassandra\nadmin_listen = 127.0.0.1:8001 sll\nnginx_worker_processes = lots\npg_port = abc\nheaders = X-Powered-By\n')
  const r = await sluice(['check', bad])
  assert.equal(r.code, 1)
  assert.match(r.err, /^Error: invalid configuration:\n/)
  assert.match(r.err, /database \(from .*bad\.conf:1\): Cassandra is not supported/)
  assert.match(r.err, /admin_listen: unknown flag 'sll'/)
  assert.match(r.err, /nginx_worker_processes: expected 'auto' or a number from 1 to 1024; got 'lots'/)
  assert.match(r.err, /pg_port \(from .*bad\.conf:4\): expected an integer; got 'abc'/)
  assert.match(r.err, /headers: invalid entry 'X-Powered-By'/)
  assert.match(r.err, /Run with --v \(verbose\) or --vv \(debug\) for more details/)

  // KONG_* over the file, as Kong's precedence
  const env = await sluice(['check', good], { KONG_PROXY_LISTEN: '0.0.0.0:99999' })
  assert.equal(env.code, 1)
  assert.match(env.err, /proxy_listen: invalid port '99999'/)

  const missing = await sluice(['check', join(dir, 'nope.conf')])
  assert.equal(missing.code, 1)
  assert.match(missing.err, /no file at: .*nope\.conf/)

  const verbose = await sluice(['check', good, '--v'])
  assert.equal(verbose.code, 0)
  assert.match(verbose.out, /\[verbose\] reading config file at .*kong\.conf/)
  const debug = await sluice(['check', '-c', good, '--vv'], { KONG_PG_PASSWORD: 'hunter2' })
  assert.equal(debug.code, 0)
  assert.equal(debug.out.includes('hunter2'), false, 'secrets are not echoed')
})

test('kong CLI: migrations with Kong\'s exit codes and messages', async () => {
  const db = await createTestDb({ migrated: false })
  dbs.push(db)
  const env = { ...pgEnv(db), SLUICE_PREFIX: tempDir() }
  const list = await sluice(['migrations', 'list'], env)
  assert.equal(list.code, 3)
  assert.match(list.out, /Database needs bootstrapping/)
  const up = await sluice(['migrations', 'up'], env)
  assert.equal(up.code, 1, 'up on an empty database is an error')
  assert.match(up.err, /Cannot run migrations: Database needs bootstrapping/)
  const status = await sluice(['migrations', 'status'], env)
  assert.equal(status.code, 0)
  assert.equal(JSON.parse(status.out).needs_bootstrap, true)
  const quiet = await sluice(['migrations', 'bootstrap', '-q', '--db-timeout', '10'], env)
  assert.equal(quiet.code, 0, quiet.err)
  assert.equal(quiet.out, '', '-q prints nothing')
  const again = await sluice(['migrations', 'bootstrap'], env)
  assert.equal(again.code, 0)
  assert.match(again.out, /Database already bootstrapped/)
  const done = JSON.parse((await sluice(['migrations', 'status'], env)).out) as { needs_bootstrap: boolean; executed_migrations: Array<{ migrations: string[] }> }
  assert.equal(done.needs_bootstrap, false)
  assert.ok(done.executed_migrations[0]!.migrations.includes('000001_cluster_events'))
  const finish = await sluice(['migrations', 'finish'], env)
  assert.equal(finish.code, 0)
  assert.match(finish.out, /No pending migrations to finish/)
  const noTty = await sluice(['migrations', 'reset'], env)
  assert.equal(noTty.code, 1)
  assert.match(noTty.err, /not a tty: invoke 'reset' non-interactively with the --yes flag/)
  const reset = await sluice(['migrations', 'reset', '--yes'], env)
  assert.equal(reset.code, 0, reset.err)
  assert.match(reset.out, /Database successfully reset/)
  assert.equal((await sluice(['migrations', 'list'], env)).code, 3)
  const nothing = await sluice(['migrations', 'reset', '-y'], env)
  assert.equal(nothing.code, 1)
  assert.match(nothing.out, /nothing to reset/)
})

/** A kong.conf for one node: its own prefix and ports, the test database. */
async function nodeConf (db: TestDb): Promise<{ conf: string; prefix: string; admin: number; status: number; proxy: number }> {
  const dir = tempDir()
  const prefix = join(dir, 'kong')
  const [proxy, admin, status] = [await freePort(), await freePort(), await freePort()]
  const s = db.settings
  const conf = join(dir, 'kong.conf')
  writeFileSync(conf, [
    `prefix = ${prefix}`,
    `proxy_listen = 127.0.0.1:${proxy} reuseport`,
    `admin_listen = 127.0.0.1:${admin}`,
    `status_listen = 127.0.0.1:${status}`,
    'nginx_main_worker_processes = 1',
    'drain_timeout = 500',
    `pg_host = ${s.host}`, `pg_port = ${s.port}`, `pg_user = ${s.user}`, `pg_password = ${s.password}`, `pg_database = ${s.database}`,
    '',
  ].join('\n'))
  return { conf, prefix, admin, status, proxy }
}

test('kong CLI: start -c, then health/quit/restart with only -p (the running configuration at <prefix>/.kong_env)', async () => {
  const db = await createTestDb({ migrated: false })
  dbs.push(db)
  const n = await nodeConf(db)
  const prep = await sluice(['prepare', '-c', n.conf])
  assert.equal(prep.code, 0, prep.err)
  assert.ok(existsSync(join(n.prefix, 'logs')))
  const started = await sluice(['start', '-c', n.conf, '--run-migrations', '--nginx-conf', '/etc/kong/custom.template'])
  assert.equal(started.code, 0, started.err)
  assert.match(started.err, /Warning: --nginx-conf is ignored/)
  try {
    const envFile = join(n.prefix, '.kong_env')
    assert.equal(statSync(envFile).mode & 0o777, 0o600, '.kong_env holds pg_password: owner only')
    assert.match(readFileSync(envFile, 'utf8'), new RegExp(`^status_listen = 127\\.0\\.0\\.1:${n.status}$`, 'm'))
    // Only -p: the ports come from the running configuration, not the defaults.
    const h = await sluice(['health', '-p', n.prefix])
    assert.equal(h.code, 0, h.out + h.err)
    assert.match(h.out, /worker 0\.+running/)
    assert.match(h.out, /Sluice is healthy at /)
    const again = await sluice(['start', '-c', n.conf])
    assert.equal(again.code, 1)
    assert.match(again.err, /already running/)
    const pidBefore = readFileSync(join(n.prefix, 'sluice.pid'), 'utf8').trim()
    const restarted = await sluice(['restart', '-c', n.conf])
    assert.equal(restarted.code, 0, restarted.err)
    assert.match(restarted.out, /Sluice stopped[\s\S]*Sluice started/)
    assert.notEqual(readFileSync(join(n.prefix, 'sluice.pid'), 'utf8').trim(), pidBefore)
    const r = await request(`http://127.0.0.1:${n.admin}/status`)
    assert.equal(r.statusCode, 200)
    await r.body.dump()

    // `reload -c OTHER` (Kong's): the node switches to OTHER, and later reloads keep reading it.
    const other = join(n.prefix, '..', 'kong-2.conf')
    writeFileSync(other, readFileSync(n.conf, 'utf8').replace('nginx_main_worker_processes = 1', 'nginx_main_worker_processes = 2'))
    const switched = await sluice(['reload', '-c', other])
    assert.equal(switched.code, 0, switched.out + switched.err)
    assert.match(switched.out, /Sluice reloaded: .*changed: nginx_worker_processes/)
    const plain = await sluice(['reload', '-p', n.prefix])
    assert.equal(plain.code, 0, plain.out + plain.err)
    assert.doesNotMatch(plain.out, /changed: nginx_worker_processes/, 'the node re-read kong-2.conf, not the file it started with')
    const h2 = await sluice(['health', '-p', n.prefix])
    assert.equal(h2.code, 0, h2.out + h2.err)
    assert.equal(h2.out.match(/^worker \d+\.+running/gm)?.length, 2, h2.out)
  } finally {
    const q = await sluice(['quit', '-p', n.prefix, '-t', '20'])
    assert.equal(q.code, 0, q.err)
    assert.match(q.out, /Sluice stopped/)
  }
  const down = await sluice(['health', '-p', n.prefix])
  assert.equal(down.code, 1)
  assert.match(down.err, /not running/)
  const stopAgain = await sluice(['stop', '-p', n.prefix])
  assert.equal(stopAgain.code, 1)
  assert.match(stopAgain.err, /Sluice is not running at /)
  const noPrefix = await sluice(['stop', '-p', join(n.prefix, 'nowhere')])
  assert.equal(noPrefix.code, 1)
  assert.match(noPrefix.err, /no such prefix: /)
})

test('kong CLI: KONG_NGINX_DAEMON=off keeps `start` in the foreground, as Kong\'s container images run it', async () => {
  const db = await createTestDb({ migrated: false })
  dbs.push(db)
  const n = await nodeConf(db)
  const child = spawn(process.execPath, [BIN, 'start', '-c', n.conf], { env: cleanEnv({ KONG_NGINX_DAEMON: 'off' }), stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const exited = once(child, 'exit')
  try {
    const h = await sluice(['health', '-p', n.prefix, '--wait', '90'])
    assert.equal(h.code, 0, h.out + h.err + out)
    assert.equal(readFileSync(join(n.prefix, 'sluice.pid'), 'utf8').trim(), String(child.pid), 'the process started is the node')
  } finally {
    child.kill('SIGTERM')
    const [code] = await exited
    assert.equal(code, 0, out)
  }
})
