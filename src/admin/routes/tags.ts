/**
 * `/tags` and `/tags/{tag}` (kong/api/routes/tags.lua, kong/db/strategies/postgres/tags.lua):
 * `{entity_name, entity_id, tag}` rows from the `tags` index, paged by entity id (and the tag's
 * position for `/tags`). A `tags` filter in the query is ignored here, as in Kong.
 */
import type { Pool } from '../../db/pool.ts'
import { invalidOffset, invalidSize, invalidUnique } from '../../db/schema/db-errors.ts'
import { plPretty } from '../../db/schema/pretty.ts'
import { typedefs } from '../../db/schema/typedefs.ts'
import { decodeUtf8 } from '../../db/schema/utf8.ts'
import { isUuid, validateField } from '../../db/schema/validate-field.ts'
import { MAX_PAGE_SIZE, PAGE_SIZE } from '../../db/dao/index.ts'
import { escapeUri, listArgs } from '../list-options.ts'
import type { EndpointContext } from '../endpoints.ts'
import type { Reply } from '../respond.ts'
import { decodeSegmentBytes, route, type Call, type Route } from '../router.ts'

interface TagRow { entity_id: string; entity_name: string; tag: string; ordinality?: number }

function encode (v: unknown[]): string {
  return Buffer.from(JSON.stringify(v)).toString('base64').replace(/=+$/, '')
}

/** The offset token: `[entity_id, ordinality]` (`[entity_id]` for one tag). */
function decode (token: string, withOrdinality: boolean): [string, number] {
  const body = token.split('=')[0]!
  if (!/^[A-Za-z0-9+/]*$/.test(body) || body.length % 4 === 1) throw invalidOffset(token, 'bad base64 encoding')
  let v: unknown
  try { v = JSON.parse(Buffer.from(body, 'base64').toString('utf8')) } catch { throw invalidOffset(token, 'bad json encoding') }
  if (!Array.isArray(v) || !isUuid(v[0])) throw invalidOffset(token, 'bad json encoding')
  const ord = v[1]
  if (withOrdinality && (typeof ord !== 'number' || !Number.isSafeInteger(ord))) throw invalidOffset(token, 'bad json encoding')
  return [v[0], withOrdinality ? ord as number : 0]
}

async function tagPage (pool: Pool, call: Call, tag: string | null): Promise<{ data: TagRow[]; offset?: string; suffix: string }> {
  const { options, nextSuffix } = listArgs(call.query, false)
  const size = options.size ?? PAGE_SIZE
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw invalidSize(`size must be an integer between 1 and ${MAX_PAGE_SIZE}`)
  const params: unknown[] = []
  const conds: string[] = []
  if (tag !== null) { params.push(tag); conds.push(`$${params.length} = any(tags)`) }
  if (options.offset !== undefined) {
    const [id, ord] = decode(options.offset, tag === null)
    params.push(id)
    const p = params.length
    if (tag === null) { params.push(ord); conds.push(`(entity_id > $${p}::uuid or (entity_id = $${p}::uuid and ordinality > $${p + 1}))`) } else conds.push(`entity_id > $${p}::uuid`)
  }
  params.push(size + 1)
  const where = conds.length > 0 ? ` where ${conds.join(' and ')}` : ''
  const sql = tag === null
    ? `select entity_id::text, entity_name, tag, ordinality from tags, unnest(tags) with ordinality as t(tag, ordinality)${where}` +
      ` order by entity_id, ordinality limit $${params.length}`
    : `select entity_id::text, entity_name from tags${where} order by entity_id limit $${params.length}`
  const rows = (await pool.query<TagRow>(sql, params)).rows
  const data = rows.slice(0, size).map((r) => ({ entity_name: r.entity_name, entity_id: r.entity_id, tag: tag ?? r.tag }))
  if (rows.length <= size) return { data, suffix: nextSuffix }
  const last = rows[size - 1]!
  return { data, offset: encode(tag === null ? [last.entity_id, Number(last.ordinality)] : [last.entity_id]), suffix: nextSuffix }
}

function reply (p: { data: TagRow[]; offset?: string }, next: string | null): Reply {
  return { status: 200, body: p.offset === undefined ? { data: p.data, next: null } : { data: p.data, offset: p.offset, next } }
}

export function tagRoutes (c: EndpointContext): Route[] {
  return [
    route('/tags', {
      GET: async (call) => {
        const p = await tagPage(c.pool, call, null)
        return reply(p, p.offset === undefined ? null : `/tags?offset=${escapeUri(p.offset)}${p.suffix}`)
      },
    }),
    route('/tags/{tags}', {
      GET: async (call) => {
        const raw = call.params.tags!
        const tag = decodeUtf8(decodeSegmentBytes(raw))
        const err = validateField(typedefs.tag, tag)
        if (err !== undefined || typeof tag !== 'string') throw invalidUnique('tag', typeof err === 'string' ? err : plPretty(err ?? 'invalid tag'))
        const p = await tagPage(c.pool, call, tag)
        return reply(p, p.offset === undefined ? null : `/tags/${raw}?offset=${escapeUri(p.offset)}`)
      },
    }),
  ]
}
