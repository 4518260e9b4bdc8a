/**
 * Admin API calls and polling for integration tests that drive a real gateway: `adminCall` sends
 * JSON and parses the answer (null for an empty body); `until` asks again every 50 ms until the
 * probe gives a value (anything but undefined or false) and fails the test after `ms`. Polling is
 * for state only visible through the Admin API or traffic (health verdicts, rotation).
 */
import assert from 'node:assert/strict'
import { request } from 'undici'

export interface AdminAnswer { status: number; json: any } // eslint-disable-line @typescript-eslint/no-explicit-any

export async function adminCall (base: string, method: string, path: string, body?: unknown): Promise<AdminAnswer> {
  const r = await request(base + path, {
    method: method as 'GET',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await r.body.text()
  return { status: r.statusCode, json: text === '' ? null : JSON.parse(text) }
}

export async function until<T> (what: string, probe: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const t0 = Date.now()
  for (;;) {
    const v = await probe()
    if (v !== undefined && v !== false) return v
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
