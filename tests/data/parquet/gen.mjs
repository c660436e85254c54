// gen.mjs - writes the parquet fixtures in this folder with hyparquet-writer
// and, next to each NAME.parquet, NAME.expected.jsonl: every row as an
// independent reader (hyparquet) decodes it, one JSON object per line.
// Regenerate with: npm install && sh gen.sh   (needs the zstd command
// for the ZSTD fixture: node 20 has no zstd in zlib).
//
// Expected-value conventions (the same as tessera parquet head --json):
// INT64 as a JSON number, a null as null, BYTE_ARRAY without a string
// annotation and FIXED_LEN_BYTE_ARRAY as "0x" + hex, lists as arrays.
//
// What hyparquet-writer 0.17 can write: DATA_PAGE_V2 pages only, PLAIN,
// RLE_DICTIONARY (dictionary pages), RLE booleans, DELTA_*; any codec we
// give it a compressor for.  DATA_PAGE (v1) pages with PLAIN_DICTIONARY
// come from the real pyarrow files in ../shared/data/parquet (snappy) and,
// for every codec, from the v1_CODEC files below: laid out here page by
// page (DataPageHeader v1: 4-byte-length-prefixed RLE definition levels,
// then the values, all compressed together) with hyparquet-writer's own
// page-header, PLAIN, RLE and footer serialisers; hyparquet reads them back
// for the expected rows like every other file.
import { parquetWriteBuffer, ByteWriter } from 'hyparquet-writer'
import { writePageHeader } from 'hyparquet-writer/src/datapage.js'
import { writeMetadata } from 'hyparquet-writer/src/metadata.js'
import { writePlain } from 'hyparquet-writer/src/plain.js'
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js'
import { snappyCompress } from 'hyparquet-writer/src/snappy.js'
import { parquetReadObjects } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
import { gzipSync } from 'node:zlib'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'

const here = new URL('.', import.meta.url).pathname

// deterministic pseudo-random numbers
let seed = 42
function rnd() {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
}

const words = ['a', 'red', 'cat', 'on', 'the', 'old', 'stone', 'bridge', 'at', 'dawn', 'café', '北京', 'über']
function text(i) {
  const n = 1 + Math.floor(rnd() * 6)
  const w = []
  for (let k = 0; k < n; k++) w.push(words[Math.floor(rnd() * words.length)])
  return w.join(' ') + (i % 7 === 0 ? ' \t"quoted"\n' : '')
}

// the flat typed columns every codec file has
function typed(n, nullable) {
  const maybe = (i, v) => (nullable && i % 5 === 3 ? null : v)
  const rows = [...Array(n).keys()]
  return [
    { name: 'url', type: 'STRING', nullable, data: rows.map(i => maybe(i, `https://img.example.org/${i % 40}/${i}.jpg`)) },
    { name: 'text', type: 'STRING', nullable, data: rows.map(i => maybe(i + 1, text(i))) },
    { name: 'id', type: 'INT64', nullable, data: rows.map(i => maybe(i + 2, BigInt(i) * 1000003n - 5000000n)) },
    { name: 'n32', type: 'INT32', nullable, data: rows.map(i => maybe(i, (i * 7919) % 65536 - 32768)) },
    { name: 'f', type: 'FLOAT', nullable, data: rows.map(i => maybe(i + 3, i / 8 - 1.1)) },
    { name: 'd', type: 'DOUBLE', nullable, data: rows.map(i => maybe(i + 4, rnd() * 1e6 - 5e5)) },
    { name: 'ok', type: 'BOOLEAN', nullable, data: rows.map(i => maybe(i + 1, i % 3 === 0)) },
    { name: 'bin', type: 'BYTE_ARRAY', nullable, data: rows.map(i => maybe(i + 2, new Uint8Array([i & 255, 0, 255, (i * 3) & 255]))) },
    { name: 'fixed', type: 'FIXED_LEN_BYTE_ARRAY', nullable, data: rows.map(i => maybe(i, new Uint8Array([1, 2, i & 255, 9]))) },
  ]
}

function schemaOf(cols) {
  const s = [{ name: 'root', num_children: cols.length }]
  for (const c of cols) {
    const e = { name: c.name, repetition_type: c.nullable === false ? 'REQUIRED' : 'OPTIONAL' }
    if (c.type === 'STRING') Object.assign(e, { type: 'BYTE_ARRAY', converted_type: 'UTF8' })
    else if (c.type === 'FIXED_LEN_BYTE_ARRAY') Object.assign(e, { type: c.type, type_length: 4 })
    else e.type = c.type
    s.push(e)
  }
  return s
}

const zstd = buf => new Uint8Array(execFileSync('zstd', ['-q', '-c', '-19'], { input: buf }))
const writeOpts = {
  compressors: { GZIP: b => new Uint8Array(gzipSync(b)), ZSTD: zstd, LZ4: b => b },
  statistics: false,
}

function toJson(v) {
  if (v === undefined || v === null) return null
  if (typeof v === 'bigint') return Number(v)
  if (v instanceof Uint8Array) return '0x' + [...v].map(b => b.toString(16).padStart(2, '0')).join('')
  if (Array.isArray(v)) return v.map(toJson)
  return v
}

async function write(name, columnData, opts = {}, schema) {
  const bare = columnData.map(({ name, data, encoding }) => (encoding ? { name, data, encoding } : { name, data }))
  const buf = parquetWriteBuffer({ columnData: bare, schema: schema ?? schemaOf(columnData), ...writeOpts, ...opts })
  writeFileSync(here + name + '.parquet', new Uint8Array(buf))
  if (opts.noExpected) return
  const rows = await parquetReadObjects({ file: buf, compressors, utf8: false })
  const names = (schema ?? schemaOf(columnData)).filter((e, i) => i > 0 && e.repetition_type !== 'REPEATED' && !/^(list|element)$/.test(e.name)).map(e => e.name)
  const lines = rows.map(r => {
    const o = {}
    for (const n of names) {
      let v = r[n]
      const col = columnData.find(c => c.name === n)
      if (col && col.type === 'STRING' && v instanceof Uint8Array) v = new TextDecoder().decode(v)
      o[n] = toJson(v)
    }
    return JSON.stringify(o)
  })
  writeFileSync(here + name + '.expected.jsonl', lines.join('\n') + '\n')
}

// one file per codec, optional columns with nulls, dictionaries where they pay
for (const codec of ['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'ZSTD'])
  await write('types_' + codec.toLowerCase(), typed(60, true), { codec })
// REQUIRED columns
await write('required', typed(40, false), { codec: 'SNAPPY' })
// PLAIN everywhere (no dictionary), forced RLE_DICTIONARY everywhere it applies
await write('plain', typed(50, true).map(c => ({ ...c, encoding: 'PLAIN' })), { codec: 'SNAPPY' })
await write('dict', typed(50, true).map(c => (c.type === 'BOOLEAN' ? c : { ...c, encoding: 'RLE_DICTIONARY' })), { codec: 'ZSTD' })
// several row groups, several pages per column chunk
await write('groups', typed(2500, true), { codec: 'SNAPPY', rowGroupSize: 1000, pageSize: 2048 })

// list columns (the DataComp face_bboxes and LAION-COCO all_captions shapes)
const listSchema = [
  { name: 'root', num_children: 4 },
  { name: 'url', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'text', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'all_captions', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'face_bboxes', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
]
{
  const n = 30
  const rows = [...Array(n).keys()]
  const caps = rows.map(i => (i % 9 === 4 ? null : [...Array(i % 4).keys()].map(k => (k === 2 && i % 2 ? null : text(i)))))
  const boxes = rows.map(i => (i % 8 === 5 ? null : [...Array(i % 3).keys()].map(k => (i % 7 === 6 && k === 1 ? null : [...Array(k === 0 ? 4 : i % 5).keys()].map(() => Math.round(rnd() * 1e6) / 1e6)))))
  await write('lists', [
    { name: 'url', data: rows.map(i => `https://img.example.org/l/${i}.jpg`) },
    { name: 'text', data: rows.map(i => text(i)) },
    { name: 'all_captions', data: caps },
    { name: 'face_bboxes', data: boxes },
  ], { codec: 'ZSTD' }, listSchema)
}

// a DataComp-style local dump: uid, url (local paths under tests/data/sample),
// text, face_bboxes; plus the rows ingest must reject
{
  const imgs = ['photos/cobbled-lane-leuven.jpg', 'photos/curved-facade-grayscale.jpg', 'photos/fallen-maple-leaf.jpg',
    'photos/forest-footpath-portrait.jpg', 'photos/frangipani-flower.jpg', 'more/aloe-plant-portrait.jpg']
  const cap = p => readFileSync(here + '../sample/' + p.replace(/\.[a-z]+$/, '.txt'), 'utf8').trim()
  const rows = [
    ...imgs.map(p => ({ url: p, text: cap(p) })),
    { url: 'photos/not-there.jpg', text: 'a file that is missing' },
    { url: 'https://img.example.org/remote.jpg', text: 'a URL, not a local path' },
    { url: 'photos/heather-flowers.jpg', text: null },
    { url: null, text: 'no image at all' },
    { url: 'more/brass-pocket-mirror.jpg', text: cap('more/brass-pocket-mirror.jpg') },
  ]
  const schema = [
    { name: 'root', num_children: 4 },
    { name: 'uid', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
    { name: 'url', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'text', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    ...listSchema.slice(6),
  ]
  schema[4] = { name: 'face_bboxes', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 }
  await write('local_images', [
    { name: 'uid', data: rows.map((r, i) => (0xa1b2c3d4 + i * 7777).toString(16).padStart(32, '0')) },
    { name: 'url', data: rows.map(r => r.url) },
    { name: 'text', data: rows.map(r => r.text) },
    { name: 'face_bboxes', data: rows.map((r, i) => (i % 3 ? [[0.1 * i, 0.2, 0.3, 0.4]] : [])) },
  ], { codec: 'SNAPPY' }, schema)
}

// features the reader refuses with a clear error
await write('unsupported_delta', [
  { name: 'url', type: 'STRING', data: ['a.jpg', 'b.jpg', 'c.jpg'] },
  { name: 'text', type: 'STRING', data: ['x', 'y', 'z'] },
  { name: 'n', type: 'INT64', data: [1n, 2n, 3n], encoding: 'DELTA_BINARY_PACKED' },
], { codec: 'UNCOMPRESSED' })
// labelled LZ4 but stored as is: only the label matters to the test
await write('unsupported_lz4', [
  { name: 'url', type: 'STRING', data: ['a.jpg', 'b.jpg'] },
  { name: 'text', type: 'STRING', data: ['x', 'y'] },
], { codec: 'LZ4', noExpected: true })

// URL lists for tessera fetch (tests/e2e/fetch.sh), with host names the test
// maps to its loopback server with --connect-to: LAION's columns (URL, TEXT,
// WIDTH, HEIGHT, similarity, SAMPLE_ID; snappy, dictionaries) and
// DataComp's (uid, url, text, sha256; zstd).  Images are the sample photos
// the server serves under /img/.
{
  const img = ['heather-flowers.jpg', 'lake-at-dawn.jpg', 'squirrel-on-branch.jpg', 'red-sign-cmyk.jpg']
  const url = [
    `http://laion.test/img/${img[0]}`, `http://laion.test/img/${img[1]}`, 'http://laion.test/status/404',
    null, `http://coyo.test/img/${img[2]}`, `http://coyo.test/img/${img[3]}`, `http://laion.test/img/${img[0]}`,
  ]
  const textCol = ['Pink heather in bloom', 'A calm lake at dawn', 'gone', 'no url', null,
    'The word RED on black — «CMYK»', 'heather again, "quoted"']
  await write('fetch_laion', [
    { name: 'URL', type: 'STRING', data: url, encoding: 'RLE_DICTIONARY' },
    { name: 'TEXT', type: 'STRING', data: textCol },
    { name: 'WIDTH', type: 'INT32', data: [300, 1024, 10, null, 535, 100, 300] },
    { name: 'HEIGHT', type: 'INT32', data: [225, 640, 10, null, 426, 100, 225] },
    { name: 'similarity', type: 'DOUBLE', data: [0.31, 0.29, 0.3, 0.28, 0.35, 0.33, 0.305] },
    { name: 'SAMPLE_ID', type: 'INT64', data: [1n, 2n, 3n, 4n, 5n, 6n, 7n] },
  ], { codec: 'SNAPPY' })
  await write('fetch_datacomp', [
    { name: 'uid', type: 'STRING', data: ['00a1', '00b2', '00c3'] },
    { name: 'url', type: 'STRING', data: [`http://laion.test/img/${img[1]}`, `http://coyo.test/img/${img[2]}`, `http://coyo.test/img/${img[3]}`] },
    { name: 'text', type: 'STRING', data: ['lake', 'squirrel', 'sign'] },
    // the real sha256 of lake-at-dawn.jpg and red-sign-cmyk.jpg; a wrong one for the squirrel
    { name: 'sha256', type: 'STRING', data: [process.env.SHA_LAKE, '0'.repeat(64), process.env.SHA_SIGN] },
  ], { codec: 'ZSTD' })
}

// DATA_PAGE (v1) files, one per codec: url (OPTIONAL, PLAIN, two pages),
// text (OPTIONAL, a dictionary page and PLAIN_DICTIONARY data pages),
// n (REQUIRED INT64, PLAIN)
async function writeV1(name, codec) {
  const compress = { UNCOMPRESSED: b => b, SNAPPY: snappyCompress, ...writeOpts.compressors }[codec]
  const n = 45
  const rows = [...Array(n).keys()]
  const url = rows.map(i => (i % 6 === 2 ? null : `https://img.example.org/v1/${i}.jpg`))
  const vocab = ['a red bridge', 'the old cat', 'café at dawn', '北京 stone']
  const text = rows.map(i => (i % 7 === 3 ? null : vocab[(i * 5) % 4]))
  const num = rows.map(i => BigInt(i) * -77777n + 3n)
  const w = new ByteWriter()
  w.appendUint32(0x31524150)   // PAR1
  const page = (header, body) => {
    const z = compress(body)
    writePageHeader(w, { ...header, uncompressed_page_size: body.length, compressed_page_size: z.length })
    w.appendBytes(z)
    return body.length
  }
  const dataPage = (values, optional, valuesWriter, encoding) => {
    const b = new ByteWriter()
    if (optional) {
      const lv = new ByteWriter()
      writeRleBitPackedHybrid(lv, values.map(v => (v === null ? 0 : 1)), 1)
      b.appendUint32(lv.offset)
      b.appendBytes(lv.getBytes())
    }
    valuesWriter(b, values.filter(v => v !== null))
    return page({ type: 'DATA_PAGE', data_page_header: { num_values: values.length, encoding,
      definition_level_encoding: 'RLE', repetition_level_encoding: 'RLE' } }, b.getBytes())
  }
  const columns = []
  const chunk = (path, type, encodings, fn) => {
    const start = w.offset
    const r = fn()
    columns.push({ file_offset: BigInt(start), meta_data: { type, encodings, path_in_schema: [path], codec,
      num_values: BigInt(n), total_uncompressed_size: BigInt(w.offset - start), total_compressed_size: BigInt(w.offset - start),
      data_page_offset: BigInt(r.data), dictionary_page_offset: r.dict !== undefined ? BigInt(r.dict) : undefined } })
  }
  chunk('url', 'BYTE_ARRAY', ['PLAIN', 'RLE'], () => {
    const data = w.offset
    const plainBA = (b, v) => writePlain(b, v.map(s => new TextEncoder().encode(s)), 'BYTE_ARRAY')
    dataPage(url.slice(0, 20), true, plainBA, 'PLAIN')
    dataPage(url.slice(20), true, plainBA, 'PLAIN')
    return { data }
  })
  chunk('text', 'BYTE_ARRAY', ['PLAIN', 'RLE', 'PLAIN_DICTIONARY'], () => {
    const dict = w.offset
    const d = new ByteWriter()
    writePlain(d, vocab.map(s => new TextEncoder().encode(s)), 'BYTE_ARRAY')
    page({ type: 'DICTIONARY_PAGE', dictionary_page_header: { num_values: vocab.length, encoding: 'PLAIN_DICTIONARY' } }, d.getBytes())
    const data = w.offset
    const idx = (b, v) => { b.appendUint8(2); writeRleBitPackedHybrid(b, v.map(s => vocab.indexOf(s)), 2) }
    dataPage(text.slice(0, 30), true, idx, 'PLAIN_DICTIONARY')
    dataPage(text.slice(30), true, idx, 'PLAIN_DICTIONARY')
    return { dict, data }
  })
  chunk('n', 'INT64', ['PLAIN'], () => {
    const data = w.offset
    dataPage(num, false, (b, v) => writePlain(b, v, 'INT64'), 'PLAIN')
    return { data }
  })
  const schema = [
    { name: 'root', num_children: 3 },
    { name: 'url', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'text', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    { name: 'n', type: 'INT64', repetition_type: 'REQUIRED' },
  ]
  writeMetadata(w, { version: 1, schema, num_rows: BigInt(n), created_by: 'tessera gen.mjs (v1 pages)',
    row_groups: [{ columns, total_byte_size: BigInt(w.offset - 4), num_rows: BigInt(n) }] })
  w.appendUint32(0x31524150)
  const buf = w.getBuffer()
  writeFileSync(here + name + '.parquet', new Uint8Array(buf))
  const got = await parquetReadObjects({ file: buf, compressors })
  writeFileSync(here + name + '.expected.jsonl', got.map(r => JSON.stringify({ url: toJson(r.url), text: toJson(r.text), n: toJson(r.n) })).join('\n') + '\n')
}
for (const codec of ['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'ZSTD'])
  await writeV1('v1_' + codec.toLowerCase(), codec)
