/**
 * The `keys` entity (kong/db/schema/entities/keys.lua with typedefs.pem and typedefs.jwk): a key
 * named by `kid`, given either as a JWK text (`jwk`) or as a PEM pair (`pem`), optionally in a key
 * set. Both `jwk` and `pem.private_key` / `pem.public_key` are referenceable (`{vault://...}`):
 * a reference is stored as given and judged only once dereferenced. The cache key
 * `keys:<kid>:<set id>` (Kong's keys DAO) keeps a kid unique within its set. Key material is
 * read by validators/key-material.ts.
 */
import type { EntitySchema, ErrorTree, FieldDef, SchemaLike } from '../types.ts'
import { tags, typedefs } from '../typedefs.ts'
import { validateEntity } from '../validate.ts'
import { parseJwk, validateJwk, validatePemKeys } from '../validators/key-material.ts'
import { isReference } from '../../../vault/reference.ts'

/** kong/constants.lua KEY_FORMATS */
export const KEY_FORMATS = ['jwk', 'pem'] as const

/** typedefs.pem */
const pem: FieldDef = {
  type: 'record',
  required: false,
  fields: {
    private_key: { type: 'string', required: false, referenceable: true, encrypted: true },
    public_key: { type: 'string', referenceable: true, required: false },
  },
  entity_checks: [{ at_least_one_of: ['private_key', 'public_key'] }],
  custom_validator: validatePemKeys,
  description: 'A pair of PEM-encoded public and private keys, which can be either a string or a reference to a credential in Kong Vault. If provided as strings, they must be valid PEM-encoded keys.',
}

const jwkString: FieldDef = { type: 'string', required: false }
const jwkStrings: FieldDef = { type: 'array', required: false, elements: { type: 'string', required: false } }

/** typedefs.jwk: the members a JWK may have (its own checks are validateJwk's). */
const jwkRecord: SchemaLike = {
  name: 'jwk',
  fields: {
    issuer: jwkString,
    kty: jwkString,
    use: jwkString,
    key_ops: jwkStrings,
    alg: jwkString,
    kid: { type: 'string', required: true },
    x5u: jwkString,
    x5c: jwkStrings,
    x5t: jwkString,
    'x5t#S256': jwkString,
    k: jwkString,
    x: jwkString,
    y: jwkString,
    crv: jwkString,
    n: jwkString,
    e: jwkString,
    d: jwkString,
    p: jwkString,
    q: jwkString,
    dp: jwkString,
    dq: jwkString,
    qi: jwkString,
    oth: jwkString,
    r: jwkString,
    t: jwkString,
  },
}

/**
 * Schema:errors_to_string: entity-level messages first, then `field: message` for each field
 * (nested errors the same way), joined with "; ". Kong walks a Lua hash; fields are sorted here.
 */
export function errorsToString (errors: ErrorTree): string {
  if (typeof errors === 'string') return errors
  const msgs: string[] = []
  if (Array.isArray(errors)) {
    for (const e of errors) if (e !== undefined && e !== null) msgs.push(errorsToString(e))
    return msgs.join('; ')
  }
  const entity = errors['@entity']
  if (Array.isArray(entity)) for (const m of entity) if (typeof m === 'string') msgs.push(m)
  for (const k of Object.keys(errors).filter((x) => x !== '@entity').sort()) msgs.push(`${k}: ${errorsToString(errors[k]!)}`)
  return msgs.join('; ')
}

const isString = (v: unknown): v is string => typeof v === 'string'

/** keys.lua's custom entity check: a JWK that decodes, names the key's kid, loads and has JWK members; a PEM with a key. */
function checkKey (e: Record<string, unknown>): true | string {
  if (isString(e.jwk)) {
    if (isReference(e.jwk)) return true
    const j = parseJwk(e.jwk)
    if (j === null || typeof j !== 'object') return 'could not json decode jwk string'
    // a JSON array decodes to a Lua table too: it has no kid
    const jwk = (Array.isArray(j) ? {} : j) as Record<string, unknown>
    if (jwk.kid !== e.kid) return 'kid in jwk.kid must be equal to keys.kid'
    const loadErr = validateJwk(e.jwk)
    if (loadErr !== undefined) return loadErr
    const errs = validateEntity(jwkRecord, jwk, true)
    if (errs !== undefined) return errorsToString(errs)
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
    set: { type: 'foreign', description: 'The id of the Key Set with which to associate the key.', required: false, reference: 'key_sets', on_delete: 'cascade' },
    name: { type: 'string', description: 'The name to associate with the given keys.', required: false, unique: true },
    kid: { type: 'string', description: 'A unique identifier for a key.', required: true, unique: false },
    jwk: { type: 'string', description: 'A JSON Web Key represented as a string.', referenceable: true, encrypted: true },
    pem,
    tags,
    created_at: typedefs.auto_timestamp_s,
    updated_at: typedefs.auto_timestamp_s,
  },
  entity_checks: [
    { mutually_exclusive: KEY_FORMATS },
    { at_least_one_of: KEY_FORMATS },
    { custom_entity_check: { field_sources: ['jwk', 'pem', 'kid'], fn: checkKey } },
  ],
}
