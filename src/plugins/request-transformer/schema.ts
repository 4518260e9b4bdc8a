/**
 * request-transformer config (kong/plugins/request-transformer/schema.lua): `remove`, `rename`,
 * `replace`, `add`, `append` lists of `name` or `name:value`; body and querystring values may
 * hold `$(...)` Lua expressions, which must parse (Kong compiles them with penlight; headers
 * values are only checked as header names, as in Kong).
 */
import type { FieldDef } from '../../db/schema/types.ts'
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'
import { templateSyntaxError } from './template.ts'

const HEADER = /^[a-zA-Z0-9_-]+$/

/** `^([^:]+):*(.-)$` */
export function splitPair (entry: string): { name: string | undefined; value: string } {
  const m = /^([^:]+):*([\s\S]*)$/.exec(entry)
  return m === null ? { name: undefined, value: '' } : { name: m[1]!, value: m[2]! }
}

function checkForValue (entry: string): string | undefined {
  const { name, value } = splitPair(entry)
  if (name === undefined || value === '') return `key '${name ?? ''}' has no value`
  const err = templateSyntaxError(value)
  return err === undefined ? undefined : `value '${value}' is not in supported format, error:${err}`
}

function validateHeaders (pair: string, validateValue: boolean): string | undefined {
  const { name, value } = splitPair(pair)
  if (name === undefined || !HEADER.test(name)) return `'${name ?? 'nil'}' is not a valid header`
  if (validateValue && !HEADER.test(value)) return `'${value}' is not a valid header`
  return undefined
}

const list = (elements: FieldDef): FieldDef => ({ type: 'array', default: [], required: true, elements })
const strings = list({ type: 'string' })
const headers = list({ type: 'string', custom_validator: (v) => validateHeaders(v as string, false) })
const colonStrings = list({ type: 'string', custom_validator: (v) => checkForValue(v as string) })
const colonHeaderValues = list({ type: 'string', match: '^[^:]+:.*$', custom_validator: (v) => validateHeaders(v as string, false) })
const colonHeaders = list({ type: 'string', match: '^[^:]+:.*$', custom_validator: (v) => validateHeaders(v as string, true) })

const record = (fields: Record<string, FieldDef>): FieldDef => ({ type: 'record', fields })
const colonRecord = { body: colonStrings, headers: colonHeaderValues, querystring: colonStrings }

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols,
    config: {
      type: 'record',
      fields: {
        http_method: typedefs.http_method,
        remove: record({ body: strings, headers, querystring: strings }),
        rename: record({ body: colonStrings, headers: colonHeaders, querystring: colonStrings }),
        replace: record({ ...colonRecord, uri: { type: 'string' } }),
        add: record(colonRecord),
        append: record(colonRecord),
      },
    },
  },
}
