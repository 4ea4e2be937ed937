from tests.helpers import bearer, create_user, validated_key


def test_guarded_route(db, live_server, http):
    create_user(db, 'alice')
    key = validated_key(live_server, db, 'alice')
    response = http.get(f'{live_server}/{db}/acme/whoami', headers=bearer(key))
    assert response.status_code == 200
    assert response.json()['login'] == 'alice'
