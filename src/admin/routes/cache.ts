/**
 * `/cache` and `/cache/{key}` (kong/api/routes/cache.lua). Kong answers from its Lua caches
 * (`kong.cache`, `kong.core_cache`): entities and plugin values looked up by key, held in shared
 * dicts. Sluice has no such cache: every worker holds the whole configuration, compiled, and
 * changes reach it through the snapshot, so there is never a cached value to show or to purge.
 * The endpoints answer as Kong's do with empty caches: a key is always a miss (404 Not found),
 * purging a key or everything succeeds (204).
 */
import { NOT_FOUND, type Reply } from '../respond.ts'
import { route, type Route } from '../router.ts'

const PURGED: Reply = { status: 204 }

export function cacheRoutes (): Route[] {
  return [
    route('/cache/{key}', {
      GET: async (): Promise<Reply> => NOT_FOUND,
      DELETE: async (): Promise<Reply> => PURGED,
    }),
    route('/cache', { DELETE: async (): Promise<Reply> => PURGED }),
  ]
}
