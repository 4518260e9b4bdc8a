/**
 * bot-detection (kong/plugins/bot-detection/handler.lua, PRIORITY 2500).
 *
 * The (trimmed) User-Agent is checked against `allow` (a match passes), then `deny`, then Kong's
 * built-in bot list (rules.ts); `deny` or a bot: 403 `Forbidden`. More than one User-Agent
 * header: 400 `Only one User-Agent header allowed`. No User-Agent: passes. Verdicts are cached per
 * configuration and agent string (Kong's per-conf LRU of 10^4 entries).
 */
import type { PluginHandler } from '../types.ts'
import { BOT_RULES } from './rules.ts'

export interface BotDetectionConfig {
  allow?: string[] | null
  deny?: string[] | null
}

const MATCH_EMPTY = 0
const MATCH_ALLOW = 1
const MATCH_DENY = 2
const MATCH_BOT = 3
const CACHE_SIZE = 10_000

interface Prepared {
  readonly allow: readonly RegExp[]
  readonly deny: readonly RegExp[]
  readonly cache: Map<string, number>
}

function examine (ua: string, c: Prepared): number {
  for (const r of c.allow) if (r.test(ua)) return MATCH_ALLOW
  for (const r of c.deny) if (r.test(ua)) return MATCH_DENY
  for (const r of BOT_RULES) if (r.test(ua)) return MATCH_BOT
  return MATCH_EMPTY
}

export const handler: PluginHandler<BotDetectionConfig, Prepared> = {
  name: 'bot-detection',
  priority: 2500,
  prepare (c) {
    return {
      allow: (c.allow ?? []).map((s) => new RegExp(s)),
      deny: (c.deny ?? []).map((s) => new RegExp(s)),
      cache: new Map(),
    }
  },
  access (ctx, c) {
    const ua = ctx.getHeaderAll('user-agent')
    if (ua === undefined) return
    if (typeof ua !== 'string') {
      ctx.error(400, 'Only one User-Agent header allowed')
      return
    }
    let match = c.cache.get(ua)
    if (match === undefined) {
      match = examine(ua.trim(), c)
      if (c.cache.size >= CACHE_SIZE) c.cache.clear()
      c.cache.set(ua, match)
    }
    if (match > MATCH_ALLOW) ctx.error(403)
  },
}
