/**
 * Which entity has which DAO hooks (Kong's `dao = "kong.db.dao.<name>"` modules).
 */
import type { DaoHooks } from '../hooks.ts'
import { certificatesHooks, snisHooks } from './certificates.ts'
import { basicauthHooks, caCertificatesHooks } from './credentials.ts'
import { pluginsHooks } from './plugins.ts'
import { targetsHooks } from './targets.ts'
import { oauth2CredentialsHooks, oauth2TokensHooks } from '../../../plugins/oauth2/dao-hooks.ts'

const HOOKS: Record<string, DaoHooks> = {
  plugins: pluginsHooks,
  targets: targetsHooks,
  certificates: certificatesHooks,
  snis: snisHooks,
  ca_certificates: caCertificatesHooks,
  basicauth_credentials: basicauthHooks,
  oauth2_credentials: oauth2CredentialsHooks,
  oauth2_tokens: oauth2TokensHooks,
}

const NONE: DaoHooks = {}

export function hooksFor (entity: string): DaoHooks {
  return Object.hasOwn(HOOKS, entity) ? HOOKS[entity]! : NONE
}
