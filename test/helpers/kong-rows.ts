/**
 * Kong-shaped rows for plugin tests: plugin instances run through the real `plugins` entity
 * schema (so configs are validated and get Kong's defaults, as they arrive in a snapshot),
 * consumers and credentials as the Admin API stores them (basic-auth passwords hashed as
 * `sha1(password .. consumer_id)`), and a small gateway fixture: echo upstream + worker threads.
 */
import { createHash, randomUUID } from 'node:crypto'
import type { TestContext } from 'node:test'
import type { RouteRow, ServiceRow, Snapshot } from '../../src/common/snapshot.ts'
import { plugins as pluginsEntity } from '../../src/db/schema/entities/plugins.ts'
import { processAutoFields } from '../../src/db/schema/process.ts'
import type { SchemaLike } from '../../src/db/schema/types.ts'
import { validateEntity } from '../../src/db/schema/validate.ts'
import { startEcho, type Upstream } from './upstream.ts'
import { route, service, snapshot, startWorkers, type Harness } from './worker-harness.ts'

type Row = Record<string, unknown> & { id: string }
const now = (): number => Math.floor(Date.now() / 1000)

export interface Scope { route?: { id: string } | null; service?: { id: string } | null; consumer?: { id: string } | null }

/** A plugin row with Kong's defaults filled; throws on a config Kong would refuse. */
export function plugin (name: string, config: Record<string, unknown> = {}, scope: Scope = {}, extra: Record<string, unknown> = {}): Row {
  const input: Record<string, unknown> = { name, config, ...extra }
  if (scope.route != null) input.route = { id: scope.route.id }
  if (scope.service != null) input.service = { id: scope.service.id }
  if (scope.consumer != null) input.consumer = { id: scope.consumer.id }
  const schema = pluginsEntity as unknown as SchemaLike
  const r = processAutoFields(schema, input, 'insert')
  if ('errors' in r) throw new Error(`plugin ${name}: ${JSON.stringify(r.errors)}`)
  const errors = validateEntity(schema, r.entity)
  if (errors !== undefined) throw new Error(`plugin ${name}: ${JSON.stringify(errors)}`)
  return JSON.parse(JSON.stringify(r.entity)) as Row
}

export function consumer (fields: { username?: string | null; custom_id?: string | null; id?: string }): Row {
  return { id: fields.id ?? randomUUID(), username: fields.username ?? null, custom_id: fields.custom_id ?? null, created_at: now(), updated_at: now(), tags: null }
}

export function keyauth (c: Row, key: string, extra: Record<string, unknown> = {}): Row {
  return { id: randomUUID(), consumer: { id: c.id }, key, created_at: now(), tags: null, ttl: null, ...extra }
}

export function basicauth (c: Row, username: string, password: string): Row {
  const hash = createHash('sha1').update(password + c.id).digest('hex')
  return { id: randomUUID(), consumer: { id: c.id }, username, password: hash, created_at: now(), tags: null }
}

export function jwtSecret (c: Row, fields: { key: string; secret?: string | null; algorithm?: string; rsa_public_key?: string | null }): Row {
  return {
    id: randomUUID(), consumer: { id: c.id }, key: fields.key, secret: fields.secret ?? null,
    algorithm: fields.algorithm ?? 'HS256', rsa_public_key: fields.rsa_public_key ?? null, created_at: now(), tags: null,
  }
}

export function hmacauth (c: Row, username: string, secret: string): Row {
  return { id: randomUUID(), consumer: { id: c.id }, username, secret, created_at: now(), tags: null }
}

export function acl (c: Row, group: string): Row {
  return { id: randomUUID(), consumer: { id: c.id }, group, created_at: now(), tags: null }
}

export function withEntities (snap: Snapshot, entities: Record<string, Row[]>): Snapshot {
  return { ...snap, entities: { ...snap.entities, ...entities } }
}

export interface Fixture {
  h: Harness
  echo: Upstream
  url: string
  svc: ServiceRow
}

export interface FixtureOptions {
  /** Routes to add besides nothing; each gets the echo service unless `service: null` is given. */
  routes: Array<Partial<RouteRow> & { service?: ServiceRow | null }>
  plugins?: (routes: RouteRow[], svc: ServiceRow) => Row[]
  entities?: Record<string, Row[]>
  conf?: Record<string, string>
  workers?: number
}

/** Echo upstream + worker threads serving `routes` with the given plugin rows and entities. */
export async function pluginGateway (t: TestContext, opts: FixtureOptions): Promise<Fixture & { routes: RouteRow[] }> {
  const echo = await startEcho()
  t.after(() => echo.close())
  const svc = service({ host: '127.0.0.1', port: echo.port })
  const routes = opts.routes.map(({ service: s, ...fields }) => route(fields, s === undefined ? svc : s))
  const rows = opts.plugins?.(routes, svc) ?? []
  const snap = withEntities(snapshot([svc], routes), { plugins: rows, ...opts.entities })
  const h = await startWorkers({ snapshot: snap, workers: opts.workers ?? 1, conf: opts.conf })
  t.after(() => h.stop())
  return { h, echo, url: h.url, svc, routes }
}
