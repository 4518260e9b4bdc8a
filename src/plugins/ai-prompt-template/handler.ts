/**
 * ai-prompt-template (kong/plugins/ai-prompt-template/handler.lua and
 * filters/render-prompt-template.lua, PRIORITY 773): a request whose `messages` (llm/v1/chat) or
 * `prompt` (llm/v1/completions) is a reference `{template://<name>}` is replaced by that
 * template rendered with the request's `properties` (templater.ts); the rendered text becomes the
 * upstream body as it is (the Content-Type is left alone).
 *
 * Errors answer 400 `{"error":{"message":...}}` with Kong's messages: a body that is not a JSON
 * object or array (whatever the Content-Type: the body is always read as JSON), both `messages`
 * and `prompt` set, neither set, an unknown template, bad properties, missing parameters. A
 * request that is not a reference passes untouched, or is refused when
 * `allow_untemplated_requests` is false. `log_original_request` puts the body as received under
 * `ai.payload.original_request` in the log entry (kong.log.set_serialize_value).
 *
 * Runs first of the AI prompt plugins: ai-prompt-decorator and ai-prompt-guard read the
 * rendered body.
 */
import type { PluginContext, PluginHandler } from '../types.ts'
import { truthy } from '../ai-shared/lua.ts'
import { badRequest, decodeBody, readRawBody, setSerializeValue } from '../ai-shared/request.ts'
import { render } from './templater.ts'

interface Template { name: string; template: string }
export interface AiPromptTemplateConfig {
  templates: Template[]
  allow_untemplated_requests: boolean
  log_original_request: boolean
  max_request_body_size: number
}

interface Prepared {
  readonly templates: ReadonlyMap<string, string>
  readonly allowUntemplated: boolean
  readonly logOriginal: boolean
  readonly maxBodySize: number
}

const PREFIX = '{template://'

/** The template name of a `{template://name}` reference, or null. */
export function templateName (reference: unknown): string | null {
  if (typeof reference !== 'string' || !reference.startsWith(PREFIX) || !reference.endsWith('}')) return null
  return reference.slice(PREFIX.length, -1)
}

function run (ctx: PluginContext, c: Prepared, raw: Buffer | null): void {
  if (c.logOriginal) setSerializeValue(ctx, 'ai.payload.original_request', raw === null ? null : raw.toString('utf8'))
  const body = decodeBody(raw, 'application/json')
  if (body === null) return badRequest(ctx, 'this LLM route only supports application/json requests')
  const request = Array.isArray(body) ? {} : body
  const messages = request.messages
  const prompt = request.prompt
  if (truthy(messages) && truthy(prompt)) return badRequest(ctx, "cannot run 'messages' and 'prompt' templates at the same time")
  const reference = truthy(messages) ? messages : prompt
  if (!truthy(reference)) return badRequest(ctx, "only 'llm/v1/chat' and 'llm/v1/completions' formats are supported for templating")
  const name = templateName(reference)
  if (name === null) {
    if (c.allowUntemplated) return
    return badRequest(ctx, 'this LLM route only supports templated requests')
  }
  const template = c.templates.get(name)
  if (template === undefined) return badRequest(ctx, `could not find template name [${name}]`)
  const properties = truthy(request.properties) ? request.properties : {}
  const r = render(template, properties)
  if (!r.ok) return badRequest(ctx, r.error)
  ctx.setRawBody(r.text)
}

export const handler: PluginHandler<AiPromptTemplateConfig, Prepared> = {
  name: 'ai-prompt-template',
  priority: 773,
  prepare (c) {
    const templates = new Map<string, string>()
    // the first template of a name wins, as Kong's linear search finds it
    for (const t of c.templates ?? []) if (!templates.has(t.name)) templates.set(t.name, t.template)
    return { templates, allowUntemplated: c.allow_untemplated_requests !== false, logOriginal: c.log_original_request === true, maxBodySize: c.max_request_body_size ?? 8192 }
  },
  access (ctx, c) {
    const raw = readRawBody(ctx, c.maxBodySize)
    return raw instanceof Promise ? raw.then((b) => { run(ctx, c, b) }) : run(ctx, c, raw)
  },
}
