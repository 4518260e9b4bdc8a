/**
 * ai-prompt-decorator (kong/plugins/ai-prompt-decorator/handler.lua and
 * filters/decorate-prompt.lua, PRIORITY 772): adds the configured chat messages before
 * (`prompts.prepend`) and after (`prompts.append`) the `messages` of an llm/v1/chat request, in
 * their configured order, and sends the request on as JSON.
 *
 * The body comes from the shared parse-request step (ai-shared/request.ts), so the plugin also
 * decorates a body ai-prompt-template rendered before it, and ai-prompt-guard after it checks the
 * decorated messages. A request without a non-empty `messages` array answers 400
 * `this LLM route only supports llm/chat type requests`; a `messages` value Kong's Lua cannot
 * walk (a non-empty string, a number, null) is a runtime error there, a 500 here too.
 */
import type { PluginContext, PluginHandler } from '../types.ts'
import { cjsonEncode, isTable, ipairs, len, LuaError, luaType, type Table } from '../ai-shared/lua.ts'
import { badRequest, parseConf, parseRequest, requestBodyTable, setRequestBodyTable, type ParseConf } from '../ai-shared/request.ts'

interface Message { role: string; content: string }
export interface AiPromptDecoratorConfig {
  prompts?: { prepend?: Message[] | null; append?: Message[] | null } | null
  max_request_body_size: number
  llm_format?: string | null
}

export interface Prepared {
  readonly prepend: readonly Message[]
  readonly append: readonly Message[]
  readonly parse: ParseConf
}

/** The decorated request: a copy of `request` whose `messages` has the prompts around it. */
export function decorate (request: Record<string, unknown>, c: Prepared): Record<string, unknown> {
  const messages: unknown[] = []
  for (const m of c.prepend) messages.push({ role: m.role, content: m.content })
  for (const m of ipairs(request.messages)) messages.push(m)
  for (const m of c.append) messages.push({ role: m.role, content: m.content })
  return { ...request, messages }
}

function run (ctx: PluginContext, c: Prepared): void {
  const request = requestBodyTable(ctx)
  const m = Array.isArray(request) ? undefined : (request as Record<string, unknown>).messages
  if (len(m === undefined || m === false ? [] : m) < 1) return badRequest(ctx, 'this LLM route only supports llm/chat type requests')
  if (!isTable(m)) throw new LuaError(`bad argument #1 to 'ipairs' (table expected, got ${luaType(m)})`)
  const decorated = decorate(request as Record<string, unknown>, c)
  ctx.setRawBody(cjsonEncode(decorated), 'application/json')
  setRequestBodyTable(ctx, decorated as Table)
}

export const handler: PluginHandler<AiPromptDecoratorConfig, Prepared> = {
  name: 'ai-prompt-decorator',
  priority: 772,
  prepare (c) {
    const copy = (list: Message[] | null | undefined): Message[] => (list ?? []).map((m) => ({ role: m.role, content: m.content }))
    return { prepend: copy(c.prompts?.prepend), append: copy(c.prompts?.append), parse: parseConf(c) }
  },
  access (ctx, c) {
    const p = parseRequest(ctx, c.parse)
    return p instanceof Promise ? p.then(() => { run(ctx, c) }) : run(ctx, c)
  },
}
