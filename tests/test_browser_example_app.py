"""The timesheet front end in real headless Chromium, with the preferences page in a second tab.

The run saves the screenshots the README shows, under ``docs/screenshots/``.
"""

from __future__ import annotations

import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import func, select

from example_app.models import Line
from tests.conftest import ROOT
from tests.helpers import PASSWORD, create_user
from tests.test_example_app import add_works
from trylite.auth import keys
from trylite.transaction import Transaction

pytestmark = pytest.mark.browser
SCREENSHOTS = ROOT / 'docs' / 'screenshots'
LINES = [('Development', '1:30', 'Timesheet example: list and edit lines'),
         ('Meetings', '45m', 'Weekly planning'),
         ('Development', '2.25', 'Browser test for the key flow')]


def stored(browser) -> dict:
    return json.loads(browser.execute_script(
        "return localStorage.getItem('trylite.timesheet') || '{}'"))


def visible(browser, element_id: str, timeout: float = 15):
    return WebDriverWait(browser, timeout).until(
        ec.visibility_of_element_located((By.ID, element_id)))


def text_in(browser, element_id: str, text: str, timeout: float = 15) -> None:
    WebDriverWait(browser, timeout).until(
        ec.text_to_be_present_in_element((By.ID, element_id), text))


def log_line(browser, work: str, duration: str, description: str) -> None:
    Select(browser.find_element(By.ID, 'work')).select_by_visible_text(work)
    for field, value in (('duration', duration), ('description', description)):
        browser.find_element(By.ID, field).clear()
        browser.find_element(By.ID, field).send_keys(value)
    browser.find_element(By.ID, 'save').click()
    text_in(browser, 'lines', description)


def validate_in_preferences(browser, db: str, public_id: str) -> None:
    """In the preferences tab: log in, validate the key *public_id*, leave a screenshot."""
    for field, value in (('login', 'ada'), ('password', PASSWORD)):
        visible(browser, field).send_keys(value)
    browser.find_element(By.CSS_SELECTOR, '#login-form button[type=submit]').click()
    row = f'[data-public-id="{public_id}"]'
    WebDriverWait(browser, 15).until(ec.element_to_be_clickable(
        (By.CSS_SELECTOR, f'{row} button[value="validate"]'))).click()
    WebDriverWait(browser, 15).until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, f'{row}[data-state="validated"]')))
    browser.save_screenshot(str(SCREENSHOTS / 'preferences.png'))


def test_record_time_in_the_browser(db, live_server, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    add_works(db, ('Development', 'Meetings', 'Support'))
    create_user(db, 'ada')
    browser.set_window_size(1000, 1000)
    browser.get(f'{live_server}/timesheet/')

    # 1. Database and login: the page asks for a key and shows its public id.
    visible(browser, 'database').send_keys(db)
    browser.find_element(By.ID, 'login').send_keys('ada')
    browser.find_element(By.ID, 'connect').click()
    public_id = visible(browser, 'public-id').text
    assert len(public_id) == 12 and stored(browser)['key'].split('_')[1] == public_id
    browser.refresh()  # the pending key survives a reload
    text_in(browser, 'public-id', public_id)
    browser.save_screenshot(str(SCREENSHOTS / 'timesheet-key.png'))
    link = browser.find_element(By.ID, 'preferences-link')
    assert link.get_attribute('href') == f'{live_server}/{db}/preferences/'
    assert link.get_attribute('target') == '_blank'

    # 2. The person validates it in their preferences, in a second tab.
    first = browser.current_window_handle
    link.click()
    WebDriverWait(browser, 10).until(lambda b: len(b.window_handles) == 2)
    browser.switch_to.window(next(h for h in browser.window_handles if h != first))
    validate_in_preferences(browser, db, public_id)
    browser.switch_to.window(first)

    # 3. The page notices by itself, then records, edits, lists and deletes lines.
    visible(browser, 'view-app', timeout=20)
    for work, duration, description in LINES:
        log_line(browser, work, duration, description)
    text_in(browser, 'total', '4:30')
    lines = browser.find_elements(By.CSS_SELECTOR, '#lines .line')
    assert len(lines) == 3 and '2:15' in lines[0].text and 'Browser test' in lines[0].text

    browser.find_element(By.ID, 'duration').send_keys('0')  # refused by the page itself
    browser.find_element(By.ID, 'save').click()
    text_in(browser, 'line-error', 'duration')
    browser.find_element(By.ID, 'duration').clear()
    browser.find_element(By.ID, 'duration').send_keys('25:00')  # refused by the API (400)
    browser.find_element(By.ID, 'save').click()
    text_in(browser, 'line-error', '1440')
    assert browser.find_element(By.ID, 'duration').get_attribute('aria-invalid') is not None
    browser.find_element(By.ID, 'duration').clear()

    lines[1].find_element(By.CSS_SELECTOR, 'button.edit').click()
    text_in(browser, 'save', 'Save changes')
    browser.find_element(By.ID, 'duration').clear()
    browser.find_element(By.ID, 'duration').send_keys('1:00')
    browser.find_element(By.ID, 'save').click()
    text_in(browser, 'total', '4:45')

    with Transaction.start(db) as transaction:
        assert transaction.session.scalar(select(func.count()).select_from(Line)) == 3
    assert not browser.find_element(By.ID, 'line-error').is_displayed()
    browser.execute_script("window.scrollTo(0, 0); document.getElementById('toast').hidden = true")
    browser.save_screenshot(str(SCREENSHOTS / 'timesheet.png'))
    browser.set_window_size(412, 915)  # a phone
    browser.save_screenshot(str(SCREENSHOTS / 'timesheet-phone.png'))
    browser.set_window_size(1000, 1000)

    delete = browser.find_elements(By.CSS_SELECTOR, '#lines button.delete')[-1]
    delete.click()
    text_in(browser, 'lines', 'Confirm')
    delete.click()
    text_in(browser, 'total', '3:15')

    # 4. Revoking the key deletes it and brings the page back to asking for one.
    browser.find_element(By.ID, 'revoke').click()
    visible(browser, 'view-connect')
    text_in(browser, 'notice', 'revoked')
    assert 'key' not in stored(browser)
    assert browser.find_element(By.ID, 'database').get_attribute('value') == db
    browser.refresh()
    visible(browser, 'view-connect')
    with Transaction.start(db) as transaction:
        assert keys.keys_of(transaction.session) == []
