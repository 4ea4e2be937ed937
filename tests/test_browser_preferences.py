"""The preferences page in real headless Chromium: log in, validate a key, the key works.

Set ``TRYLITE_SCREENSHOTS=1`` to refresh ``docs/screenshots/preferences*.png``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from tests.helpers import PASSWORD, bearer, public_id, request_key, validated_key
from tests.test_preferences import cheap_argon2, create_user  # noqa: F401
from tests.test_user_application import set_key

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parent.parent / 'docs' / 'screenshots'


def row(driver, key_id: str):
    return driver.find_element(By.CSS_SELECTOR, f'[data-public-id="{key_id}"]')


def screenshot(driver, tmp_path: Path, name: str) -> None:
    folder = SCREENSHOTS if os.environ.get('TRYLITE_SCREENSHOTS') else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(folder / name))


def test_validate_a_key_in_chromium(db, live_server, browser, tmp_path):
    create_user(db, 'alice')
    used = validated_key(live_server, db, 'alice', 'other')
    other = requests.get(f'{live_server}/{db}/acme/whoami', headers=bearer(used), timeout=10)
    assert other.status_code == 401  # a key of another application
    cancelled = request_key(live_server, db, 'alice')
    set_key(db, cancelled, state='cancelled')
    key = request_key(live_server, db, 'alice')
    key_id = public_id(key)
    whoami = f'{live_server}/{db}/acme/whoami'
    assert requests.get(whoami, headers=bearer(key), timeout=10).status_code == 401

    browser.get(f'{live_server}/{db}/preferences/')
    screenshot(browser, tmp_path, 'preferences-login.png')
    browser.find_element(By.NAME, 'login').send_keys('alice')
    browser.find_element(By.NAME, 'password').send_keys(PASSWORD)
    browser.find_element(By.XPATH, '//button[normalize-space()="Log in"]').click()
    wait = WebDriverWait(browser, 10, ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'[data-public-id="{key_id}"]'))
    assert row(browser, key_id).get_attribute('data-state') == 'requested'
    assert not row(browser, public_id(cancelled)).find_elements(
        By.XPATH, './/button[normalize-space()="Validate"]')
    # the inline style passed the Content-Security-Policy
    assert browser.execute_script(
        'return getComputedStyle(document.body).backgroundColor') != 'rgba(0, 0, 0, 0)'

    row(browser, key_id).find_element(By.XPATH, './/button[normalize-space()="Validate"]').click()
    wait.until(lambda d: d.find_elements(
        By.CSS_SELECTOR, f'[data-public-id="{key_id}"][data-state="validated"]'))
    assert f'Key {key_id} validated.' in browser.find_element(By.CSS_SELECTOR, '.notice').text
    response = requests.get(whoami, headers=bearer(key), timeout=10)
    assert response.status_code == 200
    assert response.json()['login'] == 'alice'
    pending = public_id(request_key(live_server, db, 'alice', 'other'))
    browser.refresh()  # shows the new request, and when the key was last used
    assert row(browser, pending).find_elements(By.XPATH, './/button[normalize-space()="Validate"]')
    assert row(browser, key_id).find_element(By.CSS_SELECTOR, '.last-used').text != '—'
    screenshot(browser, tmp_path, 'preferences.png')

    browser.set_window_size(390, 844)  # a phone: no sideways scrolling
    browser.refresh()
    assert browser.execute_script(
        'return document.documentElement.scrollWidth <= window.innerWidth')
    screenshot(browser, tmp_path, 'preferences-phone.png')

    browser.find_element(By.XPATH, '//button[normalize-space()="Log out"]').click()
    wait.until(lambda d: d.find_elements(By.NAME, 'password'))
