import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatUwsInfo, formatUwsLoadError, loadUws, uwsInfo, type LoadContext } from './uws-load.ts'

const legacyOnNode22: LoadContext = {
  package: '@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0',
  build: '20.30.0-unofficial.0',
  node: '22.12.0',
  nodeAbi: '127',
  glibc: '2.36',
  platform: 'linux',
  arch: 'x64',
  abis: ['93', '108', '115'],
  binary: null,
}

const currentOnDebian12: LoadContext = {
  package: '@btc-vision/uwebsockets.js@20.57.0',
  build: '20.57.0',
  node: '20.20.2',
  nodeAbi: '115',
  glibc: '2.36',
  platform: 'linux',
  arch: 'x64',
  abis: ['115', '127', '137', '141'],
  binary: '/app/node_modules/uWebSockets.js/uws_linux_x64_115.node',
}

function oneParagraph (msg: string): void {
  assert.ok(!msg.includes('\n'), `not one paragraph: ${msg}`)
  assert.ok(msg.length < 1200, `too long (${msg.length})`)
}

test('no binary for this Node ABI (Node 22 with the 20.30 build): says which ABIs exist and what to install', () => {
  const e = formatUwsLoadError(new Error('no uws_linux_x64_127.node in /app/node_modules/uWebSockets.js'), legacyOnNode22)
  assert.equal(e.kind, 'abi')
  oneParagraph(e.message)
  assert.match(e.message, /has no binary for Node 22\.12\.0 \(ABI 127\) on linux-x64 with glibc 2\.36/)
  assert.match(e.message, /Node 16 \(ABI 93\), Node 18 \(ABI 108\), Node 20 \(ABI 115\) only/)
  // glibc 2.36: the current build cannot load here either, so: Node 20 here, or a newer system.
  assert.match(e.message, /either run Node 20 with the 20\.30\.0-unofficial\.0 build \(package\.json: "uWebSockets\.js": "npm:@trufflesuite\/uws-js-unofficial@20\.30\.0-unofficial\.0"/)
  assert.match(e.message, /glibc >= 2\.38 \(Debian 13, Ubuntu 24\.04\)/)
  assert.match(e.message, /"uWebSockets\.js": "github:uNetworking\/uWebSockets\.js#v20\.57\.0"/)
})

test('no binary for this Node ABI on a new enough glibc: points at the current build only', () => {
  const e = formatUwsLoadError(new Error("Cannot find module '/app/node_modules/uWebSockets.js/binaries/uws_linux_x64_137.node'"),
    { ...legacyOnNode22, node: '24.11.0', nodeAbi: '137', glibc: '2.41' })
  assert.equal(e.kind, 'abi')
  oneParagraph(e.message)
  assert.match(e.message, /use the official uWebSockets\.js v20\.57\.0 build \(package\.json: "uWebSockets\.js": "github:uNetworking\/uWebSockets\.js#v20\.57\.0"\)/)
})

test('needs a newer glibc (20.57 on Debian 12): the dlopen error as uWS 20.57 wraps it', () => {
  // The exact text uws.js of 20.57 throws on glibc 2.36 (measured on this host).
  const real = new Error('This version of uWS.js (v20.57.0) supports only Node.js versions 20, 22, 24 and 25 on (glibc) Linux, macOS and Windows, on Tier 1 platforms (https://github.com/nodejs/node/blob/master/BUILDING.md#platform-list).\n\n' +
    "Error: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found (required by /app/node_modules/uWebSockets.js/uws_linux_x64_115.node)")
  const e = formatUwsLoadError(real, currentOnDebian12)
  assert.equal(e.kind, 'glibc')
  oneParagraph(e.message)
  assert.match(e.message, /needs a newer glibc \(GLIBC_2\.38; this system has 2\.36\)/)
  assert.match(e.message, /glibc >= 2\.38 \(Debian 13, Ubuntu 24\.04 or newer\)/)
  assert.match(e.message, /set "uWebSockets\.js": "npm:@trufflesuite\/uws-js-unofficial@20\.30\.0-unofficial\.0" in package\.json and run npm install/)
  assert.match(e.message, /The loader said: Error: \/lib\/x86_64-linux-gnu\/libc\.so\.6: version `GLIBC_2\.38' not found/)
  assert.equal(e.cause, real)
})

test('needs a newer glibc on Node 22: staying on this system means Node 20 too', () => {
  const raw = { message: "/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found (required by /x/uws_linux_x64_127.node)", code: 'ERR_DLOPEN_FAILED' }
  const e = formatUwsLoadError(Object.assign(new Error(raw.message), { code: raw.code }), { ...currentOnDebian12, node: '22.12.0', nodeAbi: '127' })
  assert.equal(e.kind, 'glibc')
  assert.match(e.message, /stay on this system with Node 20 and the 20\.30\.0-unofficial\.0 build/)
})

test('anything else: kept, with the binary and the advice for this runtime', () => {
  const e = formatUwsLoadError('Module did not self-register', currentOnDebian12)
  assert.equal(e.kind, 'other')
  oneParagraph(e.message)
  assert.match(e.message, /could not be loaded on Node 20\.20\.2 \(ABI 115\) .* from \/app\/node_modules\/uWebSockets\.js\/uws_linux_x64_115\.node: Module did not self-register/)
})

test('loads on this host and reports the build, the Node ABI and glibc', () => {
  const before = uwsInfo()
  assert.equal(before.loaded, false)
  const uWS = loadUws()
  assert.equal(typeof uWS.App, 'function')
  assert.equal(loadUws(), uWS, 'loaded once per thread')
  const info = uwsInfo()
  assert.equal(info.loaded, true)
  assert.equal(info.build, before.build)
  assert.equal(info.nodeAbi, process.versions.modules)
  assert.equal(info.node, process.versions.node)
  assert.ok(info.binary?.endsWith(`uws_${process.platform}_${process.arch}_${process.versions.modules}.node`))
  if (process.platform === 'linux') assert.match(info.glibc ?? '', /^2\.\d+$/)
  assert.equal(info.package.endsWith(`@${info.build}`), true)
  assert.match(formatUwsInfo(info), new RegExp(`build ${info.build.replace(/\./g, '\\.')}\\) on Node ${process.versions.node}`))
  if (info.build === '20.30.0-unofficial.0') assert.equal(info.headerLimit.honoured, false)
  if (info.build === '20.57.0') assert.equal(info.headerLimit.honoured, true)
})
