"""Frappe's ``upload_file``: content-sniffed types, the size limit, storage outside any web
root under names trylite makes, and files served only to those who may read their record."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.protocols.frappe_helpers import frappe_error, people, token
from tests.test_preferences import cheap_argon2  # noqa: F401  (autouse)
from trylite.protocols.frappe.upload import folder, sniff

PNG = b'\x89PNG\r\n\x1a\n' + b'\x00' * 64


def zipped(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize('data, kind', [
    (PNG, 'image/png'), (b'\xff\xd8\xff\xe0rest', 'image/jpeg'), (b'GIF89a...', 'image/gif'),
    (b'RIFF\x00\x00\x00\x00WEBPVP8 ', 'image/webp'), (b'%PDF-1.7\n', 'application/pdf'),
    (b'name;age\nAnn;30\n', 'text/plain'), ('Zoë\tß\r\n'.encode(), 'text/plain'),
    (zipped(('[Content_Types].xml', b'<x/>'), ('word/document.xml', b'<x/>')),
     'application/vnd.openxmlformats-officedocument.wordprocessingml.document'),
    (zipped(('[Content_Types].xml', b'<x/>'), ('xl/workbook.xml', b'<x/>')),
     'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'),
    (zipped(('mimetype', b'application/vnd.oasis.opendocument.text')),
     'application/vnd.oasis.opendocument.text'),
    (zipped(('mimetype', b'application/x-shockwave-flash')), None),
    (zipped(('evil.exe', b'MZ')), None), (b'PK\x03\x04broken', None),
    (b'MZ\x90\x00\x03', None), (b'\x7fELF\x02', None), (b'text\x00with nul', None),
    (b'\xc3\x28 not utf-8', None),
])
def test_types_are_sniffed_from_the_content(data, kind):
    assert sniff(data) == kind


@pytest.fixture
def partner(client, db, settings, tmp_path):
    """alice may change test.partner; a partner of hers, named by its id."""
    settings(api={'upload_dir': str(tmp_path / 'files')})
    people(db)
    answer = client.post(f'/{db}/api/resource/test.partner', headers=token(db, 'alice'),
                         json={'title': 'Ann'})
    return answer.json['data']['name']


def upload(client, db, headers, data=PNG, filename='logo.png', **form):
    return client.post(f'/{db}/api/method/upload_file', headers=headers,
                       data={'file': (io.BytesIO(data), filename), **form})


def test_attached_files_follow_their_record(client, db, partner, tmp_path):
    alice, bob = token(db, 'alice'), token(db, 'bob')
    answer = upload(client, db, alice, filename='../../etc/passwd.png', doctype='test.partner',
                    docname=partner, is_private='0')
    assert answer.status_code == 200, answer.text
    file = answer.json['message']
    assert (file['file_name'], file['is_private'], file['attached_to_doctype']) == (
        'passwd.png', 0, 'test.partner')
    key = file['file_url'].rsplit('/', 1)[1]
    assert file['file_url'] == f'/files/{key}' and len(key) == 32
    stored = folder(db) / key
    assert stored == tmp_path / 'files' / db / key and stored.read_bytes() == PNG
    served = client.get(f'/{db}{file["file_url"]}', headers=alice)
    assert served.status_code == 200 and served.get_data() == PNG
    assert served.headers['Content-Type'] == 'image/png'
    assert served.headers['X-Content-Type-Options'] == 'nosniff'
    assert 'sandbox' in served.headers['Content-Security-Policy']
    frappe_error(client.get(f'/{db}{file["file_url"]}', headers=bob), 403, 'PermissionError')
    frappe_error(client.get(f'/{db}{file["file_url"]}'), 401, 'AuthenticationError')
    frappe_error(client.get(f'/{db}/files/{"x" * 32}', headers=alice), 404,
                 'DoesNotExistError')
    client.delete(f'/{db}/api/resource/test.partner/{partner}', headers=alice)
    frappe_error(client.get(f'/{db}{file["file_url"]}', headers=alice), 404,
                 'DoesNotExistError')


def test_unattached_files_are_their_uploaders(client, db, partner):
    alice, root = token(db, 'alice'), token(db, 'root')
    text = upload(client, db, alice, data=b'hello', filename='notes.txt').json['message']
    assert (text['content_type'], text['is_private']) == ('text/plain', 1)
    assert text['file_url'].startswith('/private/files/')
    assert client.get(f'/{db}{text["file_url"]}', headers=alice).get_data() == b'hello'
    frappe_error(client.get(f'/{db}{text["file_url"]}', headers=root), 404, 'DoesNotExistError')
    frappe_error(upload(client, db, token(db, 'alice', scope='read')), 403, 'PermissionError')


def test_refused_uploads(client, db, partner, settings):
    alice = token(db, 'alice')
    frappe_error(upload(client, db, token(db, 'bob'), doctype='test.partner', docname=partner),
                 403, 'PermissionError')
    frappe_error(upload(client, db, alice, doctype='test.partner', docname='999'), 400,
                 'ValidationError')
    frappe_error(upload(client, db, alice, doctype='test.partner'), 400, 'ValidationError')
    frappe_error(upload(client, db, alice, is_private='maybe'), 400, 'ValidationError')
    frappe_error(upload(client, db, alice, data=b'MZ\x90\x00', filename='logo.png'), 415,
                 'ValidationError')
    frappe_error(client.post(f'/{db}/api/method/upload_file', headers=alice,
                             data={'other': (io.BytesIO(PNG), 'a.png')}), 400,
                 'ValidationError')
    frappe_error(upload(client, db, {}), 401, 'AuthenticationError')
    settings(api={'max_upload': 1000})
    frappe_error(upload(client, db, alice, data=PNG + b'\x00' * 1000), 413, 'FileSizeError')
    assert upload(client, db, alice, data=PNG + b'\x00' * (1000 - len(PNG))).status_code == 200
    chunked = client.post(f'/{db}/api/method/upload_file', headers=alice, data={
        'file': (io.BytesIO(PNG + b'\x00' * 70000), 'big.png')}, environ_overrides={
        'CONTENT_LENGTH': None, 'wsgi.input_terminated': True})
    frappe_error(chunked, 413, 'FileSizeError')
