/**
 * The `env` vault (kong/vaults/env): a secret is an environment variable of the node. The name is
 * the configured `prefix` followed by the resource, upper-cased with `-` read as `_`
 * (`{vault://env/my-secret}` reads `MY_SECRET`); version 2 reads `<NAME>_PREVIOUS`.
 */
import type { Fields } from '../db/schema/types.ts'
import type { VaultStrategy } from './types.ts'

const CONFIG_FIELDS: Fields = {
  prefix: {
    type: 'string',
    match: '^[%a_-][%a%d_-]*$',
    description: 'The prefix for the environment variable that the value will be stored in.',
  },
}

export const envVault: VaultStrategy = {
  name: 'env',
  configFields: CONFIG_FIELDS,
  get (config, resource, version) {
    const prefix = config.prefix
    let name = (typeof prefix === 'string' ? prefix + resource : resource).replace(/-/g, '_').toUpperCase()
    if (version === 2) name += '_PREVIOUS'
    return process.env[name]
  },
}
