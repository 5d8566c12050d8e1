"""Reading input files with a size cap and writing output files atomically.

Imports only :mod:`distancing_bn.errors`. Both functions report failures as the package's own
errors, with the file named: reading raises :class:`~distancing_bn.errors.ModelSyntaxError`
(callers that read other kinds of file re-raise it as their own type) and writing raises
:class:`~distancing_bn.errors.ModelError`.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from .errors import ModelError, ModelSyntaxError

__all__ = ["read_capped", "write_atomically"]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a pipe"),
    (stat.S_ISSOCK, "a socket"),
)


def read_capped(path: Path, *, limit: int, limit_name: str, what: str) -> bytes:
    """Return the bytes of the regular file ``path``, reading at most ``limit + 1`` of them.

    ``what`` names the file in messages ("model file"); ``limit_name`` is the constant that
    holds ``limit`` (named in the message when the file is too large).

    Raises
    ------
    ModelSyntaxError
        The file cannot be opened, is not a regular file (a directory, a device such as
        ``/dev/zero``, a pipe), or is larger than ``limit`` bytes.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)  # a pipe must not block open()
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ModelSyntaxError(f"cannot read the {what}: {exc.strerror or exc}", file=str(path)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise ModelSyntaxError(f"cannot read the {what}: it is {kind}, not a regular file", file=str(path))
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise ModelSyntaxError(f"cannot read the {what}: {exc.strerror or exc}", file=str(path)) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ModelSyntaxError(
            f"the {what} is larger than {_size(limit)}, the limit ({limit_name}; see docs/model-format.md, Limits)",
            file=str(path),
        )
    return data


def write_atomically(path: Path, data: bytes, *, what: str) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename it.

    The file is created with mode ``0o666`` less the process umask, like any new file; a failed
    write leaves ``path`` as it was and no temporary file behind.

    Raises
    ------
    ModelError
        The folder is missing or read-only, the disk is full, or ``path`` is a directory.
    """
    folder = path.parent
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    tmp = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        fd = os.open(tmp, flags, 0o666)  # the kernel applies the umask, as for open(path, "w")
    except OSError as exc:
        raise ModelError(f"{path}: cannot write the {what}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise ModelError(f"{path}: cannot write the {what}: {exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def _size(n: int) -> str:
    return f"{n // 2**20} MiB" if n >= 2**20 and n % 2**20 == 0 else f"{n:,} bytes"
