/**
 * Every entity Sluice knows, in dependency order (a referenced entity before its referrers).
 * Adding an entity is a schema file, one line here, and a migration for its table.
 */
import type { EntitySchema } from '../types.ts'
import { services } from './services.ts'
import { routes } from './routes.ts'
import { consumers } from './consumers.ts'
import { certificates } from './certificates.ts'
import { snis } from './snis.ts'
import { caCertificates } from './ca-certificates.ts'
import { upstreams } from './upstreams.ts'
import { targets } from './targets.ts'
import { plugins } from './plugins.ts'
import { acls, basicauthCredentials, hmacauthCredentials, jwtSecrets, keyauthCredentials } from './credentials.ts'
import { oauth2AuthorizationCodes, oauth2Credentials, oauth2Tokens } from './oauth2.ts'
import { vaults } from './vaults.ts'
import { keySets } from './key-sets.ts'
import { keys } from './keys.ts'

export const ENTITIES: readonly EntitySchema[] = [
  certificates,
  snis,
  caCertificates,
  services,
  routes,
  consumers,
  upstreams,
  targets,
  plugins,
  vaults, // after the core entities, before the plugins' own, as in Kong's exports
  keySets,
  keys,
  keyauthCredentials,
  basicauthCredentials,
  acls,
  hmacauthCredentials,
  jwtSecrets,
  oauth2Credentials,
  oauth2AuthorizationCodes,
  oauth2Tokens,
]
