"""Clearing the "open for writing" marks a killed HDF5 writer leaves in a file.

Files in HDF5 1.10's format (superblock version 2 or 3, which SWMR needs)
record in their superblock that a writer has them open. A writer that is
killed never clears that mark, and HDF5 then refuses to open the file
("file is already open for write (may use <h5clear file> to clear file
consistency flags)"). This does what ``h5clear -s --increment=0`` does,
without needing the HDF5 tools: it clears the flags, sets the stored end of
file to at least the file's size (the killed writer may have allocated
space past what it last stored), and writes the superblock's checksum
again. It is called only when no process holds the file (see
``runfile.writer_alive``).

numpy-free, standard library only.
"""

import os
import struct

SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _rot(value, shift):
    return ((value << shift) | (value >> (32 - shift))) & 0xFFFFFFFF


def lookup3(data, initval=0):
    """Bob Jenkins' lookup3 ``hashlittle``, HDF5's metadata checksum (``H5_checksum_lookup3``)."""
    length = len(data)
    a = b = c = (0xDEADBEEF + length + initval) & 0xFFFFFFFF
    offset = 0
    mask = 0xFFFFFFFF
    while length > 12:
        a = (a + data[offset] + (data[offset + 1] << 8) + (data[offset + 2] << 16)
             + (data[offset + 3] << 24)) & mask
        b = (b + data[offset + 4] + (data[offset + 5] << 8) + (data[offset + 6] << 16)
             + (data[offset + 7] << 24)) & mask
        c = (c + data[offset + 8] + (data[offset + 9] << 8) + (data[offset + 10] << 16)
             + (data[offset + 11] << 24)) & mask
        a = (a - c) & mask; a ^= _rot(c, 4); c = (c + b) & mask  # noqa: E702
        b = (b - a) & mask; b ^= _rot(a, 6); a = (a + c) & mask  # noqa: E702
        c = (c - b) & mask; c ^= _rot(b, 8); b = (b + a) & mask  # noqa: E702
        a = (a - c) & mask; a ^= _rot(c, 16); c = (c + b) & mask  # noqa: E702
        b = (b - a) & mask; b ^= _rot(a, 19); a = (a + c) & mask  # noqa: E702
        c = (c - b) & mask; c ^= _rot(b, 4); b = (b + a) & mask  # noqa: E702
        length -= 12
        offset += 12
    if length == 0:
        return c
    tail = data[offset:offset + length] + bytes(12 - length)
    a = (a + int.from_bytes(tail[0:4], "little")) & mask
    b = (b + int.from_bytes(tail[4:8], "little")) & mask
    c = (c + int.from_bytes(tail[8:12], "little")) & mask
    c ^= b; c = (c - _rot(b, 14)) & mask  # noqa: E702
    a ^= c; a = (a - _rot(c, 11)) & mask  # noqa: E702
    b ^= a; b = (b - _rot(a, 25)) & mask  # noqa: E702
    c ^= b; c = (c - _rot(b, 16)) & mask  # noqa: E702
    a ^= c; a = (a - _rot(c, 4)) & mask  # noqa: E702
    b ^= a; b = (b - _rot(a, 14)) & mask  # noqa: E702
    c ^= b; c = (c - _rot(b, 24)) & mask  # noqa: E702
    return c


def clear_write_marks(path):
    """Clear the write marks of a version 2/3 superblock at the start of ``path``.

    The stored end of file is raised to the file's size if it is below it.

    Returns:
        ``True`` when marks were cleared, ``False`` when there were none (or
        the superblock is of another version, or its checksum does not
        match: then nothing is written).
    """
    return _rewrite_superblock(path, max, changes=lambda marked, end, size: marked, sync=True)


def fit_end_of_file(path):
    """Make a file whose last writes failed (a full disk) open again with what it holds.

    HDF5 closing a file after a failed write stores an end of file beyond
    what reached the disk, and then refuses the file as truncated. This
    clears the write marks and lowers the stored end of file to the file's
    size; every object written before the failure reads as before. It writes
    only inside the superblock, so it works on a full disk.

    Returns:
        ``True`` when the superblock was changed.
    """
    return _rewrite_superblock(path, min, changes=lambda marked, end, size: marked or end > size,
                               sync=False)


def _rewrite_superblock(path, fit, *, changes, sync):
    """Clear the write marks and set the stored end of file to ``fit(end, size)``.

    Only a version 2/3 superblock whose checksum matches is touched, and
    only when ``changes(marked, end, size)``; returns whether it was.
    """
    with open(path, "r+b") as stream:
        head = stream.read(64)
        if len(head) < 12 or head[:8] != SIGNATURE or head[8] not in (2, 3) \
                or head[9] not in (4, 8):
            return False
        offsets = head[9]
        body_end = 12 + 4 * offsets
        body = bytearray(head[:body_end])
        (stored,) = struct.unpack_from("<I", head, body_end)
        if lookup3(bytes(body)) != stored:
            return False  # not a superblock we understand: leave it
        form = "<Q" if offsets == 8 else "<I"
        eof_at = 12 + 2 * offsets
        (end,) = struct.unpack_from(form, body, eof_at)
        size = os.fstat(stream.fileno()).st_size
        if not changes(body[11] != 0, end, size):
            return False
        body[11] = 0
        struct.pack_into(form, body, eof_at, fit(end, size))
        stream.seek(0)
        stream.write(bytes(body) + struct.pack("<I", lookup3(bytes(body))))
        stream.flush()
        if sync:
            os.fsync(stream.fileno())
    return True
