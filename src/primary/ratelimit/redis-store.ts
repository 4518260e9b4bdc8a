/**
 * The Redis counter store: every row of a tick in ONE script call (EVALSHA, EVAL on NOSCRIPT), the
 * same reservation as the PostgreSQL statement (pg-store.ts), done atomically by Redis.
 *
 * Keys are Kong's (`ratelimit:<route>:<service>:<identifier>:<period_date ms>:<period>`, an
 * integer usage counter, EXPIREAT the window start + the period as Kong's sync mode does); the
 * reservation of a counter lives beside it in `<key>:sluice-reserved`. One script touches many
 * keys: this is for a single Redis server (as Kong's policy is), not Redis Cluster.
 */
import { createHash } from 'node:crypto'
import type { RedisSettings, StoreKey } from '../../common/ratelimit/keys.ts'
import { RespClient, RespError, type RespValue } from './resp-client.ts'
import type { CounterStore, FlushResult, FlushRow } from './store.ts'

const SCRIPT = `
local out = {}
local n = #KEYS / 3
for i = 1, n do
  local k, rk, pk = KEYS[3*i-2], KEYS[3*i-1], KEYS[3*i]
  local j = 6*(i-1)
  local delta = tonumber(ARGV[j+2])
  local want = tonumber(ARGV[j+3])
  local lim = tonumber(ARGV[j+4])
  local exp = tonumber(ARGV[j+5])
  local w = tonumber(ARGV[j+6])
  local v
  if delta ~= 0 then
    v = redis.call('INCRBY', k, delta)
    if v == delta then redis.call('EXPIREAT', k, exp) end
  else
    v = tonumber(redis.call('GET', k) or '0')
  end
  if ARGV[j+1] == '1' then
    if w > 0 then
      lim = lim - math.floor(tonumber(redis.call('GET', pk) or '0') * w)
      if lim < 0 then lim = 0 end
    end
    local r = tonumber(redis.call('GET', rk) or '0')
    local base = math.max(r, v)
    local g
    if want >= 0 then g = math.min(want, math.max(0, lim - base)) else g = want end
    local nr = math.max(v, base + g)
    if nr ~= r then redis.call('SET', rk, nr, 'EXAT', exp) end
    out[i] = {v, nr, g, lim}
  else
    out[i] = {v, 0, 0, 0}
  end
end
return out
`
const SHA = createHash('sha1').update(SCRIPT).digest('hex')
const RESERVED_SUFFIX = ':sluice-reserved'

export class RedisCounterStore implements CounterStore {
  readonly key: StoreKey
  readonly client: RespClient
  statements = 0

  constructor (key: StoreKey, settings: RedisSettings) {
    this.key = key
    this.client = new RespClient(settings)
  }

  async flush (rows: readonly FlushRow[]): Promise<FlushResult[]> {
    const keys: string[] = []
    const argv: Array<string | number> = []
    for (const r of rows) {
      const k = r.key
      const sliding = k.prevStart !== null && k.redisPrevKey !== null
      keys.push(k.redisKey, k.redisKey + RESERVED_SUFFIX, sliding ? k.redisPrevKey! : k.redisKey)
      argv.push(k.table === 'rl' ? 1 : 0, r.delta, r.want, r.lim, k.windowStart + (sliding ? 2 : 1) * k.ttl, sliding ? r.weight : 0)
    }
    this.statements++
    let res: RespValue
    try {
      res = await this.client.command(['EVALSHA', SHA, keys.length, ...keys, ...argv])
    } catch (err) {
      if (!(err instanceof RespError) || !err.message.startsWith('NOSCRIPT')) throw err
      res = await this.client.command(['EVAL', SCRIPT, keys.length, ...keys, ...argv])
    }
    if (!Array.isArray(res) || res.length !== rows.length) throw new Error('redis: unexpected script answer')
    return res.map((v) => {
      const a = v as number[]
      return { value: a[0]!, reserved: a[1]!, granted: a[2]!, lim: a[3]! }
    })
  }

  async close (): Promise<void> {
    this.client.close()
  }
}
