/**
 * file-log through real worker threads and a temp directory (kong spec
 * 03-plugins/04-file-log/01-log_spec.lua): JSON lines appended; `reopen = true` recreates a
 * deleted file, `reopen = false` keeps writing to the deleted one (lines lost, as in Kong); a
 * missing directory, a directory path and an unwritable file are logged and never fail the
 * request; /dev/null is accepted.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { request } from 'undici'
import { plugin } from '../helpers/kong-rows.ts'
import { echoGateway, fileLines } from './plugin-log-harness.ts'

async function tempDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-file-log-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function get (url: string, id: string): Promise<number> {
  const res = await request(url, { headers: { 'file-log-uuid': id } })
  await res.body.dump()
  return res.statusCode
}

function ids (lines: string[]): string[] {
  return lines.map((l) => (JSON.parse(l) as { request: { headers: Record<string, string> } }).request.headers['file-log-uuid']!)
}

test('file-log: appends one JSON line per request', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'file.log')
  const { gw } = await echoGateway(t, { plugins: () => [plugin('file-log', { path })] })
  for (const id of ['a', 'b', 'c']) assert.equal(await get(`${gw.url}/f`, id), 200)
  const lines = await fileLines(path, 3)
  assert.deepEqual(ids(lines), ['a', 'b', 'c'])
  const e = JSON.parse(lines[0]!) as { client_ip: string; response: { status: number } }
  assert.equal(e.client_ip, '127.0.0.1')
  assert.equal(e.response.status, 200)
  // Kong opens with mode 0644.
  assert.equal((await stat(path)).mode & 0o777, 0o644 & ~process.umask())
})

test('file-log: reopen = true recreates a deleted file on the next write', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'reopen.log')
  const { gw } = await echoGateway(t, { plugins: () => [plugin('file-log', { path, reopen: true })] })
  assert.equal(await get(gw.url, 'first'), 200)
  await fileLines(path, 1)
  await rm(path)
  assert.equal(await get(gw.url, 'second'), 200)
  assert.equal(await get(gw.url, 'third'), 200)
  assert.deepEqual(ids(await fileLines(path, 2)), ['second', 'third'])
})

test('file-log: reopen = false keeps the descriptor: lines after a delete are lost', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'kept.log')
  const mark = join(dir, 'mark.log')
  const { gw } = await echoGateway(t, {
    plugins: ([r]) => [plugin('file-log', { path }, { route: r }), plugin('file-log', { path: mark })],
    routes: [{ paths: ['/kept'] }, { paths: ['/mark'] }],
  })
  assert.equal(await get(`${gw.url}/kept`, 'one'), 200)
  await fileLines(path, 1)
  await rm(path)
  assert.equal(await get(`${gw.url}/kept`, 'two'), 200)
  // A later request on another sink shows the worker has run the write of 'two' by then.
  assert.equal(await get(`${gw.url}/mark`, 'mark'), 200)
  await fileLines(mark, 1)
  await assert.rejects(stat(path), { code: 'ENOENT' })
})

test('file-log: a missing directory, a directory and an unwritable file are logged; requests succeed', async (t) => {
  const dir = await tempDir(t)
  const ro = join(dir, 'readonly.log')
  await writeFile(ro, '')
  await chmod(ro, 0o444)
  const { gw } = await echoGateway(t, {
    routes: [{ paths: ['/nodir'] }, { paths: ['/isdir'] }, { paths: ['/ro'] }, { paths: ['/null'] }],
    plugins: ([a, b, c, d]) => [
      plugin('file-log', { path: join(dir, 'missing', 'x.log') }, { route: a }),
      plugin('file-log', { path: dir }, { route: b }),
      plugin('file-log', { path: ro }, { route: c }),
      plugin('file-log', { path: '/dev/null' }, { route: d }),
    ],
  })
  assert.equal(await get(`${gw.url}/nodir`, 'x'), 200)
  await gw.waitForLog(/\[file-log\] failed to open the file: No such file or directory/)
  assert.equal(await get(`${gw.url}/isdir`, 'x'), 200)
  await gw.waitForLog(/\[file-log\] failed to open the file: Is a directory/)
  if (process.getuid?.() !== 0) {
    assert.equal(await get(`${gw.url}/ro`, 'x'), 200)
    await gw.waitForLog(/\[file-log\] failed to open the file: Permission denied/)
  }
  assert.equal(await get(`${gw.url}/null`, 'x'), 200)
  assert.doesNotMatch(gw.stderr, /failed to open the file.*\/dev\/null/)
})
