"""docs/endpoints.md's copy-paste example, run as written (the database name aside): the
definition file it writes, the commands it runs, the curl calls and their answers."""

from __future__ import annotations

import re
import shlex
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT
from tests.test_cli import run
from tests.test_preferences import create_user

DOC = (ROOT / 'docs' / 'endpoints.md').read_text(encoding='utf-8')


def test_the_documented_example(db, kind, client, tmp_path):
    if kind != 'sqlite':
        pytest.skip('command-line behaviour: one backend is enough')
    definition = re.search(r"cat > hello\.yaml <<'EOF'\n(.*?)\nEOF\n", DOC, re.S)
    assert definition is not None
    assert 'trylite user create -d demo robot' in DOC
    create_user(db, 'robot')
    (tmp_path / 'hello.yaml').write_text(definition[1], encoding='utf-8')
    assert 'trylite endpoint create -d demo hello.yaml\n' in DOC
    assert run('endpoint', 'create', '-d', db, str(tmp_path / 'hello.yaml')).startswith(
        'Created endpoint hello: POST')
    calls = re.findall(r'^\$ (curl .*)\n(.*)$', DOC, re.M)
    assert len(calls) == 3
    for command, expected in calls:
        words = shlex.split(command)
        options = {word: words[i + 1] for i, word in enumerate(words)
                   if word in ('-X', '-H', '-d')}
        address = next(word for word in words if word.startswith('http://'))
        path = urlsplit(address).path.replace('/demo/', f'/{db}/', 1)
        headers = dict([options['-H'].split(': ', 1)]) if '-H' in options else {}
        answer = client.open(path, method=options['-X'], headers=headers,
                             data=options.get('-d'))
        assert answer.get_data(as_text=True) == expected
