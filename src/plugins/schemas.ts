/**
 * The plugins Sluice knows on the primary / Admin API side: a static list of
 * `{ name, priority, version, schema, noConsumer, defaultProtocols }` (no filesystem scanning),
 * the `plugins` entity's subschemas built from it, and the `plugins` setting resolved to the
 * enabled names. PRIORITY values are those of each Kong handler.lua (reference kong.md 4.2).
 *
 * Kong's pre-function / post-function (Lua code) and the bundled plugins Sluice does not
 * implement have no entry: a name without an entry is "not enabled", as a Kong node answers for
 * a plugin it has not loaded.
 */
import type { EntityCheck, FieldDef, Subschema } from '../db/schema/types.ts'
import { KONG_VERSION } from '../common/meta.ts'
import { schema as keyAuth } from './key-auth/schema.ts'
import { schema as basicAuth } from './basic-auth/schema.ts'
import { schema as jwt } from './jwt/schema.ts'
import { schema as hmacAuth } from './hmac-auth/schema.ts'
import { schema as acl } from './acl/schema.ts'
import { schema as ipRestriction } from './ip-restriction/schema.ts'
import { schema as botDetection } from './bot-detection/schema.ts'
import { schema as cors } from './cors/schema.ts'
import { schema as requestSizeLimiting } from './request-size-limiting/schema.ts'
import { schema as requestTermination } from './request-termination/schema.ts'
import { schema as requestTransformer } from './request-transformer/schema.ts'
import { schema as responseTransformer } from './response-transformer/schema.ts'
import { schema as correlationId } from './correlation-id/schema.ts'
import { schema as proxyCache } from './proxy-cache/schema.ts'
import { schema as redirect } from './redirect/schema.ts'
import { schema as aiPromptTemplate } from './ai-prompt-template/schema.ts'
import { schema as aiPromptDecorator } from './ai-prompt-decorator/schema.ts'
import { schema as aiPromptGuard } from './ai-prompt-guard/schema.ts'
import { schema as standardWebhooks } from './standard-webhooks/schema.ts'
import { schema as azureFunctions } from './azure-functions/schema.ts'
import { schema as fileLog } from './file-log/schema.ts'
import { schema as httpLog } from './http-log/schema.ts'
import { schema as tcpLog } from './tcp-log/schema.ts'
import { schema as udpLog } from './udp-log/schema.ts'
import { schema as rateLimiting } from './rate-limiting/schema.ts'
import { schema as responseRatelimiting } from './response-ratelimiting/schema.ts'
import { schema as prometheus } from './prometheus/schema.ts'
import { schema as oauth2 } from './oauth2/schema.ts'
import { schema as statsd } from './statsd/schema.ts'
import { schema as datadog } from './datadog/schema.ts'
import { schema as loggly } from './loggly/schema.ts'
import { schema as syslog } from './syslog/schema.ts'
import { schema as session } from './session/schema.ts'

/** A plugin's schema as Kong writes it: `config` plus any entity field it narrows. */
export interface PluginSchema {
  readonly fields: {
    readonly config: FieldDef
    readonly protocols?: FieldDef
    readonly consumer?: FieldDef
    readonly route?: FieldDef
    readonly service?: FieldDef
  }
  readonly entity_checks?: readonly EntityCheck[]
}

export interface PluginEntry {
  readonly name: string
  /** Kong's PRIORITY: higher runs first. */
  readonly priority: number
  readonly version: string
  readonly schema: PluginSchema
  /** `consumer = typedefs.no_consumer`: the plugin cannot be scoped to a consumer. */
  readonly noConsumer: boolean
  /** `protocols` when the plugin entity does not set it. */
  readonly defaultProtocols: readonly string[]
}

function entry (name: string, priority: number, schema: PluginSchema): PluginEntry {
  const protocols = schema.fields.protocols?.default as string[] | undefined
  return {
    name,
    priority,
    version: KONG_VERSION,
    schema,
    noConsumer: schema.fields.consumer?.eq === null,
    defaultProtocols: protocols ?? ['grpc', 'grpcs', 'http', 'https'],
  }
}

export const PLUGINS: readonly PluginEntry[] = [
  entry('correlation-id', 100001, correlationId),
  entry('bot-detection', 2500, botDetection),
  entry('cors', 2000, cors),
  entry('session', 1900, session),
  entry('jwt', 1450, jwt),
  entry('oauth2', 1400, oauth2),
  entry('key-auth', 1250, keyAuth),
  entry('basic-auth', 1100, basicAuth),
  entry('hmac-auth', 1030, hmacAuth),
  entry('ip-restriction', 990, ipRestriction),
  entry('request-size-limiting', 951, requestSizeLimiting),
  entry('acl', 950, acl),
  entry('rate-limiting', 910, rateLimiting),
  entry('response-ratelimiting', 900, responseRatelimiting),
  entry('request-transformer', 801, requestTransformer),
  entry('response-transformer', 800, responseTransformer),
  entry('redirect', 779, redirect),
  entry('ai-prompt-template', 773, aiPromptTemplate),
  entry('ai-prompt-decorator', 772, aiPromptDecorator),
  entry('ai-prompt-guard', 771, aiPromptGuard),
  entry('standard-webhooks', 760, standardWebhooks),
  entry('azure-functions', 749, azureFunctions),
  entry('proxy-cache', 100, proxyCache),
  entry('prometheus', 13, prometheus),
  entry('http-log', 12, httpLog),
  entry('statsd', 11, statsd),
  entry('datadog', 10, datadog),
  entry('file-log', 9, fileLog),
  entry('udp-log', 8, udpLog),
  entry('tcp-log', 7, tcpLog),
  entry('loggly', 6, loggly),
  entry('syslog', 4, syslog),
  entry('request-termination', 2, requestTermination),
]

const byName = new Map(PLUGINS.map((p) => [p.name, p]))

export function getPlugin (name: string): PluginEntry | undefined {
  return byName.get(name)
}

/** kong/constants.lua BUNDLED_PLUGINS: what `plugins = bundled` means in Kong. */
export const KONG_BUNDLED = [
  'jwt', 'acl', 'correlation-id', 'cors', 'oauth2', 'tcp-log', 'udp-log', 'file-log', 'http-log', 'key-auth', 'hmac-auth',
  'basic-auth', 'ip-restriction', 'request-transformer', 'response-transformer', 'request-size-limiting', 'rate-limiting',
  'response-ratelimiting', 'syslog', 'loggly', 'datadog', 'ldap-auth', 'statsd', 'bot-detection', 'aws-lambda',
  'request-termination', 'prometheus', 'proxy-cache', 'session', 'acme', 'grpc-gateway', 'grpc-web', 'pre-function',
  'post-function', 'azure-functions', 'zipkin', 'opentelemetry', 'ai-proxy', 'ai-prompt-decorator', 'ai-prompt-template',
  'ai-prompt-guard', 'ai-request-transformer', 'ai-response-transformer', 'standard-webhooks', 'redirect',
] as const

/**
 * The `plugins` setting as enabled names: `bundled` stands for Kong's bundled list, `off` for
 * none; only names Sluice has an entry for are enabled (Kong refuses to start with a plugin it
 * cannot load; Sluice leaves it out). Sorted, without duplicates.
 */
export function enabledPlugins (configured: readonly string[]): string[] {
  const out = new Set<string>()
  for (const raw of configured) {
    const name = raw.trim()
    if (name === 'off') continue
    const names = name === 'bundled' ? KONG_BUNDLED : [name]
    for (const n of names) if (byName.has(n)) out.add(n)
  }
  return [...out].sort()
}

/** Entity.new_subschema's make_records_required: records are required unless they say not. */
function recordsRequired (f: FieldDef): FieldDef {
  if (f.type !== 'record' || f.fields === undefined) return f
  const fields: Record<string, FieldDef> = {}
  for (const [k, v] of Object.entries(f.fields)) fields[k] = v.type === 'record' ? recordsRequired(v) : v
  return { ...f, required: f.required ?? true, fields }
}

/** The `plugins` entity's subschemas, keyed by plugin name. */
export function pluginSubschemas (): Record<string, Subschema> {
  const out: Record<string, Subschema> = {}
  for (const p of PLUGINS) {
    const fields: Record<string, FieldDef> = {}
    for (const [k, v] of Object.entries(p.schema.fields)) if (v !== undefined) fields[k] = recordsRequired(v)
    out[p.name] = { name: p.name, fields, ...(p.schema.entity_checks !== undefined ? { entity_checks: p.schema.entity_checks } : {}) }
  }
  return out
}

/**
 * `database = off`: rate-limiting and response-ratelimiting offer no `cluster` policy (Kong's
 * schemas read kong.configuration.database when they load: `expected one of: local, redis`).
 * Changes the `one_of` lists in place, so the subschemas already built see it too. Call it once
 * the configuration is known, before the first validation.
 */
export function setDatabaseOff (off: boolean): void {
  const policies = off ? ['local', 'redis'] : ['local', 'cluster', 'redis']
  for (const name of ['rate-limiting', 'response-ratelimiting']) {
    const policy = byName.get(name)?.schema.fields.config.fields?.policy
    const list = policy?.one_of as unknown[] | undefined
    if (list !== undefined) list.splice(0, list.length, ...policies)
  }
}
