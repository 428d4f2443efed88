#!/usr/bin/python3
"""Hostile registry content for crisp's image service (imaged/svc_pull*.c,
imaged/registry*.c), made in memory for tests/integration/test_images_hostile.py:

  zero_bomb(size)       a gzip'ed tar holding one file of `size` zero bytes
                        (a pax header carries sizes over 8 GiB): returns
                        (gzip bytes, diff_id, tar size). 10 GiB comes out at
                        about 10 MiB. It is built from one deflate block
                        run: after a full flush deflate starts afresh, so one
                        MiB of zeros compresses to the same bytes every time
                        and is repeated rather than recompressed; only the
                        trailer's CRC-32 and the diff_id (SHA-256) read
                        every byte (about 6 s for 10 GiB, in two threads).
  padded_manifest(m, n) the manifest m as JSON of exactly n bytes (an
                        annotation holds the padding): a manifest over the
                        size cap that is otherwise well-formed.
  flip(data)            the same length, other bytes: content that does not
                        match its digest.

    gen_registry.py bomb SIZE OUT.tar.gz    writes a bomb and prints its diff_id
"""
import hashlib
import json
import struct
import sys
import tarfile
import threading
import zlib

CHUNK = 1 << 20


def zero_bomb(size, name="zeros"):
    assert size % CHUNK == 0
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime = size, 0o644, 0
    head = ti.tobuf(format=tarfile.PAX_FORMAT)
    tail = bytes(1024)                      # the end of archive: two zero blocks
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = [b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff",   # gzip header, no name
           c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)]
    zeros = bytes(CHUNK)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    out.append(block * (size // CHUNK))
    out.append(c.compress(tail) + c.flush(zlib.Z_FINISH))
    # both release the GIL on big buffers: the CRC in a thread of its own
    crc = [zlib.crc32(head)]

    def crc_zeros():
        for _ in range(size // CHUNK):
            crc[0] = zlib.crc32(zeros, crc[0])
    t = threading.Thread(target=crc_zeros)
    t.start()
    h = hashlib.sha256(head)
    for _ in range(size // CHUNK):
        h.update(zeros)
    h.update(tail)
    t.join()
    crc = zlib.crc32(tail, crc[0])
    tar_size = len(head) + size + len(tail)
    out.append(struct.pack("<II", crc & 0xffffffff, tar_size & 0xffffffff))
    return b"".join(out), "sha256:" + h.hexdigest(), tar_size


def padded_manifest(manifest, total):
    m = dict(manifest)
    m["annotations"] = dict(m.get("annotations") or {}, padding="")
    base = len(json.dumps(m).encode())
    assert total > base
    m["annotations"]["padding"] = "x" * (total - base)
    raw = json.dumps(m).encode()
    assert len(raw) == total
    return raw


def flip(data):
    assert data
    return bytes([data[0] ^ 0xff]) + data[1:]


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "bomb":
        sys.exit("usage: gen_registry.py bomb SIZE OUT.tar.gz")
    gz, diff_id, _ = zero_bomb(int(sys.argv[2]))
    with open(sys.argv[3], "wb") as f:
        f.write(gz)
    print(diff_id)
