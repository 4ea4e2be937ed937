"""Frappe's ``upload_file``: files attached to records, kept per database outside any web root.

``POST /api/method/upload_file`` takes a multipart body: the file in the field ``file``, and
``is_private`` (0 or 1, default 1), ``doctype`` and ``docname`` to attach it to a record. It
answers ``{"message": file}``, Frappe's File document: ``name`` (the attachment's id),
``file_name``, ``file_url``, ``file_size``, ``content_type``, ``is_private``,
``attached_to_doctype``, ``attached_to_name``.

* **Size.** The file may have ``[api] max_upload`` bytes (the body 64 KiB more); beyond, 413.
* **Type.** The type is sniffed from the content — never taken from the name or the client's
  ``Content-Type`` — and must be one of :data:`ALLOWED`: PNG, JPEG, GIF, WebP, PDF, Office
  Open XML and OpenDocument text and spreadsheets, and plain UTF-8 text; anything else is a
  415.
* **Storage.** Each file is written under a random name of 32 characters in
  ``[api] upload_dir``/``<database>`` (by default beside the SQLite files, or in the user data
  folder), never under the client's name; the attachment — file name, type, size, record,
  privacy, storage key, who uploaded it — is a row of ``ir.attachment``.
* **Access.** Attaching a file to a record needs the right to change that record (checked by
  the data layer, which records it as a change); a file attached to nothing may be uploaded by
  anyone logged in. ``GET <file_url>`` (``/files/<key>`` or ``/private/files/<key>`` under the
  site) serves a file only to those who may read its record — to its uploader when it is
  attached to nothing — and answers 404 to everyone else, private or not. Files are sent with
  ``X-Content-Type-Options: nosniff`` and a sandboxing Content-Security-Policy.
"""

from __future__ import annotations

import io
import os
import secrets
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.exceptions import BadRequest, NotFound, RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.utils import send_file

from ... import storage
from ...exceptions import AccessError
from ...model import Model
from ...pool import Pool
from ...settings import current, default_data_dir
from ...transaction import Transaction
from ...web.app import TryliteWSGI
from ...web.request import Request
from ...web.responses import Response
from ...wrappers import set_max_request_size
from . import auth, documents
from .site import decoded, route

__all__ = ['ALLOWED', 'Attachment', 'folder', 'install', 'sniff']

#: What a multipart body may add to the file itself.
SLACK = 65536
#: The route's own ceiling; the limit that applies is ``[api] max_upload`` (read per request).
CEILING = 2 ** 31 - 1
#: The types accepted, as sniffed from the content.
ALLOWED = ('image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf',
           'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
           'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
           'application/vnd.oasis.opendocument.text',
           'application/vnd.oasis.opendocument.spreadsheet', 'text/plain')
_MAGIC = ((b'\x89PNG\r\n\x1a\n', 'image/png'), (b'\xff\xd8\xff', 'image/jpeg'),
          (b'GIF87a', 'image/gif'), (b'GIF89a', 'image/gif'), (b'%PDF-', 'application/pdf'))
_OOXML = (('word/document.xml', ALLOWED[5]), ('xl/workbook.xml', ALLOWED[6]))
_INLINE = ('image/', 'text/plain')


class Attachment(Model):
    """A file uploaded through the Frappe API, attached to a record or to nothing."""

    __model__ = 'ir.attachment'
    __tablename__ = 'ir_attachment'

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), info={'string': 'File name'})
    mimetype: Mapped[str] = mapped_column(String(100))
    file_size: Mapped[int] = mapped_column(Integer)
    res_model: Mapped[str | None] = mapped_column(String(128), default=None)
    res_id: Mapped[int | None] = mapped_column(default=None)
    is_private: Mapped[bool] = mapped_column(default=True)
    store_key: Mapped[str] = mapped_column(String(64), unique=True)


Pool.register(Attachment, module='frappe')


def folder(database_name: str) -> Path:
    """The folder of *database_name*'s files (see ``[api] upload_dir``)."""
    configured = current().api.upload_dir
    if configured:
        base = Path(configured).expanduser()
    else:
        sqlite_folder = getattr(storage.backend(), 'folder', None)
        base = (Path(sqlite_folder) if sqlite_folder is not None else default_data_dir()
                ) / 'files'
    return base / database_name


def sniff(data: bytes) -> str | None:
    """The type of *data* by its content, if it is one of :data:`ALLOWED`."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b'RIFF' and data[8:12] == b'WEBP':
        return 'image/webp'
    if data.startswith(b'PK\x03\x04'):
        return _zipped(data)
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError:
        return None
    if any(ord(c) < 32 and c not in '\t\n\r\f' or c == '\x7f' for c in text):
        return None
    return 'text/plain'


def _zipped(data: bytes) -> str | None:
    """An Office Open XML or OpenDocument type, from the names of the archive's members."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            for member, kind in _OOXML:
                if member in names and '[Content_Types].xml' in names:
                    return kind
            if 'mimetype' in names:
                with archive.open('mimetype') as member_file:
                    declared = member_file.read(100).decode('ascii', 'replace').strip()
                return declared if declared in ALLOWED[7:9] else None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
            NotImplementedError, RuntimeError):
        return None
    return None


def _person(request: Request, pool: Pool) -> tuple[int, bool]:
    """The id of the request's person, and whether their key only reads."""
    def who() -> tuple[int, bool]:
        identity = auth.identify(request)
        return identity.user.id, identity.scope.readonly
    return Transaction.run(pool.database_name, 0, who, readonly=True)


def _flag(value: Any, default: bool) -> bool:
    value = decoded(value)
    if value is None or value == '':
        return default
    if value in (0, 1, True, False):
        return bool(value)
    raise BadRequest("is_private must be 0 or 1.")


@set_max_request_size(CEILING)
def upload_file(request: Request, pool: Pool) -> Any:
    """Store the file of a multipart body, attached to a record if asked."""
    largest = current().api.max_upload
    if request.content_length is not None and request.content_length > largest + SLACK:
        raise RequestEntityTooLarge(f'A file may have at most {largest} bytes.')
    request.max_content_length = largest + SLACK
    upload = request.files.get('file')
    if upload is None:
        raise BadRequest("Send the file in a multipart field named 'file'.")
    data = upload.stream.read(largest + 1)
    if len(data) > largest:
        raise RequestEntityTooLarge(f'A file may have at most {largest} bytes.')
    kind = sniff(data)
    if kind is None:
        raise UnsupportedMediaType('Files may be PNG, JPEG, GIF or WebP images, PDF, Word, '
                                   'Excel or OpenDocument files, or plain UTF-8 text.')
    form = request.form
    private = _flag(form.get('is_private'), True)
    model, docname = form.get('doctype') or None, form.get('docname') or None
    user, readonly = _person(request, pool)
    if (model is None) != (docname is None):
        raise BadRequest('Send both doctype and docname to attach the file, or neither.')
    record = None
    if model is not None:
        record = documents.record_id(model, docname)
        documents.execute(request, pool, model, 'write', [{}], ids=[record])
    elif readonly:
        raise AccessError('This key may only read.')
    key = secrets.token_urlsafe(24)
    path = folder(pool.database_name) / key
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(key + '.part')
    partial.write_bytes(data)
    os.replace(partial, path)
    name = (os.path.basename((upload.filename or '').replace('\\', '/')) or 'file')[:255]

    def store() -> int:
        row = Attachment(name=name, mimetype=kind, file_size=len(data), res_model=model,
                         res_id=record, is_private=private, store_key=key)
        Transaction().session.add(row)
        Transaction().session.flush()
        return row.id
    try:
        attachment = Transaction.run(pool.database_name, user, store)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return {'message': {
        'doctype': 'File', 'name': str(attachment), 'file_name': name,
        'file_url': f'/{"private/" if private else ""}files/{key}', 'file_size': len(data),
        'content_type': kind, 'is_private': int(private), 'attached_to_doctype': model,
        'attached_to_name': str(record) if record is not None else None}}


def serve(request: Request, pool: Pool, key: str) -> Response:
    """Send a file to those who may read its record (its uploader when it is attached to
    nothing); 404 to everyone else."""
    def find() -> tuple[str, str, str | None, int | None, int | None] | None:
        row = Transaction().session.execute(
            select(Attachment.name, Attachment.mimetype, Attachment.res_model,
                   Attachment.res_id, Attachment.create_uid)
            .where(Attachment.store_key == key)).first()
        return None if row is None else tuple(row)  # type: ignore[return-value]
    found = Transaction.run(pool.database_name, 0, find, readonly=True)
    if found is None:
        raise NotFound('No such file.')
    name, kind, model, record, uploader = found
    if model is not None:
        if not documents.execute(request, pool, model, 'search_read',
                                 [[('id', '=', record)]], {'fields': ['id'], 'limit': 1},
                                 context=documents.BY_ID):
            raise NotFound('No such file.')
    elif _person(request, pool)[0] != uploader:
        raise NotFound('No such file.')
    path = folder(pool.database_name) / key
    if not path.is_file():
        raise NotFound('No such file.')
    response = send_file(path, request.environ, mimetype=kind, download_name=name,
                         as_attachment=not kind.startswith(_INLINE), conditional=False,
                         max_age=0)
    response.headers['X-Content-Type-Options'] = 'nosniff'
    response.headers['Content-Security-Policy'] = "default-src 'none'; sandbox"
    response.headers['Cache-Control'] = 'private, no-store'
    return response


def install(app: TryliteWSGI) -> None:
    """Add ``upload_file`` and the file routes (under ``/<db>`` and at the host root)."""
    route(app, '/api/method/upload_file', ['POST'], upload_file)
    route(app, '/files/<key>', ['GET'], serve)
    route(app, '/private/files/<key>', ['GET'], serve)
