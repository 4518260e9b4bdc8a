/**
 * Credentials of the auth plugins, each owned by a consumer and deleted with it
 * (kong/plugins/{key-auth,basic-auth,jwt,hmac-auth,acl}/daos.lua). Secrets Kong generates
 * (`auto`) are random 32-character strings; basic-auth passwords are hashed on write by
 * dao/hooks/credentials.ts.
 */
import type { EntitySchema, FieldDef } from '../types.ts'
import { tags, typedefs } from '../typedefs.ts'
import { parseAnyKey } from '../validators/pem.ts'

const consumer: FieldDef = { type: 'foreign', reference: 'consumers', required: true, on_delete: 'cascade' }

export const keyauthCredentials: EntitySchema = {
  name: 'keyauth_credentials',
  ttl: true,
  primary_key: ['id'],
  endpoint_key: 'key',
  cache_key: ['key'],
  workspaceable: true,
  admin_api_name: 'key-auths',
  admin_api_nested_name: 'key-auth',
  fields: {
    id: typedefs.uuid,
    created_at: typedefs.auto_timestamp_s,
    consumer,
    key: { type: 'string', required: false, unique: true, auto: true },
    tags,
  },
}

export const basicauthCredentials: EntitySchema = {
  name: 'basicauth_credentials',
  primary_key: ['id'],
  cache_key: ['username'],
  endpoint_key: 'username',
  workspaceable: true,
  admin_api_name: 'basic-auths',
  admin_api_nested_name: 'basic-auth',
  fields: {
    id: typedefs.uuid,
    created_at: typedefs.auto_timestamp_s,
    consumer,
    username: { type: 'string', required: true, unique: true },
    password: { type: 'string', required: true, encrypted: true },
    tags,
  },
}

const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'EdDSA']

export const jwtSecrets: EntitySchema = {
  name: 'jwt_secrets',
  primary_key: ['id'],
  cache_key: ['key'],
  endpoint_key: 'key',
  workspaceable: true,
  admin_api_name: 'jwts',
  admin_api_nested_name: 'jwt',
  fields: {
    id: typedefs.uuid,
    created_at: typedefs.auto_timestamp_s,
    consumer,
    key: { type: 'string', required: false, unique: true, auto: true },
    secret: { type: 'string', auto: true },
    rsa_public_key: { type: 'string' },
    algorithm: { type: 'string', default: 'HS256', one_of: JWT_ALGORITHMS },
    tags,
  },
  entity_checks: [{
    conditional: {
      if_field: 'algorithm',
      if_match: { match_any: { patterns: ['^RS256$', '^RS384$', '^RS512$', '^PS256$', '^PS384$', '^PS512$', '^EdDSA$'], err: '' } },
      then_field: 'rsa_public_key',
      then_match: { required: true, custom_validator: (v) => 'err' in parseAnyKey(v as string) ? 'invalid key' : undefined },
    },
  }],
}

export const hmacauthCredentials: EntitySchema = {
  name: 'hmacauth_credentials',
  primary_key: ['id'],
  endpoint_key: 'username',
  cache_key: ['username'],
  workspaceable: true,
  admin_api_name: 'hmac-auths',
  admin_api_nested_name: 'hmac-auth',
  fields: {
    id: typedefs.uuid,
    created_at: typedefs.auto_timestamp_s,
    consumer,
    username: { type: 'string', required: true, unique: true },
    secret: { type: 'string', auto: true },
    tags,
  },
}

export const acls: EntitySchema = {
  name: 'acls',
  primary_key: ['id'],
  cache_key: ['consumer', 'group'],
  workspaceable: true,
  fields: {
    id: typedefs.uuid,
    created_at: typedefs.auto_timestamp_s,
    consumer,
    group: { type: 'string', required: true },
    tags,
  },
}
