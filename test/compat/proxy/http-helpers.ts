/**
 * Shared pieces of the ports of Kong's spec/02-integration/05-proxy/*: Kong's blueprint inserts
 * done through the Admin API of a real node (each answer must be a 201), and one HTTP/1.1 request
 * over a raw socket whose head is exactly the given fields (undici adds and reorders fields).
 */
import assert from 'node:assert/strict'
import { adminCall } from '../../helpers/admin-api.ts'
import { rawExchange, type RawResponse } from '../../helpers/raw-http.ts'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Entity = Record<string, any>

/** POST `body` to `path` on the Admin API at `admin`; the created entity. */
export async function create (admin: string, path: string, body: Record<string, unknown>): Promise<Entity> {
  const r = await adminCall(admin, 'POST', path, body)
  assert.equal(r.status, 201, `${path}: ${JSON.stringify(r.json)}`)
  return r.json as Entity
}

/** One request whose head holds exactly `fields`, in order (the first should be Host). */
export function rawRequest (port: number, method: string, target: string, fields: ReadonlyArray<readonly [string, string]>, body = ''): Promise<RawResponse> {
  let head = `${method} ${target} HTTP/1.1\r\n`
  for (const [k, v] of fields) head += `${k}: ${v}\r\n`
  return rawExchange(port, head + '\r\n', body)
}
