/** response-transformer config (kong/plugins/response-transformer/schema.lua). */
import type { FieldDef } from '../../db/schema/types.ts'
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'

const HEADER = /^[a-zA-Z0-9_-]+$/

function validateColonHeaders (pair: string): string | undefined {
  const m = /^([^:]+):*([\s\S]*)$/.exec(pair)
  const name = m?.[1]
  const value = m?.[2] ?? ''
  if (name === undefined || !HEADER.test(name)) return `'${name ?? 'nil'}' is not a valid header`
  if (!HEADER.test(value)) return `'${value}' is not a valid header`
  return undefined
}

const list = (elements: FieldDef): FieldDef => ({ type: 'array', default: [], required: true, elements })
const strings = list({ type: 'string' })
const colonStrings = list({ type: 'string', match: '^[^:]+:.*$' })
const jsonTypes = list({ type: 'string', one_of: ['boolean', 'number', 'string'] })
const colonRecord: FieldDef = { type: 'record', fields: { json: colonStrings, json_types: jsonTypes, headers: colonStrings } }

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols_http,
    config: {
      type: 'record',
      fields: {
        remove: { type: 'record', fields: { json: strings, headers: strings } },
        rename: {
          type: 'record',
          fields: {
            json: colonStrings,
            headers: list({ type: 'string', match: '^[^:]+:.*$', custom_validator: (v) => validateColonHeaders(v as string) }),
          },
        },
        replace: colonRecord,
        add: colonRecord,
        append: colonRecord,
      },
    },
  },
}
