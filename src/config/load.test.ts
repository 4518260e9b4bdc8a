import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { loadConfig, ConfigError, parseSize } from './load.ts'

function conf (text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'sluice-conf-')), 'sluice.conf')
  writeFileSync(f, text)
  return f
}

test('config: Kong defaults when nothing is set', () => {
  const c = loadConfig({ env: {} })
  assert.equal(c.proxyListen[0]?.port, 8000)
  assert.equal(c.proxyListen[1]?.ssl, true)
  assert.equal(c.adminListen[0]?.host, '127.0.0.1')
  assert.equal(c.adminListen[0]?.port, 8001)
  assert.equal(c.pg, null, 'no pg_host: embedded PostgreSQL')
  assert.equal(c.realIpHeader, 'X-Real-IP')
  assert.deepEqual([...c.headers], ['server_tokens', 'latency_tokens', 'x-kong-request-id'])
  assert.ok(c.workers >= 1)
})

test('config: file < KONG_* < SLUICE_* < overrides', () => {
  const f = conf('pg_host = db.local # comment\npg_port = 6000\nlog_level = info\nnginx_worker_processes = 3\n')
  const c = loadConfig({ file: f, env: { KONG_PG_PORT: '6001', SLUICE_LOG_LEVEL: 'debug', KONG_LOG_LEVEL: 'warn' }, overrides: { nginx_worker_processes: '2' } })
  assert.equal(c.pg?.host, 'db.local')
  assert.equal(c.pg?.port, 6001)
  assert.equal(c.logLevel, 'debug')
  assert.equal(c.workers, 2)
  assert.equal(c.sources.pg_port, 'KONG_PG_PORT')
})

test('config: a bad value stops start-up with a message naming the key and its source', () => {
  assert.throws(() => loadConfig({ env: { SLUICE_PG_PORT: 'abc' } }), (err: unknown) => {
    assert.ok(err instanceof ConfigError)
    assert.match(err.message, /pg_port \(from SLUICE_PG_PORT\): expected an integer; got 'abc'/)
    return true
  })
  assert.throws(() => loadConfig({ env: { KONG_PROXY_LISTEN: '0.0.0.0:99999' } }), /proxy_listen: invalid port/)
  assert.throws(() => loadConfig({ env: { KONG_DATABASE: 'cassandra' } }), /database .*expected one of postgres, off/)
  assert.throws(() => loadConfig({ env: { KONG_NGINX_WORKER_PROCESSES: 'many' } }), /nginx_worker_processes/)
  assert.throws(() => loadConfig({ env: { KONG_TRUSTED_IPS: 'not-an-ip' } }), /trusted_ips/)
  assert.throws(() => loadConfig({ file: conf('this line has no equals\n') }), /expected 'key = value'/)
  assert.throws(() => loadConfig({ file: '/nonexistent/sluice.conf' }), /could not read configuration file/)
})

test('config: listen flags and off', () => {
  const c = loadConfig({ env: { KONG_PROXY_LISTEN: '127.0.0.1:9000 reuseport backlog=100, [::1]:9443 ssl http2', KONG_ADMIN_LISTEN: 'off' } })
  assert.deepEqual(c.proxyListen[0], { host: '127.0.0.1', port: 9000, ssl: false, http2: false, reuseport: true, backlog: 100 })
  assert.equal(c.proxyListen[1]?.host, '::1')
  assert.equal(c.proxyListen[1]?.ssl, true)
  assert.deepEqual(c.adminListen, [])
})

test('config: nginx sizes', () => {
  assert.equal(parseSize('0'), 0)
  assert.equal(parseSize('8k'), 8192)
  assert.equal(parseSize('10m'), 10 * 1024 * 1024)
  assert.equal(parseSize('1G'), 1024 ** 3)
  assert.equal(parseSize('ten'), null)
})
