"""trylite.openapi: the OpenAPI 3.1 document of a database, its page, and routes' schemas
checked at run time; Schemathesis against the documented operations of the example app."""

from __future__ import annotations

import logging

import hypothesis
import pytest
import schemathesis
import yaml
from jsonschema.exceptions import SchemaError
from openapi_spec_validator import validate
from schemathesis import checks

from tests.client import assert_json_error
from tests.helpers import create_user, validated_key
from trylite.web.app import TryliteWSGI


@pytest.fixture
def spec(db, client):
    response = client.get(f'/{db}/openapi.json')
    assert response.status_code == 200
    return response.json


def test_the_document_is_valid_openapi_31(db, client, spec):
    validate(spec)
    assert spec['openapi'] == '3.1.0'
    as_yaml = client.get(f'/{db}/openapi.yaml')
    assert as_yaml.headers['Content-Type'].startswith('application/yaml')
    assert yaml.safe_load(as_yaml.get_data(as_text=True)) == spec


def test_unknown_database(client):
    assert_json_error(client.get('/no_such_db/openapi.json'), 404)
    assert_json_error(client.get('/no_such_db/doc'), 404)


def test_code_routes_parameters_methods_and_security(db, spec):
    paths = spec['paths']
    assert not [p for p in paths if p.startswith('/_')]  # internal routes are left out
    blob = paths[f'/{db}/blob/{{data}}']['get']
    assert blob['parameters'] == [{'name': 'data', 'in': 'path', 'required': True, 'schema': {
        'type': 'string', 'format': 'byte', 'pattern': '^[A-Za-z0-9_-]+={0,2}$'}}]
    line = paths[f'/{db}/timesheet/lines/{{line_id}}']
    assert set(line) == {'get', 'put', 'patch', 'delete'}
    assert line['get']['parameters'][0]['schema'] == {'type': 'integer', 'minimum': 0,
                                                      'maximum': 2**31 - 1}
    whoami = paths[f'/{db}/acme/whoami']['get']
    assert whoami['security'] == [{'application_acme': []}]
    assert spec['components']['securitySchemes']['application_acme']['scheme'] == 'bearer'
    assert whoami['responses']['default']['content']['application/json']['schema'] == {
        '$ref': '#/components/schemas/Problem'}
    assert paths['/timesheet/{name}']['get']['summary'].startswith('A file of the front end')
    prefs = paths[f'/{db}/preferences/']['get']
    assert 'text/html' in prefs['responses']['default']['content']


def test_declared_schemas_are_documented(db, spec):
    from tests.routes import ANSWER_SCHEMA, ORDER_SCHEMA
    operation = spec['paths'][f'/{db}/test/order']['post']
    assert operation['requestBody'] == {'required': True, 'content': {
        'application/json': {'schema': ORDER_SCHEMA}}}
    assert operation['responses']['2XX']['content']['application/json']['schema'] == \
        ANSWER_SCHEMA
    assert operation['summary'] == 'Take an order.'
    assert operation['description'].startswith('The body follows ORDER_SCHEMA')


# -- schemas at run time ---------------------------------------------------------------------
def test_request_schema_is_checked_before_the_handler(db, client):
    url = f'/{db}/test/order'
    assert client.post(url, json={'item': 'tea', 'quantity': 2}).json == {'total': 4}
    body = assert_json_error(client.post(url, json={'quantity': 0, 'email': 'nope',
                                                    'extra': 1}), 422)
    assert body['errors'] == [
        {'pointer': '', 'message': "'item' is a required property"},
        {'pointer': '', 'message': "Additional properties are not allowed ('extra' was "
                                   'unexpected)'},
        {'pointer': '/email', 'message': "'nope' is not a 'email'"},
        {'pointer': '/quantity', 'message': '0 is less than the minimum of 1'}]
    assert_json_error(client.post(url, data='x', content_type='text/plain'), 415)
    assert_json_error(client.post(url, data='{bad', content_type='application/json'), 400)


def test_an_answer_breaking_its_schema_is_a_logged_500(db, client, caplog):
    with caplog.at_level(logging.ERROR):
        response = client.post(f'/{db}/test/order', json={'item': 'broken', 'quantity': 1})
    assert_json_error(response, 500)
    assert 'breaks its response schema' in caplog.text


def test_invalid_schemas_are_refused_at_import():
    with pytest.raises(SchemaError):
        TryliteWSGI().route('/x', request_schema={'type': 'nonsense'})(lambda request: '')
    with pytest.raises(SchemaError):
        TryliteWSGI().route('/x', response_schema=[])(lambda request: '')


# -- the page --------------------------------------------------------------------------------
def test_documentation_page_and_its_files(db, client):
    page = client.get(f'/{db}/doc')
    assert page.status_code == 200 and page.mimetype == 'text/html'
    assert f'data-spec="/{db}/openapi.json"' in page.get_data(as_text=True)
    assert "script-src" not in page.headers['Content-Security-Policy']  # 'self' only
    assert "default-src 'self'" in page.headers['Content-Security-Policy']
    for name, kind in (('swagger-ui-bundle.js', 'text/javascript'),
                       ('swagger-ui.css', 'text/css'), ('doc.js', 'text/javascript')):
        asset = client.get(f'/_trylite/doc/{name}')
        assert asset.status_code == 200 and asset.mimetype == kind
    assert_json_error(client.get('/_trylite/doc/../../setup.cfg'), 404)
    assert_json_error(client.get('/_trylite/doc/swagger-ui.js.map'), 404)


# -- Schemathesis ----------------------------------------------------------------------------
@pytest.fixture
def example_app_schema(db, kind, client):
    if kind != 'sqlite':
        pytest.skip('one backend is enough for the generated requests')
    create_user(db, 'alice')
    key = validated_key(client, db, 'alice', 'timesheet')
    document = client.get(f'/{db}/openapi.json').json
    schema = schemathesis.openapi.from_dict(document).include(tag='example_app')
    return schema, key


#: No 5xx, and no answer contradicting the document (its status, content type, headers and
#: body are documented). Not asked: that every schema-valid request be accepted — the
#: document does not say which works exist, so a request naming another work is refused.
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_headers_conformance,
          checks.response_schema_conformance]


def test_schemathesis_on_the_example_app(example_app_schema):
    """Generated requests to every documented operation of the example app, with a valid key:
    no 5xx, and no answer contradicting the document."""
    from trylite.wsgi import app
    schema, key = example_app_schema
    failures = []

    @hypothesis.settings(max_examples=15, deadline=None, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(hypothesis.strategies.data())
    def run(data: hypothesis.strategies.DataObject) -> None:
        case = data.draw(strategy)
        response = case.call(app=app, headers={'Authorization': f'Bearer {key}'})
        try:
            case.validate_response(response, checks=CHECKS)
        except AssertionError as exc:
            failures.append(f'{case.operation.label}: {exc}')

    for result in schema.get_all_operations():
        strategy = result.ok().as_strategy()
        run()
    assert failures == []
