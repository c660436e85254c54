// big.mjs - writes a large LAION-400M-like parquet for bench/parquet.sh
// (not a test fixture): URL, TEXT, WIDTH, HEIGHT, similarity, LICENSE,
// NSFW, SAMPLE_ID, snappy, DATA_PAGE_V2, row groups of GROUP rows.
//   node big.mjs OUT.parquet ROWS [GROUP] [DISTINCT]
// DISTINCT (default: ROWS): rows generated; later row groups repeat the
// first DISTINCT rows' values (for a large file written in minutes).
import { ParquetWriter } from 'hyparquet-writer'
import { fileWriter } from 'hyparquet-writer/src/node.js'

const [out, rowsArg, groupArg] = process.argv.slice(2)
const rows = Number(rowsArg), group = Number(groupArg || 1000000)
const distinct = Number(process.argv[5] || rows)
let cached = null
let seed = 7
function rnd() {   // xorshift32
  seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5
  return (seed >>> 0) / 4294967296
}
const sites = ['images.example.com', 'cdn.shop-pics.net', 'i.pinimg.example', 'media.news-site.org', 'static.photos.io']
const vocab = 'the a of and in on with for at by from blue red white black wooden vintage modern dress shirt house garden street dog cat car sale new 2019 large small set pack women men kids print poster art photo image design style home kitchen table chair lamp'.split(' ')
const word = () => vocab[Math.floor(rnd() * vocab.length)]
const hex = n => { let s = ''; for (let i = 0; i < n; i++) s += Math.floor(rnd() * 16).toString(16); return s }
const schema = [
  { name: 'root', num_children: 8 },
  { name: 'URL', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'TEXT', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'WIDTH', type: 'INT64', repetition_type: 'OPTIONAL' },
  { name: 'HEIGHT', type: 'INT64', repetition_type: 'OPTIONAL' },
  { name: 'similarity', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  { name: 'LICENSE', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'NSFW', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'SAMPLE_ID', type: 'INT64', repetition_type: 'OPTIONAL' },
]
const writer = new ParquetWriter({ writer: fileWriter(out), schema, codec: 'SNAPPY', statistics: false })
for (let start = 0; start < rows; start += group) {
  const n = Math.min(group, rows - start)
  if (cached && start >= distinct && cached.n === n) {
    writer.write({ columnData: cached.data, rowGroupSize: n })
    continue
  }
  const cols = { URL: [], TEXT: [], WIDTH: [], HEIGHT: [], similarity: [], LICENSE: [], NSFW: [], SAMPLE_ID: [] }
  for (let i = 0; i < n; i++) {
    const id = start + i
    cols.URL.push(`https://${sites[id % 5]}/${hex(2)}/${hex(2)}/${hex(24)}/${word()}-${word()}-${Math.floor(rnd() * 1e6)}.jpg`)
    const k = 4 + Math.floor(rnd() * 14)
    const t = []
    for (let j = 0; j < k; j++) t.push(word())
    cols.TEXT.push(id % 97 === 5 ? null : t.join(' '))
    cols.WIDTH.push(BigInt(200 + Math.floor(rnd() * 1800)))
    cols.HEIGHT.push(BigInt(200 + Math.floor(rnd() * 1800)))
    cols.similarity.push(0.28 + rnd() * 0.2)
    cols.LICENSE.push(id % 50 === 0 ? 'cc-by' : null)
    cols.NSFW.push(id % 40 === 0 ? 'NSFW' : 'UNLIKELY')
    cols.SAMPLE_ID.push(BigInt(id) * 3n + 1000000000n)
  }
  const data = Object.entries(cols).map(([name, d]) => ({ name, data: d }))
  cached = { n, data }
  writer.write({ columnData: data, rowGroupSize: n })
}
writer.finish()
