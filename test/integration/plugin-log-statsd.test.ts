/**
 * statsd through real worker threads and real sockets (kong spec 03-plugins/06-statsd
 * 01-log_spec.lua): the default metrics with their exact names and stat types, the four tag
 * styles, prefix / hostname_in_prefix / sample rates / stat types, service and consumer
 * identifiers, requests no route matched (global.unmatched), allow_status_codes, packing into
 * udp_packet_size datagrams, TCP, and a target nobody listens on.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { hostname } from 'node:os'
import { request } from 'undici'
import { consumer, keyauth, plugin, withEntities } from '../helpers/kong-rows.ts'
import { freePort } from '../helpers/ports.ts'
import { startEcho } from '../helpers/upstream.ts'
import { route, service, snapshot } from '../helpers/worker-harness.ts'
import type { RouteRow, ServiceRow } from '../../src/common/snapshot.ts'
import { DEFAULT_WORKSPACE_ID } from '../../src/plugins/shared/serialize.ts'
import { gateway, tcpCollector, udpCollector, type Gateway } from './plugin-log-harness.ts'

type Row = Record<string, unknown> & { id: string }
const NODE = hostname().replace(/\./g, '_')

async function get (url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await request(url, { headers })
  await res.body.dump()
  return res.statusCode
}

interface Setup { gw: Gateway; svc: ServiceRow; routes: RouteRow[] }

/** One service (named `svcName`) with a route per path, key-auth on every route, consumer robert. */
async function setup (t: TestContext, svcFields: Partial<ServiceRow>, paths: string[], plugins: (routes: RouteRow[], svc: ServiceRow) => Row[]): Promise<Setup> {
  const echo = await startEcho()
  t.after(() => echo.close())
  const svc = service({ host: '127.0.0.1', port: echo.port, ...svcFields })
  const routes = paths.map((p) => route({ paths: [p] }, svc))
  const robert = consumer({ id: '7d0b5d2c-1e0a-4f55-9d0d-6c4b7a3e0f11', username: 'robert', custom_id: 'robert' })
  const snap = withEntities(snapshot([svc], routes), {
    plugins: [...routes.map((r) => plugin('key-auth', {}, { route: r })), ...plugins(routes, svc)],
    consumers: [robert],
    keyauth_credentials: [keyauth(robert, 'kong')],
  })
  const gw = await gateway(t, { snapshot: snap })
  return { gw, svc, routes }
}

/** `lines` match `patterns` one to one, in any order (a pattern is an exact string or a RegExp). */
function sameLines (lines: readonly string[], patterns: ReadonlyArray<string | RegExp>): void {
  const left = [...lines]
  for (const p of patterns) {
    const i = left.findIndex((l) => typeof p === 'string' ? l === p : p.test(l))
    assert.ok(i >= 0, `no line for ${String(p)} in\n${left.join('\n')}`)
    left.splice(i, 1)
  }
  assert.deepEqual(left, [], 'unexpected lines')
}

test('statsd: the default metrics, with Kong\'s names and stat types', async (t) => {
  const col = await udpCollector(t)
  const { gw, routes } = await setup(t, { name: 'statsd1' }, ['/s'], () => [plugin('statsd', { host: '127.0.0.1', port: col.port })])
  const r = routes[0]!.id
  const first = [
    'kong.service.statsd1.request.count:1|c',
    /^kong\.service\.statsd1\.latency:\d+\|ms$/,
    /^kong\.service\.statsd1\.request\.size:\d+\|c$/,
    'kong.service.statsd1.status.200:1|c',
    /^kong\.service\.statsd1\.response\.size:\d+\|c$/,
    'kong.service.statsd1.user.uniques:robert|s',
    'kong.service.statsd1.user.robert.request.count:1|c',
    /^kong\.service\.statsd1\.upstream_latency:\d+\|ms$/,
    /^kong\.service\.statsd1\.kong_latency:\d+\|ms$/,
    'kong.service.statsd1.user.robert.status.200:1|c',
    `kong.service.statsd1.workspace.${DEFAULT_WORKSPACE_ID}.status.200:1|c`,
    `kong.route.${r}.user.robert.status.200:1|c`,
  ]
  assert.equal(await get(`${gw.url}/s`, { apikey: 'kong' }), 200)
  sameLines(await col.next(12), first)
  // A 401 (key-auth) is counted under its status and without a consumer.
  assert.equal(await get(`${gw.url}/s`), 401)
  const second = await col.next(12 + 7)
  sameLines(second.slice(12), [
    'kong.service.statsd1.request.count:1|c',
    /^kong\.service\.statsd1\.latency:\d+\|ms$/,
    /^kong\.service\.statsd1\.request\.size:\d+\|c$/,
    'kong.service.statsd1.status.401:1|c',
    /^kong\.service\.statsd1\.response\.size:\d+\|c$/,
    /^kong\.service\.statsd1\.kong_latency:\d+\|ms$/,
    `kong.service.statsd1.workspace.${DEFAULT_WORKSPACE_ID}.status.401:1|c`,
  ])
})

test('statsd: tag styles carry service, route, workspace, consumer, node and status tags', async (t) => {
  const styles = ['dogstatsd', 'influxdb', 'librato', 'signalfx'] as const
  const cols = await Promise.all(styles.map(() => udpCollector(t)))
  const { gw, routes } = await setup(t, { name: 'statsd1' }, styles.map((s) => `/${s}`), (rs) =>
    styles.map((s, i) => plugin('statsd', { host: '127.0.0.1', port: cols[i]!.port, tag_style: s }, { route: rs[i]! })))
  for (const s of styles) assert.equal(await get(`${gw.url}/${s}`, { apikey: 'kong' }), 200)
  for (let i = 0; i < styles.length; i++) {
    const r = routes[i]!.id
    const tags = [['service', 'statsd1'], ['route', r], ['workspace', DEFAULT_WORKSPACE_ID], ['consumer', 'robert'], ['node', NODE], ['status', '200']]
    const kv = (sep: string): string => tags.map(([k, v]) => `${k}${sep}${v}`).join(',')
    const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    const line = (stat: string, value: string, kind: string): RegExp => {
      const v = `${value}\\|${kind}`
      switch (styles[i]) {
        case 'dogstatsd': return new RegExp(`^kong\\.${esc(stat)}:${v}\\|#${esc(kv(':'))}$`)
        case 'influxdb': return new RegExp(`^kong\\.${esc(stat)},${esc(kv('='))}:${v}$`)
        case 'librato': return new RegExp(`^kong\\.${esc(stat)}#${esc(kv('='))}:${v}$`)
        default: return new RegExp(`^kong\\.${esc(stat)}\\[${esc(kv('='))}\\]:${v}$`)
      }
    }
    // Only the six plain metrics: the per-user/status/workspace ones are not sent in tag mode.
    sameLines(await cols[i]!.next(6), [
      line('request.count', '1', 'c'), line('latency', '\\d+', 'ms'), line('request.size', '\\d+', 'c'),
      line('response.size', '\\d+', 'c'), line('upstream_latency', '\\d+', 'ms'), line('kong_latency', '\\d+', 'ms'),
    ])
  }
})

test('statsd: prefix, hostname_in_prefix, stat types, sample rates and identifiers', async (t) => {
  const col = await udpCollector(t)
  const { gw, svc, routes } = await setup(t, { name: 'my.api' }, ['/a', '/b'], (rs) => [
    plugin('statsd', {
      host: '127.0.0.1', port: col.port, prefix: 'prefix',
      metrics: [
        { name: 'request_count', stat_type: 'counter', sample_rate: 0.5 },
        { name: 'latency', stat_type: 'gauge', sample_rate: 1 },
        { name: 'unique_users', stat_type: 'set', consumer_identifier: 'consumer_id' },
        { name: 'status_count', stat_type: 'counter', sample_rate: 1, service_identifier: 'service_id' },
        { name: 'status_count_per_workspace', stat_type: 'counter', sample_rate: 1, workspace_identifier: 'workspace_name' },
        { name: 'request_per_user', stat_type: 'counter', sample_rate: 1, consumer_identifier: 'username', service_identifier: 'service_host' },
      ],
    }, { route: rs[0]! }),
    plugin('statsd', { host: '127.0.0.1', port: col.port, hostname_in_prefix: true, metrics: [{ name: 'request_count', stat_type: 'counter', sample_rate: 1 }] }, { route: rs[1]! }),
  ])
  void routes
  assert.equal(await get(`${gw.url}/a`, { apikey: 'kong' }), 200)
  sameLines(await col.next(6), [
    // service names have their dots made underscores
    'prefix.service.my_api.request.count:1|c|@0.5',
    /^prefix\.service\.my_api\.latency:\d+\|g$/,
    'prefix.service.my_api.user.uniques:7d0b5d2c-1e0a-4f55-9d0d-6c4b7a3e0f11|s',
    `prefix.service.${svc.id}.status.200:1|c`,
    'prefix.service.my_api.workspace.default.status.200:1|c',
    'prefix.service.127_0_0_1.user.robert.request.count:1|c',
  ])
  assert.equal(await get(`${gw.url}/b`, { apikey: 'kong' }), 200)
  const lines = await col.next(7)
  assert.equal(lines[6], `kong.node.${NODE}.service.my_api.request.count:1|c`)
})

test('statsd: an unnamed service logs as service.unnamed with service_name, as its host by default', async (t) => {
  const col = await udpCollector(t)
  const one = [{ name: 'request_count', stat_type: 'counter', sample_rate: 1 }]
  const { gw } = await setup(t, {}, ['/a', '/b'], (rs) => [
    plugin('statsd', { host: '127.0.0.1', port: col.port, metrics: one, service_identifier_default: 'service_name' }, { route: rs[0]! }),
    plugin('statsd', { host: '127.0.0.1', port: col.port, metrics: one }, { route: rs[1]! }),
  ])
  assert.equal(await get(`${gw.url}/a`, { apikey: 'kong' }), 200)
  assert.deepEqual(await col.next(1), ['kong.service.unnamed.request.count:1|c'])
  assert.equal(await get(`${gw.url}/b`, { apikey: 'kong' }), 200)
  assert.deepEqual((await col.next(2))[1], 'kong.service.127_0_0_1.request.count:1|c')
})

test('statsd: a request no route matched is logged under global.unmatched, without upstream latency', async (t) => {
  const col = await udpCollector(t)
  const { gw } = await setup(t, { name: 'statsd1' }, ['/s'], () => [plugin('statsd', { host: '127.0.0.1', port: col.port })])
  assert.equal(await get(`${gw.url}/nowhere`), 404)
  sameLines(await col.next(7), [
    'kong.global.unmatched.request.count:1|c',
    /^kong\.global\.unmatched\.latency:\d+\|ms$/,
    /^kong\.global\.unmatched\.request\.size:\d+\|c$/,
    'kong.global.unmatched.status.404:1|c',
    /^kong\.global\.unmatched\.response\.size:\d+\|c$/,
    /^kong\.global\.unmatched\.kong_latency:\d+\|ms$/,
    `kong.global.unmatched.workspace.${DEFAULT_WORKSPACE_ID}.status.404:1|c`,
  ])
})

test('statsd: allow_status_codes leaves out other statuses', async (t) => {
  const col = await udpCollector(t)
  const { gw } = await setup(t, { name: 'statsd1' }, ['/s'], () => [
    plugin('statsd', { host: '127.0.0.1', port: col.port, allow_status_codes: ['200-205', '500-599'], metrics: [{ name: 'status_count', stat_type: 'counter', sample_rate: 1 }] }),
  ])
  assert.equal(await get(`${gw.url}/s`), 401)
  assert.equal(await get(`${gw.url}/nowhere`), 404)
  assert.equal(await get(`${gw.url}/s`, { apikey: 'kong' }), 200)
  // The 401 and 404 sent nothing: the first datagram is the 200's.
  assert.deepEqual(await col.next(1), ['kong.service.statsd1.status.200:1|c'])
})

test('statsd: udp_packet_size packs the lines of a batch into datagrams, splitting where the next line does not fit', async (t) => {
  const col = await udpCollector(t)
  const metrics = [
    { name: 'request_count', stat_type: 'counter', sample_rate: 1 },
    { name: 'status_count', stat_type: 'counter', sample_rate: 1 },
    { name: 'request_per_user', stat_type: 'counter', sample_rate: 1 },
  ]
  const { gw } = await setup(t, { name: 'statsd19' }, ['/big', '/small'], (rs) => [
    plugin('statsd', { host: '127.0.0.1', port: col.port, metrics, udp_packet_size: 500 }, { route: rs[0]! }),
    // 'kong.service.statsd19.request.count:1|c' is 39 bytes: two lines do not fit in 70
    plugin('statsd', { host: '127.0.0.1', port: col.port, metrics, udp_packet_size: 70 }, { route: rs[1]! }),
  ])
  assert.equal(await get(`${gw.url}/big`, { apikey: 'kong' }), 200)
  assert.deepEqual(await col.next(1), [
    'kong.service.statsd19.request.count:1|c\nkong.service.statsd19.status.200:1|c\nkong.service.statsd19.user.robert.request.count:1|c',
  ])
  assert.equal(await get(`${gw.url}/small`, { apikey: 'kong' }), 200)
  assert.deepEqual((await col.next(3)).slice(1), [
    'kong.service.statsd19.request.count:1|c',
    'kong.service.statsd19.status.200:1|c',
  ])
  // 'kong.service.statsd19.user.robert.request.count:1|c' (51 bytes) would not fit after the
  // status line (36 + 1 + 51 > 70), so it is the last datagram, alone.
  assert.deepEqual((await col.next(4))[3], 'kong.service.statsd19.user.robert.request.count:1|c')
})

test('statsd: use_tcp sends newline-terminated lines over TCP', async (t) => {
  const col = await tcpCollector(t)
  const { gw } = await setup(t, { name: 'statsd18' }, ['/s'], () => [
    plugin('statsd', { host: '127.0.0.1', port: col.port, use_tcp: true, metrics: [{ name: 'request_count', stat_type: 'counter', sample_rate: 1 }, { name: 'status_count', stat_type: 'counter', sample_rate: 1 }] }),
  ])
  assert.equal(await get(`${gw.url}/s`, { apikey: 'kong' }), 200)
  assert.deepEqual(await col.next(2), ['kong.service.statsd18.request.count:1|c', 'kong.service.statsd18.status.200:1|c'])
})

test('statsd: a target nobody listens on does not slow or fail requests', async (t) => {
  const port = await freePort()
  const { gw } = await setup(t, { name: 'statsd1' }, ['/s'], () => [plugin('statsd', { host: '127.0.0.1', port })])
  const t0 = performance.now()
  for (let i = 0; i < 5; i++) assert.equal(await get(`${gw.url}/s`, { apikey: 'kong' }), 200)
  assert.ok(performance.now() - t0 < 2000)
})

test('statsd: a host that cannot be resolved is logged; requests succeed', async (t) => {
  const { gw } = await setup(t, { name: 'statsd1' }, ['/s'], () => [
    plugin('statsd', { host: 'nowhere.invalid', port: 8125, queue: { max_retry_time: 0.05, initial_retry_delay: 0.01 } }),
  ])
  assert.equal(await get(`${gw.url}/s`, { apikey: 'kong' }), 200)
  await gw.waitForLog(/statsd plugin .* handler could not process entries: failed to connect to nowhere\.invalid:8125/)
})
