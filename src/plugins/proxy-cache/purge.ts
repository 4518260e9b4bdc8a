/**
 * The worker side of proxy-cache's Admin API: answers a ProxyCacheRequest (messages.ts) from this
 * worker's store. worker/main.ts calls `onProxyCacheMessage` for `type: 'proxy-cache'` and posts
 * the result back. Reads do not change the LRU order.
 */
import { cacheStore, type CachedResponse } from './store.ts'
import type { KongCachedObject, ProxyCacheRequest, ProxyCacheResult } from './messages.ts'

/** Kong sets these with kong.response.set_header, so its stored (raw) header names keep this case. */
const KONG_CASE: Record<string, string> = { 'x-cache-key': 'X-Cache-Key', 'x-cache-status': 'X-Cache-Status' }

/** The entry as Kong's memory strategy stores it (JSON of {status, headers, body, ...}). */
export function kongObject (res: CachedResponse): KongCachedObject {
  const headers: Record<string, string | string[]> = {}
  const h = res.headers
  for (let i = 0; i + 1 < h.length; i += 2) {
    const k = KONG_CASE[h[i]!] ?? h[i]!
    const v = h[i + 1]!
    const prev = headers[k]
    if (prev === undefined) headers[k] = v
    else if (Array.isArray(prev)) prev.push(v)
    else headers[k] = [prev, v]
  }
  return {
    status: res.status,
    headers,
    body: res.body.toString('utf8'),
    body_len: res.body.length,
    timestamp: res.timestamp,
    ttl: res.ttl,
    version: res.version,
    req_body: res.reqBody,
  }
}

function dictionariesOf (msg: ProxyCacheRequest): readonly (string | null)[] {
  return msg.dictionaries ?? [null]
}

export function onProxyCacheMessage (msg: ProxyCacheRequest, workerId: number): ProxyCacheResult {
  const store = cacheStore()
  const now = Date.now()
  let found = false
  let entry: KongCachedObject | null = null
  switch (msg.op) {
    case 'flush':
      if (msg.dictionaries === null) store.flush(null)
      else for (const d of msg.dictionaries) store.flush(d)
      break
    case 'get':
    case 'purge': {
      const key = msg.key ?? ''
      for (const d of dictionariesOf(msg)) {
        const names = d === null ? store.dictionaries() : [d]
        for (const name of names) {
          const res = store.peek(name, key, now)
          if (res === undefined) continue
          found = true
          if (msg.op === 'get') {
            entry = kongObject(res)
            break
          }
          store.delete(name, key)
        }
        if (entry !== null) break
      }
      break
    }
  }
  return { type: 'proxy-cache-result', workerId, seq: msg.seq, found, entry }
}
