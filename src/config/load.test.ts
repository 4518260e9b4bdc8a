import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { loadConfig, ConfigError, parseConfFile, parseSize } from './load.ts'
import { nginxTimeMs } from './kong-keys.ts'

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
  assert.throws(() => loadConfig({ env: { KONG_PROXY_LISTEN: '0.0.0.0:99999' } }), /proxy_listen: invalid port '99999'.*must be of form: \[off\] \| <ip>:<port>/)
  assert.throws(() => loadConfig({ env: { KONG_DATABASE: 'mysql' } }), /database .*expected one of postgres, off; got 'mysql'/)
  assert.throws(() => loadConfig({ env: { KONG_DATABASE: 'cassandra' } }), /database \(from KONG_DATABASE\): Cassandra is not supported/)
  assert.throws(() => loadConfig({ env: { KONG_NGINX_WORKER_PROCESSES: 'many' } }), /nginx_worker_processes/)
  assert.throws(() => loadConfig({ env: { KONG_TRUSTED_IPS: 'not-an-ip' } }), /trusted_ips/)
  assert.throws(() => loadConfig({ file: conf('this line has no equals\n') }), /expected 'key = value'/)
  assert.throws(() => loadConfig({ file: '/nonexistent/sluice.conf' }), /no file at: \/nonexistent\/sluice.conf/)
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

test('config: kong.conf syntax as Kong reads it (comments, continuations, escapes, quotes)', () => {
  const text = [
    '# a comment',
    '   ; also a comment',
    'log_level = info   # trailing comment',
    'pg_password = pa\\#ss # the # is escaped',
    'proxy_listen = 127.0.0.1:9000 reuseport, \\',
    '               127.0.0.1:9443 ssl',
    'pg_user = "quoted"',
    'pg-database = dashed',
    '',
  ].join('\n')
  assert.deepEqual(parseConfFile(text, 'k.conf'), [
    ['log_level', 'info', 3],
    ['pg_password', 'pa#ss', 4],
    ['proxy_listen', '127.0.0.1:9000 reuseport,                127.0.0.1:9443 ssl', 5],
    ['pg_user', '"quoted"', 7],
    ['pg_database', 'dashed', 8],
  ])
  const c = loadConfig({ file: conf(text), env: {} })
  assert.equal(c.proxyListen.length, 2)
  assert.equal(c.proxyListen[1]?.ssl, true)
  assert.equal(c.raw.pg_password, 'pa#ss')
  assert.throws(() => parseConfFile('log_level = info\nstray words\n', 'k.conf'), /k\.conf:2: expected 'key = value', got 'stray words'/)
})

test('config: Kong spellings: nginx_* directives map to Sluice keys, the Sluice key wins', () => {
  const c = loadConfig({
    file: conf('nginx_main_worker_processes = 3\nnginx_http_client_body_timeout = 1m30s\nnginx_http_client_header_timeout = 20\nnginx_http_large_client_header_buffers = 8 16k\nnginx_proxy_real_ip_header = X-Forwarded-For\n'),
    env: {},
  })
  assert.equal(c.workers, 3)
  assert.equal(c.clientBodyTimeoutMs, 90_000)
  assert.equal(c.clientHeaderTimeoutMs, 20_000)
  assert.equal(c.largeHeaderBufferSize, 16 * 1024)
  assert.equal(c.realIpHeader, 'X-Forwarded-For')
  assert.equal(c.sources.client_body_timeout?.endsWith(':2 as nginx_http_client_body_timeout'), true)
  // The Sluice key set in the same layer wins; a higher layer's alias beats a lower layer's key.
  assert.equal(loadConfig({ file: conf('client_body_timeout = 5000\nnginx_http_client_body_timeout = 60s\n'), env: {} }).clientBodyTimeoutMs, 5000)
  assert.equal(loadConfig({ file: conf('nginx_worker_processes = 2\n'), env: { KONG_NGINX_MAIN_WORKER_PROCESSES: '4' } }).workers, 4)
  assert.throws(() => loadConfig({ env: { KONG_NGINX_HTTP_CLIENT_BODY_TIMEOUT: 'soon' } }), /nginx_http_client_body_timeout \(from KONG_NGINX_HTTP_CLIENT_BODY_TIMEOUT\): expected an nginx time/)
  assert.equal(loadConfig({ env: {} }).daemon, true)
  assert.equal(loadConfig({ env: { KONG_NGINX_DAEMON: 'off' } }).daemon, false)
  assert.equal(loadConfig({ env: { KONG_NGINX_MAIN_DAEMON: 'off' } }).daemon, false)
})

test('config: nginx times', () => {
  assert.equal(nginxTimeMs('60'), 60_000)
  assert.equal(nginxTimeMs('60s'), 60_000)
  assert.equal(nginxTimeMs('500ms'), 500)
  assert.equal(nginxTimeMs('1h30m'), 5_400_000)
  assert.equal(nginxTimeMs('1x'), null)
  assert.equal(nginxTimeMs(''), null)
})

test('config: keys Sluice ignores are warnings (Kong-only, nginx injections, typos); hybrid roles are refused', () => {
  const c = loadConfig({ file: conf('ssl_cert = /etc/cert.pem\nnginx_http_gzip = on\nlog_levle = debug\nrole = traditional\n'), env: {} })
  assert.equal(c.warnings?.length, 3)
  assert.match(c.warnings![0]!, /:1: ssl_cert is a Kong setting Sluice does not implement; ignored/)
  assert.match(c.warnings![1]!, /:2: nginx_http_gzip is an nginx directive injection/)
  assert.match(c.warnings![2]!, /:3: unknown key log_levle; ignored/)
  assert.throws(() => loadConfig({ env: { KONG_ROLE: 'data_plane' } }), /role \(from KONG_ROLE\): 'data_plane' is not supported: Sluice has no hybrid mode/)
  assert.throws(() => loadConfig({ env: {}, overrides: { no_such_key: '1' } }), /no_such_key: unknown configuration key/)
})

test('config: headers accept Kong\'s tokens only', () => {
  assert.deepEqual([...loadConfig({ env: { KONG_HEADERS: 'Server, Via, X-Kong-Upstream-Status' } }).headers], ['server', 'via', 'x-kong-upstream-status'])
  assert.equal(loadConfig({ env: { KONG_HEADERS: 'off' } }).headers.size, 0)
  assert.throws(() => loadConfig({ env: { KONG_HEADERS: 'server_tokens, X-Powered-By' } }), /headers: invalid entry 'X-Powered-By'/)
  assert.throws(() => loadConfig({ env: { KONG_HEADERS_UPSTREAM: 'Via' } }), /headers_upstream: invalid entry 'Via'/)
})

test('config: listen syntax as Kong parses it', () => {
  const l = (v: string): unknown => loadConfig({ env: { KONG_PROXY_LISTEN: v } }).proxyListen
  assert.deepEqual(l('off, 127.0.0.1:9000'), [], 'off as the first entry turns it off')
  assert.deepEqual(l('ssl 127.0.0.1:9443 backlog=10'), [{ host: '127.0.0.1', port: 9443, ssl: true, http2: false, reuseport: false, backlog: 10 }], 'flags in any position')
  assert.deepEqual(l('*:9000 proxy_protocol deferred bind ipv6only=on so_keepalive=30m::10'), [{ host: '0.0.0.0', port: 9000, ssl: false, http2: false, reuseport: false, backlog: null }])
  assert.equal((l('localhost:9000') as Array<{ host: string }>)[0]?.host, 'localhost')
  assert.equal((l('[::]:9000') as Array<{ host: string }>)[0]?.host, '::')
  assert.throws(() => l(':::9000'), /IPv6 address '::' needs brackets/)
  assert.throws(() => l('127.0.0.1:9000 sll'), /proxy_listen: unknown flag 'sll' in '127.0.0.1:9000 sll'/)
  assert.throws(() => l('300.0.0.1:9000'), /'300.0.0.1' is not an IP address or host name/)
  assert.throws(() => l('127.0.0.1'), /not of the form address:port/)
  assert.throws(() => l('ssl'), /no address/)
})

test('config: DNS keys checked as Kong checks them', () => {
  const c = loadConfig({ env: { KONG_DNS_RESOLVER: '127.0.0.1:5353, 10.0.0.1, ::1, [::1]:53', KONG_DNS_ORDER: 'last,A,aaaa' } })
  assert.equal(c.raw.dns_resolver, '127.0.0.1:5353, 10.0.0.1, ::1, [::1]:53')
  assert.throws(() => loadConfig({ env: { KONG_DNS_ORDER: 'LAST,MX' } }), /dns_order: invalid entry 'MX'/)
  assert.throws(() => loadConfig({ env: { KONG_DNS_RESOLVER: 'dns.example:53' } }), /dns_resolver must be a comma separated list in the form of IPv4\/6 or IPv4\/6:port, got 'dns.example:53'/)
  assert.throws(() => loadConfig({ env: { KONG_DNS_HOSTSFILE: '/nonexistent/hosts' } }), /dns_hostsfile: file does not exist/)
  assert.throws(() => loadConfig({ env: { KONG_DNS_VALID_TTL: 'long' } }), /dns_valid_ttl: expected a number of seconds/)
})
