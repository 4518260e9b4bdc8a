/**
 * `llm_format = bedrock | gemini`: the request side of Kong's format adapters
 * (kong/llm/adapters/bedrock.lua, gemini.lua `to_kong_req`), which turn a native Bedrock Converse
 * or Gemini generateContent body into the OpenAI chat shape the AI plugins read: the model and the
 * streaming flag from the URI (named captures `model` / `operation`, else the path), messages with
 * their parts as OpenAI content parts (text, image_url, tool calls and results), the system
 * prompt as a first `system` message, the inference parameters and tool declarations.
 *
 * Written over decoded JSON with Lua's semantics (lua.ts), so a body Kong's code would choke on
 * raises here too (a 500 either way). The response side (analytics, token counts) belongs to
 * ai-proxy, which Sluice does not have.
 */
import type { PluginContext } from '../types.ts'
import { cjsonEncode, first, hasNext, idx, ipairs, isTable, len, LuaError, luaToString, truthy, type Table } from './lua.ts'

export type LlmFormat = 'openai' | 'bedrock' | 'gemini'
type Obj = Record<string, unknown>

/** Lua's `a and b`. */
const and = (a: unknown, b: () => unknown): unknown => (truthy(a) ? b() : a)

function named (ctx: PluginContext): Obj | undefined {
  const c = ctx.uriCaptures as { named?: Obj } | null
  return c?.named ?? undefined
}

/** ngx.unescape_uri: `%XX` decoded, `+` read as a space, nil as ''. */
function unescapeUri (v: unknown): string {
  if (!truthy(v)) return ''
  const src = Buffer.from(luaToString(v), 'utf8')
  const out = Buffer.allocUnsafe(src.length)
  let n = 0
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!
    if (c === 0x25 && isHex(src[i + 1]) && isHex(src[i + 2])) {
      out[n++] = parseInt(String.fromCharCode(src[i + 1]!, src[i + 2]!), 16)
      i += 2
    } else {
      out[n++] = c === 0x2b ? 0x20 : c
    }
  }
  return out.subarray(0, n).toString('utf8')
}

function isHex (c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66))
}

function withParameters (out: Obj, params: Obj): void {
  for (const k in params) if (params[k] !== undefined) out[k] = params[k]
}

// ---- Gemini ----

const GEMINI_ROLES: Obj = { human: 'user', model: 'assistant', function: 'tool' }

function geminiPart (part: unknown): Obj | undefined {
  const text = idx(part, 'text')
  if (truthy(text)) return { type: 'text', text }
  const inline = idx(part, 'inline_data')
  if (truthy(inline)) {
    return { type: 'image_url', image_url: { url: `data:${luaToString(idx(inline, 'mime_type'))};base64,${luaToString(idx(inline, 'data'))}` } }
  }
  const file = idx(part, 'file_data')
  if (truthy(file)) return { type: 'image_url', image_url: { url: idx(file, 'file_uri') } }
  const call = idx(part, 'functionCall')
  if (truthy(call)) {
    return { type: 'function', function: { name: idx(call, 'name'), id: idx(call, 'name'), arguments: cjsonEncode(idx(call, 'args')) } }
  }
  return undefined
}

function geminiMessage (msg: unknown): Obj {
  const out: Obj = {}
  const role = idx(msg, 'role')
  if (typeof role === 'string') out.role = (Object.hasOwn(GEMINI_ROLES, role) ? GEMINI_ROLES[role] : undefined) ?? role
  const parts = idx(msg, 'parts')
  if (!isTable(parts)) return out
  const content = (): unknown[] => (out.content ??= []) as unknown[]
  const toolCalls = (): unknown[] => (out.tool_calls ??= []) as unknown[]
  if (len(parts) > 0) {
    for (const v of ipairs(parts)) {
      const part = geminiPart(v)
      if (truthy(idx(v, 'functionCall'))) {
        toolCalls().push(part)
      } else if (truthy(idx(v, 'function_response'))) {
        const res = idx(idx(v, 'function_response'), 'response')
        out.content = and(res, () => idx(res, 'content'))
      } else if (part !== undefined) {
        content().push(part)
      } else {
        content()
      }
    }
  } else if (hasNext(parts)) {
    const call = idx(parts, 'functionCall')
    const fr = idx(parts, 'function_response')
    if (truthy(call)) {
      toolCalls().push(call)
    } else if (truthy(fr)) {
      const res = idx(fr, 'response')
      out.content = cjsonEncode(and(res, () => idx(res, 'content')))
    } else {
      const part = geminiPart(parts)
      const list = content()
      if (part !== undefined) list.push(part)
    }
  }
  return out
}

function geminiMessages (contents: unknown, system: unknown): unknown[] | undefined {
  let messages: unknown[] | undefined
  for (const msg of ipairs(contents)) (messages ??= []).push(geminiMessage(msg))
  if (truthy(system)) {
    const parts = idx(system, 'parts')
    let text: unknown
    if (len(parts) > 0) text = idx(first(parts), 'text')
    else if (hasNext(parts)) text = idx(parts, 'text')
    if (truthy(text)) {
      if (messages === undefined) throw new LuaError("bad argument #1 to 'insert' (table expected, got nil)")
      messages.unshift({ role: 'system', content: [{ type: 'text', text }] })
    }
  }
  return messages
}

function geminiToKong (body: Table, ctx: PluginContext): Obj {
  const out: Obj = {}
  const n = named(ctx)
  let model = n?.model
  let operation = n?.operation
  if (!truthy(model) || !truthy(operation)) {
    const m = /\/models\/([^:]+):([^/]+)$/.exec(ctx.path)
    model = m?.[1] ?? model
    operation = m?.[2] ?? operation
  }
  out.model = model
  out.stream = operation === 'streamGenerateContent'
  const contents = idx(body, 'contents')
  if (isTable(contents)) {
    if (len(contents) > 0) out.messages = geminiMessages(contents, idx(body, 'system_instruction'))
    else if (hasNext(contents)) out.messages = [geminiMessage(contents)]
  }
  const config = idx(body, 'generationConfig')
  if (truthy(config)) {
    withParameters(out, {
      temperature: idx(config, 'temperature'),
      max_tokens: idx(config, 'maxOutputTokens'),
      top_p: idx(config, 'topP'),
      top_k: idx(config, 'topK'),
      stop: idx(config, 'stopSequences'),
    })
  }
  const tools = idx(body, 'tools')
  if (isTable(tools) && len(tools) > 0 && isTable(first(tools))) {
    const decls = idx(first(tools), 'function_declarations')
    if (truthy(decls) && len(decls) > 0) out.tools = ipairs(decls).map((tool) => ({ type: 'function', function: tool }))
  }
  return out
}

// ---- Bedrock ----

const BEDROCK_ROLES: Obj = { user: 'user', assistant: 'assistant', tool: 'tool' }

function bedrockPart (part: unknown): Obj | undefined {
  const text = idx(part, 'text')
  if (truthy(text)) return { type: 'text', text }
  const image = idx(part, 'image')
  if (truthy(image)) {
    const source = idx(image, 'source')
    const data = and(source, () => idx(source, 'bytes'))
    return { type: 'image_url', image_url: { url: `data:image/${luaToString(idx(image, 'format'))};base64,${luaToString(data)}` } }
  }
  const use = idx(part, 'toolUse')
  if (truthy(use)) {
    const input = idx(use, 'input')
    return { id: idx(use, 'toolUseId'), function: { name: idx(use, 'name'), arguments: cjsonEncode(truthy(input) ? input : {}) }, type: 'function' }
  }
  const result = idx(part, 'toolResult')
  if (truthy(result)) {
    const content = idx(result, 'content')
    const json = len(content) > 0 ? idx(first(content), 'json') : undefined
    return { tool_call_id: idx(result, 'toolUseId'), content: cjsonEncode(truthy(json) ? json : content) }
  }
  return undefined
}

function bedrockMessage (msg: unknown): Obj {
  const out: Obj = {}
  const role = idx(msg, 'role')
  if (typeof role === 'string') out.role = (Object.hasOwn(BEDROCK_ROLES, role) ? BEDROCK_ROLES[role] : undefined) ?? role
  const content = idx(msg, 'content')
  if (!isTable(content) || len(content) === 0) return out
  for (const v of ipairs(content)) {
    const part = bedrockPart(v)
    if (truthy(idx(v, 'toolUse'))) {
      ((out.tool_calls ??= []) as unknown[]).push(part)
    } else if (truthy(idx(v, 'toolResult'))) {
      out.role = 'tool'
      out.content = part!.content
      out.tool_call_id = part!.tool_call_id
    } else {
      const list = (out.content ??= []) as unknown[]
      if (part !== undefined) list.push(part)
    }
  }
  return out
}

function bedrockToKong (body: Table, ctx: PluginContext): Obj {
  const out: Obj = {}
  const n = named(ctx)
  let model = n?.model
  let operation = n?.operation
  if (!truthy(model) || !truthy(operation)) {
    const m = /\/model\/([^/]+)\/([^/]+)$/.exec(ctx.path)
    model = m?.[1] ?? model
    operation = m?.[2] ?? operation
  }
  out.model = unescapeUri(model)
  out.stream = operation === 'converse-stream'
  const messages = idx(body, 'messages')
  if (isTable(messages) && len(messages) > 0) {
    const list = ipairs(messages).map(bedrockMessage)
    const system = idx(body, 'system')
    const instruction = and(system, () => isTable(system) && len(system) > 0 && idx(first(system), 'text'))
    if (truthy(instruction)) list.unshift({ role: 'system', content: [{ type: 'text', text: instruction }] })
    out.messages = list
  }
  const config = idx(body, 'inferenceConfig')
  if (truthy(config)) {
    withParameters(out, {
      temperature: idx(config, 'temperature'),
      max_tokens: idx(config, 'maxTokens'),
      top_p: idx(config, 'topP'),
      stop: idx(config, 'stopSequences'),
    })
  }
  const toolConfig = idx(body, 'toolConfig')
  const tools = isTable(toolConfig) ? idx(toolConfig, 'tools') : undefined
  if (isTable(tools) && len(tools) > 0) {
    const list: unknown[] = []
    for (const tool of ipairs(tools)) {
      const spec = idx(tool, 'toolSpec')
      if (!truthy(spec)) continue
      const schema = idx(spec, 'inputSchema')
      const parameters = and(schema, () => idx(schema, 'json'))
      list.push({ type: 'function', function: { name: idx(spec, 'name'), description: idx(spec, 'description'), parameters: truthy(parameters) ? parameters : undefined } })
    }
    // cjson writes an empty Lua table as an object
    out.tools = list.length > 0 ? list : {}
  }
  return out
}

/** The request body in Kong's (OpenAI) shape for `format`. */
export function toKongRequest (format: 'bedrock' | 'gemini', body: Table, ctx: PluginContext): Obj {
  return format === 'bedrock' ? bedrockToKong(body, ctx) : geminiToKong(body, ctx)
}
