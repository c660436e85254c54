"""The rows of an 8-bit grey PNG as tessera writes its masks (one IDAT
stream, filter type 0 on every row): rows(data) -> (width, height, [row
bytes]).  For the e2e checks that read KEY.mask.png and tags masks."""
import struct
import zlib


def rows(data):
    w, h = struct.unpack(">II", data[16:24])
    idat, p = b"", 8
    while p < len(data):
        n, t = struct.unpack(">I4s", data[p:p + 8])
        if t == b"IDAT":
            idat += data[p + 8:p + 8 + n]
        p += 12 + n
    raw = zlib.decompress(idat)
    assert all(raw[r * (w + 1)] == 0 for r in range(h)), "a row with a PNG filter other than none"
    return w, h, [raw[r * (w + 1) + 1:(r + 1) * (w + 1)] for r in range(h)]
