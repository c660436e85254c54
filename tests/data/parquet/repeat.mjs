// repeat.mjs - a large parquet for bench/parquet.sh in seconds: the row
// groups of IN (written by big.mjs) repeated COPIES times, byte for byte,
// with a footer whose offsets point at each copy (hyparquet parses IN's
// footer, hyparquet-writer serialises the new one; page and column
// indexes are dropped).  Not a test fixture.
//   node repeat.mjs IN.parquet OUT.parquet COPIES
import { parquetMetadata } from 'hyparquet'
import { ByteWriter } from 'hyparquet-writer'
import { writeMetadata } from 'hyparquet-writer/src/metadata.js'
import { openSync, readFileSync, writeSync, closeSync } from 'node:fs'

const [inPath, outPath, copiesArg] = process.argv.slice(2)
const copies = Number(copiesArg)
const buf = readFileSync(inPath)
const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length)
const md = parquetMetadata(ab)
const footerLen = buf.readUInt32LE(buf.length - 8)
const body = buf.subarray(4, buf.length - 8 - footerLen)   // row groups (and indexes)
const fd = openSync(outPath, 'w')
writeSync(fd, Buffer.from('PAR1'))
for (let k = 0; k < copies; k++) writeSync(fd, body)
const shift = k => BigInt(k * body.length)
const row_groups = []
for (let k = 0; k < copies; k++)
  for (const rg of md.row_groups)
    row_groups.push({
      ...rg,
      file_offset: rg.file_offset !== undefined ? rg.file_offset + shift(k) : undefined,
      columns: rg.columns.map(c => ({
        ...c,
        file_offset: c.file_offset + shift(k),
        offset_index_offset: undefined, offset_index_length: undefined,
        column_index_offset: undefined, column_index_length: undefined,
        meta_data: {
          ...c.meta_data,
          data_page_offset: c.meta_data.data_page_offset + shift(k),
          dictionary_page_offset: c.meta_data.dictionary_page_offset !== undefined
            ? c.meta_data.dictionary_page_offset + shift(k) : undefined,
          index_page_offset: undefined,
        },
      })),
    })
const w = new ByteWriter()
writeMetadata(w, { ...md, num_rows: md.num_rows * BigInt(copies), row_groups })   // footer and its length
writeSync(fd, new Uint8Array(w.getBuffer()))
writeSync(fd, Buffer.from('PAR1'))
closeSync(fd)
