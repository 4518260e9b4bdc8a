/**
 * proxy-cache config (kong/plugins/proxy-cache/schema.lua). Only the `memory` strategy exists;
 * Kong's check that the shared dict exists has no Sluice counterpart (any name is accepted).
 */
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols,
    config: {
      type: 'record',
      fields: {
        response_code: { type: 'array', default: [200, 301, 404], elements: { type: 'integer', between: [100, 900] }, len_min: 1, required: true },
        request_method: {
          type: 'array',
          default: ['GET', 'HEAD'],
          elements: { type: 'string', one_of: ['HEAD', 'GET', 'POST', 'PATCH', 'PUT'] },
          required: true,
        },
        content_type: { type: 'array', default: ['text/plain', 'application/json'], elements: { type: 'string' }, required: true },
        cache_ttl: { type: 'integer', default: 300, gt: 0 },
        strategy: { type: 'string', one_of: ['memory'], required: true },
        cache_control: { type: 'boolean', default: false, required: true },
        ignore_uri_case: { type: 'boolean', default: false, required: false },
        storage_ttl: { type: 'integer' },
        memory: { type: 'record', fields: { dictionary_name: { type: 'string', required: true, default: 'kong_db_cache' } } },
        vary_query_params: { type: 'array', elements: { type: 'string' } },
        vary_headers: { type: 'array', elements: { type: 'string' } },
        response_headers: {
          type: 'record',
          fields: {
            age: { type: 'boolean', default: true },
            'X-Cache-Status': { type: 'boolean', default: true },
            'X-Cache-Key': { type: 'boolean', default: true },
          },
        },
      },
    },
  },
}
