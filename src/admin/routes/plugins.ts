/**
 * Plugin endpoints beyond the generated ones (kong/api/routes/plugins.lua, kong.lua):
 * `/plugins/enabled`, `/schemas/plugins/{name}`, `/schemas/plugins/validate`, and PATCH on a
 * plugin with a form body, whose `config.*` arguments can only be typed once the plugin's name
 * (and so its schema) is known.
 */
import { daoFor } from '../../db/dao/index.ts'
import { schemaViolation } from '../../db/schema/db-errors.ts'
import { NOT_ENABLED } from '../../db/schema/entities/plugins.ts'
import { schemaToJson } from '../../db/schema/jsonable.ts'
import { processAutoFields } from '../../db/schema/process.ts'
import { getSchema } from '../../db/schema/registry.ts'
import { decodeUtf8 } from '../../db/schema/utf8.ts'
import { validateEntity } from '../../db/schema/validate.ts'
import { getPlugin } from '../../plugins/schemas.ts'
import { entityKey, type EndpointContext } from '../endpoints.ts'
import { inferArgs } from '../infer.ts'
import { NOT_FOUND, type Reply } from '../respond.ts'
import { decodeSegmentBytes, parentHandler, route, type Handler, type Route } from '../router.ts'

/** The plugin schemas shown and validated are those of enabled plugins only. */
function enabledSubschema (c: EndpointContext, name: string) {
  if (!c.enabledPlugins.has(name)) return undefined
  return getSchema('plugins')!.subschemas?.[name]
}

/** `/schemas/plugins/validate`: the plugins schema, with only enabled plugins known. */
export function validatePlugin (c: EndpointContext, params: Record<string, unknown>): Reply {
  const s = getSchema('plugins')!
  const r = processAutoFields(s, params, 'insert')
  let errors = 'errors' in r ? r.errors : undefined
  if (errors === undefined && 'entity' in r) {
    const name = r.entity.name
    errors = typeof name === 'string' && getPlugin(name) !== undefined && !c.enabledPlugins.has(name)
      ? { name: NOT_ENABLED.replace('%s', name) }
      : validateEntity(s, r.entity, true)
  }
  if (errors !== undefined) return { status: 400, body: schemaViolation(errors).errT }
  return { status: 200, body: { message: 'schema validation successful' } }
}

export function pluginRoutes (c: EndpointContext, generated: readonly Route[]): Route[] {
  const plugins = getSchema('plugins')!
  const dao = daoFor(plugins)

  const patch = (template: string): Route => {
    const parent = parentHandler(generated, template, 'PATCH')
    const h: Handler = async (call) => {
      if (call.bodyKind === 'args' && call.body.name === undefined) {
        const p = await dao.select(c.pool, entityKey(plugins, call.params.plugins!))
        if (p === null) return NOT_FOUND
        call.body.name = p.name
        inferArgs(call.body, plugins)
      }
      return await parent(call)
    }
    return route(template, { PATCH: h })
  }

  return [
    route('/plugins/enabled', {
      GET: async () => ({ status: 200, body: { enabled_plugins: [...c.enabledPlugins].sort() } }),
    }),
    route('/schemas/plugins/{name}', {
      GET: async (call) => {
        const name = String(decodeUtf8(decodeSegmentBytes(call.params.name!)))
        const sub = enabledSubschema(c, name)
        if (sub === undefined) return { status: 404, body: { message: `No plugin named '${name}'` } }
        return { status: 200, body: schemaToJson({ name, fields: sub.fields, ...(sub.entity_checks !== undefined ? { entity_checks: sub.entity_checks } : {}) }) }
      },
    }),
    // deprecated since Kong 1.2, still served: the config record alone (kong/api/routes/plugins.lua)
    route('/plugins/schema/{name}', {
      GET: async (call) => {
        const name = String(decodeUtf8(decodeSegmentBytes(call.params.name!)))
        const config = enabledSubschema(c, name)?.fields.config
        if (config === undefined) return { status: 404, body: { message: `No plugin named '${name}'` } }
        const entityChecks = config.entity_checks
        return { status: 200, body: schemaToJson({ name, fields: config.fields ?? {}, ...(entityChecks !== undefined ? { entity_checks: entityChecks } : {}) }) }
      },
    }),
    route('/schemas/plugins/validate', {
      POST: async (call) => validatePlugin(c, Object.assign(Object.create(null), call.rawQuery, call.body)),
    }),
    patch('/plugins/{plugins}'),
    patch('/routes/{routes}/plugins/{plugins}'),
    patch('/services/{services}/plugins/{plugins}'),
    patch('/consumers/{consumers}/plugins/{plugins}'),
  ]
}
