/**
 * datadog through real worker threads and a real UDP socket (kong spec 03-plugins/08-datadog
 * 01-log_spec.lua): the default DogStatsD lines with the name/status/consumer tags, a custom
 * prefix, custom tag names, metrics with their own tags, stat types and no consumer identifier,
 * consumer_id with dashes made underscores, the agent address from KONG_DATADOG_AGENT_HOST /
 * KONG_DATADOG_AGENT_PORT when host and port are null, and a route without a service.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { consumer, keyauth, plugin, withEntities } from '../helpers/kong-rows.ts'
import { startEcho } from '../helpers/upstream.ts'
import { route, service, snapshot } from '../helpers/worker-harness.ts'
import type { RouteRow } from '../../src/common/snapshot.ts'
import { gateway, udpCollector, type Gateway } from './plugin-log-harness.ts'

type Row = Record<string, unknown> & { id: string }
const BAR_ID = '1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b'

async function get (url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await request(url, { headers })
  await res.body.dump()
  return res.statusCode
}

/** Service `svcName` with one key-auth route per path, consumer bar (custom_id bar), plus a serviceless /nosvc route. */
async function setup (t: TestContext, svcName: string, paths: string[], plugins: (routes: RouteRow[], noSvc: RouteRow) => Row[]): Promise<Gateway> {
  const echo = await startEcho()
  t.after(() => echo.close())
  const svc = service({ host: '127.0.0.1', port: echo.port, name: svcName })
  const routes = paths.map((p) => route({ paths: [p] }, svc))
  const noSvc = route({ paths: ['/nosvc'] }, null)
  const bar = consumer({ id: BAR_ID, username: 'bar-user', custom_id: 'bar' })
  const snap = withEntities(snapshot([svc], [...routes, noSvc]), {
    plugins: [...routes.map((r) => plugin('key-auth', {}, { route: r })), ...plugins(routes, noSvc)],
    consumers: [bar],
    keyauth_credentials: [keyauth(bar, 'kong')],
  })
  return await gateway(t, { snapshot: snap })
}

function sameLines (lines: readonly string[], patterns: ReadonlyArray<string | RegExp>): void {
  const left = [...lines]
  for (const p of patterns) {
    const i = left.findIndex((l) => typeof p === 'string' ? l === p : p.test(l))
    assert.ok(i >= 0, `no line for ${String(p)} in\n${left.join('\n')}`)
    left.splice(i, 1)
  }
  assert.deepEqual(left, [], 'unexpected lines')
}

const defaults = (prefix: string, tags: string): Array<string | RegExp> => {
  const t = tags.replace(/[|]/g, '\\|')
  return [
    `${prefix}.request.count:1|c|#${tags}`,
    new RegExp(`^${prefix}\\.latency:\\d+\\|ms\\|#${t}$`),
    new RegExp(`^${prefix}\\.request\\.size:\\d+\\|ms\\|#${t}$`),
    new RegExp(`^${prefix}\\.response\\.size:\\d+\\|ms\\|#${t}$`),
    new RegExp(`^${prefix}\\.upstream_latency:\\d+\\|ms\\|#${t}$`),
    new RegExp(`^${prefix}\\.kong_latency:\\d+\\|ms\\|#${t}$`),
  ]
}

test('datadog: the default metrics with name, status and consumer tags; prefix; custom tag names', async (t) => {
  const col = await udpCollector(t)
  const gw = await setup(t, 'dd.1', ['/a', '/b', '/c'], ([a, b, c]) => [
    plugin('datadog', { host: '127.0.0.1', port: col.port }, { route: a! }),
    plugin('datadog', { host: '127.0.0.1', port: col.port, prefix: 'prefix' }, { route: b! }),
    plugin('datadog', { host: '127.0.0.1', port: col.port, service_name_tag: 'upstream', status_tag: 'http_status', consumer_tag: 'user' }, { route: c! }),
  ])
  assert.equal(await get(`${gw.url}/a`, { apikey: 'kong' }), 200)
  // the service name's dots are made underscores
  sameLines(await col.next(6), defaults('kong', 'name:dd_1,status:200,consumer:bar,app:kong'))
  assert.equal(await get(`${gw.url}/b`, { apikey: 'kong' }), 200)
  sameLines((await col.next(12)).slice(6), defaults('prefix', 'name:dd_1,status:200,consumer:bar,app:kong'))
  assert.equal(await get(`${gw.url}/c`), 401)
  sameLines((await col.next(18)).slice(12), defaults('kong', 'upstream:dd_1,http_status:401,app:kong').map((p, i) =>
    // a 401 is not proxied: upstream latency is Kong's -1
    i === 4 ? 'kong.upstream_latency:-1|ms|#upstream:dd_1,http_status:401,app:kong' : p))
})

test('datadog: metrics with their own tags, stat types and consumer identifiers', async (t) => {
  const col = await udpCollector(t)
  const gw = await setup(t, 'dd3', ['/a', '/b'], ([a, b]) => [
    plugin('datadog', {
      host: '127.0.0.1', port: col.port,
      metrics: [
        { name: 'request_count', stat_type: 'counter', sample_rate: 1, tags: ['T2:V2', 'T3:V3', 'T4'] },
        { name: 'latency', stat_type: 'gauge', sample_rate: 0.5, tags: ['T2:V2:V3', 'T4'] },
        { name: 'request_size', stat_type: 'distribution', sample_rate: 1, tags: [] },
      ],
    }, { route: a! }),
    plugin('datadog', {
      host: '127.0.0.1', port: col.port,
      metrics: [
        { name: 'request_count', stat_type: 'counter', sample_rate: 1, consumer_identifier: 'consumer_id' },
        { name: 'request_count', stat_type: 'counter', sample_rate: 1, consumer_identifier: 'username' },
      ],
    }, { route: b! }),
  ])
  assert.equal(await get(`${gw.url}/a`, { apikey: 'kong' }), 200)
  sameLines(await col.next(3), [
    'kong.request.count:1|c|#name:dd3,status:200,T2:V2,T3:V3,T4',
    /^kong\.latency:\d+\|g\|@0\.5\|#name:dd3,status:200,T2:V2:V3,T4$/,
    /^kong\.request\.size:\d+\|d\|#name:dd3,status:200$/,
  ])
  assert.equal(await get(`${gw.url}/b`, { apikey: 'kong' }), 200)
  sameLines((await col.next(5)).slice(3), [
    `kong.request.count:1|c|#name:dd3,status:200,consumer:${BAR_ID.replace(/-/g, '_')}`,
    'kong.request.count:1|c|#name:dd3,status:200,consumer:bar-user',
  ])
})

test('datadog: a null host and port take KONG_DATADOG_AGENT_HOST / KONG_DATADOG_AGENT_PORT', async (t) => {
  const col = await udpCollector(t)
  const saved = { host: process.env.KONG_DATADOG_AGENT_HOST, port: process.env.KONG_DATADOG_AGENT_PORT }
  // worker threads copy the environment when they start
  process.env.KONG_DATADOG_AGENT_HOST = '127.0.0.1'
  process.env.KONG_DATADOG_AGENT_PORT = String(col.port)
  t.after(() => {
    for (const [k, v] of [['KONG_DATADOG_AGENT_HOST', saved.host], ['KONG_DATADOG_AGENT_PORT', saved.port]] as const) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })
  const gw = await setup(t, 'dd5', ['/a'], ([a]) => [plugin('datadog', { host: null, port: null }, { route: a! })])
  assert.equal(await get(`${gw.url}/a`, { apikey: 'kong' }), 200)
  sameLines(await col.next(6), defaults('kong', 'name:dd5,status:200,consumer:bar,app:kong'))
})

test('datadog: a route without a service sends an empty name tag; the request is not slowed by the plugin', async (t) => {
  const col = await udpCollector(t)
  const gw = await setup(t, 'dd9', [], (_, noSvc) => [
    plugin('datadog', { host: '127.0.0.1', port: col.port, queue_size: 2 }, { route: noSvc }),
    plugin('request-termination', { status_code: 200, message: 'OK' }, { route: noSvc }),
  ])
  const res = await request(`${gw.url}/nosvc`)
  assert.equal(res.statusCode, 200)
  assert.equal(await res.body.text(), '{"message":"OK"}')
  const lines = await col.next(6)
  assert.equal(lines.length, 6)
  for (const l of lines) assert.match(l, /\|#name:,status:200,app:kong$/)
  assert.ok(lines.includes('kong.upstream_latency:-1|ms|#name:,status:200,app:kong'))
})
