"""The base64 URL converter: bytes in, unpadded URL-safe base64 out, no match on bad input."""

from __future__ import annotations

import pytest

from tests.core_routes import b64
from trylite.wsgi import app


@pytest.mark.parametrize('segment, data', [
    ('aGVsbG8', 'aGVsbG8='),  # b'hello', unpadded
    ('aGVsbG8=', 'aGVsbG8='),  # padded
    ('-_8', '+/8='),  # URL-safe alphabet: b'\xfb\xff'
    ('__79', '//79'),  # not UTF-8: bytes, not text
    ('AA', 'AA=='),
    ('AA==', 'AA=='),
])
def test_to_python_gives_bytes(client, segment, data):
    response = client.get(f'/_core/b64/{segment}')
    assert response.status_code == 200, response.text
    assert response.json == {'type': 'bytes', 'data': data}  # JSON sends bytes as base64


@pytest.mark.parametrize('segment', [
    'a', '_w=', 'aGVsbG8==', 'AA=', 'AAA==', '+_8', 'dG!!VzdA', 'a%2Fb', '====', 'aGV=sbG8'])
def test_invalid_input_is_404(client, segment):
    response = client.get(f'/_core/b64/{segment}')
    assert response.status_code == 404
    assert response.json == {'status': 404, 'message': 'Not Found'}


@pytest.mark.parametrize('value, url', [
    (b'hello', '/_core/b64/aGVsbG8'),
    (b'\xfb\xff', '/_core/b64/-_8'),
    ('test', '/_core/b64/dGVzdA'),
])
def test_to_url_unpadded(value, url):
    assert app.url_map.bind('x').build(b64, {'data': value}) == url
