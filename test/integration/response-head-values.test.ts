/**
 * The response head goes out of a worker in one writeHeader call (response-writer.ts): upstream
 * fields, plugin fields and Kong's own, each on its own line, whatever the path (the upstream's
 * head as it came, or the list the header filters worked on). A value holding CR or LF cannot end
 * its line early: it is escaped as %0D / %0A, as OpenResty's header setters escape it, so no
 * field can be injected. Read with a raw socket, so that the client's own parser hides nothing.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { connect } from 'node:net'
import { once } from 'node:events'
import { plugin, pluginGateway, withEntities } from '../helpers/kong-rows.ts'
import { route, service, snapshot, snapshotVersion } from '../helpers/worker-harness.ts'

/** The response head (up to the empty line) of one raw GET. */
async function rawHead (port: number, host: string): Promise<string> {
  const sock = connect(port, '127.0.0.1')
  await once(sock, 'connect')
  sock.write(`GET /x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
  let got = ''
  for await (const chunk of sock) {
    got += (chunk as Buffer).toString('latin1')
    const end = got.indexOf('\r\n\r\n')
    if (end >= 0) { sock.destroy(); return got.slice(0, end + 2) }
  }
  return got
}

test('response head: one field per line on both head paths; CR/LF in a value escaped, nothing injected', async (t) => {
  const up = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-up-a': 'one', 'x-up-b': ['two', 'three'], 'content-length': '2' })
    res.end('ok')
  })
  up.listen(0, '127.0.0.1')
  await once(up, 'listening')
  t.after(() => { up.close() })
  const port = (up.address() as { port: number }).port
  const { h } = await pluginGateway(t, { routes: [] })
  const svc = service({ host: '127.0.0.1', port })
  const plain = route({ hosts: ['plain.test'] }, svc)
  const filtered = route({ hosts: ['filtered.test'] }, svc)
  await h.publish(withEntities(snapshot([svc], [plain, filtered], snapshotVersion()), {
    plugins: [plugin('response-transformer', { add: { headers: ['x-added:v1', 'x-evil:a\r\nSet-Cookie: injected=1\nx-more: 2'] } }, { route: filtered })],
  }))
  const url = new URL(h.url)

  const a = await rawHead(Number(url.port), 'plain.test')
  const linesA = a.split('\r\n').filter((l) => l !== '')
  assert.match(linesA[0]!, /^HTTP\/1\.1 200 /)
  assert.ok(linesA.includes('x-up-a: one'), a)
  assert.ok(linesA.includes('x-up-b: two') && linesA.includes('x-up-b: three'), a)
  assert.ok(linesA.some((l) => /^Via: /i.test(l)) && linesA.some((l) => /^X-Kong-Request-Id: [0-9a-f]+$/i.test(l)), a)
  assert.equal(linesA.filter((l) => /^content-length:/i.test(l)).length, 1, a)

  const b = await rawHead(Number(url.port), 'filtered.test')
  const linesB = b.split('\r\n').filter((l) => l !== '')
  assert.ok(linesB.includes('x-up-a: one') && linesB.includes('x-added: v1'), b)
  assert.ok(linesB.includes('x-evil: a%0D%0ASet-Cookie: injected=1%0Ax-more: 2'), b)
  assert.ok(!linesB.some((l) => /^set-cookie:/i.test(l) || /^x-more:/i.test(l)), b)
  // Every line of the head is a field line: no bare CR or LF inside one.
  for (const l of linesB.slice(1)) assert.match(l, /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+: [^\r\n]*$/, l)
})
