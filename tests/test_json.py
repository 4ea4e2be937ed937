"""trylite.json: the one encoder (compact, documented extra types) and a strict decoder."""

from __future__ import annotations

import datetime
import decimal

import pytest

from trylite import json


@pytest.mark.parametrize('value, text', [
    ({'a': [1, 2.5, None, True]}, '{"a":[1,2.5,null,true]}'),
    ('é', '"é"'),
    (datetime.datetime(2026, 11, 22, 12, 50, 36, tzinfo=datetime.UTC),
     '"2026-11-22T12:50:36+00:00"'),
    (datetime.date(2026, 11, 22), '"2026-11-22"'),
    (datetime.time(12, 50, 36), '"12:50:36"'),
    (decimal.Decimal('12.30'), '"12.30"'),
    (b'\x00\x01\xff', '"AAH/"'),
    ((1, 2), '[1,2]'),
    ({3}, '[3]'),
])
def test_dumps(value, text):
    assert json.dumps(value) == text


@pytest.mark.parametrize('value', [float('nan'), float('inf'), object()])
def test_dumps_refuses(value):
    with pytest.raises((TypeError, ValueError)):
        json.dumps(value)


@pytest.mark.parametrize('text', [
    '{bad', b'"\xff"', 'NaN', '[Infinity]', '[' * 100_000, '1' * 5000])
def test_loads_raises_only_value_error(text):
    with pytest.raises(ValueError):
        json.loads(text)


def test_loads():
    assert json.loads(b'{"a":[1,"x"]}') == {'a': [1, 'x']}
