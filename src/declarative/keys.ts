/**
 * `key_sets` and `keys` in kong.yml (kong/db/schema/entities/key_sets.lua, keys.lua, with
 * typedefs.pem and typedefs.jwk). No Sluice plugin signs with them, but a Kong export that holds
 * them has to load: they are validated as Kong's schemas say (a JWK or a PEM pair that Node's
 * OpenSSL can load, the JWK's `kid` equal to the key's) and otherwise left out of what is served,
 * stored and exported.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto'
import type { EntitySchema, FieldDef } from '../db/schema/types.ts'
import { tags, typedefs } from '../db/schema/typedefs.ts'
import { validateEntity } from '../db/schema/validate.ts'
import { processAutoFields } from '../db/schema/process.ts'
import { plPretty } from '../db/schema/pretty.ts'

export const keySets: EntitySchema = {
  name: 'key_sets',
  primary_key: ['id'],
  endpoint_key: 'name',
  workspaceable: true,
  fields: {
    id: typedefs.uuid,
    name: { type: 'string', unique: true },
    tags,
    created_at: typedefs.auto_timestamp_s,
    updated_at: typedefs.auto_timestamp_s,
  },
}

const isString = (v: unknown): v is string => typeof v === 'string'

/** typedefs.pem's validate_pem_keys */
function validatePemKeys (v: unknown): string | undefined {
  if (v === null || typeof v !== 'object') return undefined
  const { private_key: priv, public_key: pub } = v as Record<string, unknown>
  let pubPem: string | undefined
  let privPem: string | undefined
  if (isString(pub)) {
    try { pubPem = createPublicKey({ key: pub, format: 'pem' }).export({ type: 'spki', format: 'pem' }) as string } catch { return 'could not load public key' }
  }
  if (isString(priv)) {
    try { privPem = createPublicKey(createPrivateKey({ key: priv, format: 'pem' })).export({ type: 'spki', format: 'pem' }) as string } catch (e) { return `could not load private key${(e as Error).message}` }
  }
  if (pubPem !== undefined && privPem !== undefined && pubPem !== privPem) return 'public key does not match private key'
  return undefined
}

const pem: FieldDef = {
  type: 'record',
  fields: {
    private_key: { type: 'string' },
    public_key: { type: 'string' },
  },
  entity_checks: [{ at_least_one_of: ['private_key', 'public_key'] }],
  custom_validator: validatePemKeys,
}

const jwkString: FieldDef = { type: 'string' }
const jwkStrings: FieldDef = { type: 'array', elements: { type: 'string' } }

/** typedefs.jwk, what a JWK's members may be. */
const jwkRecord: EntitySchema = {
  name: 'jwk',
  primary_key: [],
  fields: {
    issuer: jwkString, kty: jwkString, use: jwkString, key_ops: jwkStrings, alg: jwkString,
    kid: { type: 'string', required: true },
    x5u: jwkString, x5c: jwkStrings, x5t: jwkString, 'x5t#S256': jwkString, k: jwkString,
    x: jwkString, y: jwkString, crv: jwkString, n: jwkString, e: jwkString, d: jwkString,
    p: jwkString, q: jwkString, dp: jwkString, dq: jwkString, qi: jwkString, oth: jwkString,
    r: jwkString, t: jwkString,
  },
}

/** The custom entity check of keys.lua: a JWK that decodes, names the key's kid, and loads. */
function checkKey (e: Record<string, unknown>): true | string {
  if (isString(e.jwk)) {
    let j: unknown
    try { j = JSON.parse(e.jwk) } catch { return 'could not json decode jwk string' }
    if (j === null || typeof j !== 'object' || Array.isArray(j)) return 'could not json decode jwk string'
    const jwk = j as Record<string, unknown>
    if (jwk.kid !== e.kid) return 'kid in jwk.kid must be equal to keys.kid'
    try {
      if (jwk.kty === 'oct') { if (!isString(jwk.k)) throw new Error('no k') } else if (isString(jwk.d)) createPrivateKey({ key: jwk as never, format: 'jwk' }); else createPublicKey({ key: jwk as never, format: 'jwk' })
    } catch { return 'could not load JWK, likely not a valid key' }
    const p = processAutoFields(jwkRecord, jwk, 'insert')
    const errs = 'errors' in p ? p.errors : validateEntity(jwkRecord, p.entity, true)
    if (errs !== undefined) return plPretty(errs, '')
  }
  if (e.pem !== null && typeof e.pem === 'object') {
    const p = e.pem as Record<string, unknown>
    if (!isString(p.private_key) && !isString(p.public_key)) return 'need to supply a PEM formatted public and/or private key.'
  }
  return true
}

export const keys: EntitySchema = {
  name: 'keys',
  primary_key: ['id'],
  cache_key: ['kid', 'set'],
  endpoint_key: 'name',
  workspaceable: true,
  fields: {
    id: typedefs.uuid,
    set: { type: 'foreign', reference: 'key_sets', on_delete: 'cascade' },
    name: { type: 'string', unique: true },
    kid: { type: 'string', required: true },
    jwk: { type: 'string' },
    pem,
    tags,
    created_at: typedefs.auto_timestamp_s,
    updated_at: typedefs.auto_timestamp_s,
  },
  entity_checks: [
    { mutually_exclusive: ['jwk', 'pem'] },
    { at_least_one_of: ['jwk', 'pem'] },
    { custom_entity_check: { field_sources: ['jwk', 'pem', 'kid'], fn: checkKey } },
  ],
}
