/**
 * DAO hooks of the oauth2 entities (primary side):
 * - oauth2_credentials: Kong's `transformations` hash `client_secret` when `hash_secret` is true;
 *   an update must then carry both fields ("all or none of these fields must be set");
 * - both credentials and tokens report their changes to the workers' token caches
 *   (invalidation.ts), sent once the transaction has ended.
 */
import { schemaViolation } from '../../db/schema/db-errors.ts'
import type { DaoHooks, Entity } from '../../db/dao/hooks.ts'
import { invalidate } from './invalidation.ts'
import { hashSecret } from './secret.ts'

const has = (o: Entity, k: string): boolean => Object.hasOwn(o, k) && o[k] !== undefined

export const oauth2CredentialsHooks: DaoHooks = {
  transform (ctx, entity) {
    if (ctx.op === 'update' && has(ctx.input, 'hash_secret') !== has(ctx.input, 'client_secret')) {
      throw schemaViolation({ '@entity': ["all or none of these fields must be set: 'hash_secret', 'client_secret'"] })
    }
    if (ctx.op === 'update' && !has(ctx.input, 'hash_secret')) return
    if (entity.hash_secret === true && typeof entity.client_secret === 'string') entity.client_secret = hashSecret(entity.client_secret)
  },
  async after (ctx, written) {
    invalidate(ctx.tx.client, { tokens: [], credentials: [written.id as string] })
  },
  async afterDelete (tx, entity) {
    invalidate(tx.client, { tokens: [], credentials: [entity.id as string] })
  },
}

export const oauth2TokensHooks: DaoHooks = {
  async after (ctx, written) {
    const tokens = [written.access_token, ctx.current?.access_token].filter((t): t is string => typeof t === 'string')
    invalidate(ctx.tx.client, { tokens, credentials: [] })
  },
  async afterDelete (tx, entity) {
    if (typeof entity.access_token === 'string') invalidate(tx.client, { tokens: [entity.access_token], credentials: [] })
  },
}
