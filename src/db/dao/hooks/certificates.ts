/**
 * Certificates and their SNIs (kong/db/dao/certificates.lua, snis.lua): the transient `snis`
 * list of a certificate creates, keeps or deletes sni rows, a name already bound to another
 * certificate is refused, reads show the sorted names, and deleting a certificate deletes its
 * SNIs. A certificate row as read embeds its names, so any SNI change also records an update
 * event for the certificate(s) concerned.
 */
import { schemaViolation } from '../../schema/db-errors.ts'
import { recordEvent } from '../events.ts'
import type { DaoHooks, Entity, HookDao, Queryable, WriteCtx, WriteTx } from '../hooks.ts'

/** parse_name_list: a copy sorted by name; null means "none"; undefined "not given". */
function nameList (input: unknown): string[] | undefined {
  if (input === null) return []
  if (!Array.isArray(input)) return undefined
  const seen = new Set<string>()
  for (const n of input as string[]) {
    if (seen.has(n)) throw schemaViolation({ snis: `${n} is duplicated` })
    seen.add(n)
  }
  return [...seen].sort()
}

/** The names the write asks for: PATCH only when it sent `snis`, POST and PUT always. */
function requested (ctx: WriteCtx): string[] | undefined {
  return ctx.op === 'update' ? nameList(ctx.input.snis) : nameList(ctx.input.snis ?? null)
}

const certId = (sni: Entity): string | null => {
  const id = (sni.certificate as { id?: unknown } | null)?.id
  return typeof id === 'string' ? id : null
}

/** check_list_is_new: every name is free or already this certificate's. */
async function checkListIsNew (ctx: WriteCtx, names: string[], owner: string | null): Promise<void> {
  const snis = ctx.dao('snis')
  for (const name of names) {
    const row = await snis.selectByField(ctx.tx.client, 'name', name)
    if (row !== null && certId(row) !== owner) {
      throw schemaViolation({ snis: `${name} already associated with existing certificate '${certId(row) ?? ''}'` })
    }
  }
}

/** update_list: insert the new names, delete the dropped ones. */
async function updateList (tx: WriteTx, snis: HookDao, cert: string, names: string[]): Promise<void> {
  const current = await snis.rowsWhere(tx.client, 'certificate', cert)
  const have = new Set(current.map((r) => r.name as string))
  for (const name of names) if (!have.has(name)) await snis.insert(tx, { name, certificate: { id: cert } })
  for (const r of current) if (!names.includes(r.name as string)) await snis.delete(tx, { id: r.id as string })
}

export const certificatesHooks: DaoHooks = {
  async transform (ctx, entity) {
    const names = requested(ctx)
    if (names !== undefined) await checkListIsNew(ctx, names, ctx.op === 'insert' ? null : entity.id as string)
  },
  async after (ctx, written) {
    const names = requested(ctx)
    if (names !== undefined) await updateList(ctx.tx, ctx.dao('snis'), written.id as string, names)
  },
  async expand (q: Queryable, rows: Entity[]) {
    if (rows.length === 0) return
    const ids = rows.map((r) => r.id)
    const r = await q.query<{ certificate_id: string; name: string }>(
      'select "certificate_id", "name" from snis where "certificate_id" = any($1::uuid[]) order by "name"', [ids])
    const byCert = new Map<string, string[]>()
    for (const { certificate_id: c, name } of r.rows) {
      const list = byCert.get(c)
      if (list === undefined) byCert.set(c, [name])
      else list.push(name)
    }
    for (const row of rows) row.snis = byCert.get(row.id as string) ?? []
  },
  async beforeDelete (tx, entity, dao) {
    const snis = dao('snis')
    for (const s of await snis.rowsWhere(tx.client, 'certificate', entity.id as string)) await snis.delete(tx, { id: s.id as string })
  },
}

/** An SNI write or delete changes the `snis` of the certificates it leaves and joins. */
async function touchCertificates (tx: WriteTx, ids: Array<string | null>): Promise<void> {
  for (const id of new Set(ids)) {
    if (id !== null) await recordEvent(tx.client, tx.nodeId, 'certificates', 'update', id)
  }
}

export const snisHooks: DaoHooks = {
  async after (ctx, written) {
    await touchCertificates(ctx.tx, [ctx.current !== null ? certId(ctx.current) : null, certId(written)])
  },
  async afterDelete (tx, entity) {
    await touchCertificates(tx, [certId(entity)])
  },
}
