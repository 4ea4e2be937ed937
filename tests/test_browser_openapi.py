"""The documentation page in real headless Chromium: Swagger UI (served by trylite, no CDN)
shows the database's OpenAPI document.

Set ``TRYLITE_SCREENSHOTS=1`` to refresh ``docs/screenshots/openapi.png``.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from tests.test_browser_preferences import screenshot

pytestmark = pytest.mark.browser


def test_the_documentation_page_in_chromium(db, kind, live_server, browser, tmp_path):
    if kind != 'sqlite':
        pytest.skip('a page: one backend is enough')
    browser.get(f'{live_server}/{db}/doc')
    wait = WebDriverWait(browser, 20)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '.opblock'))
    text = browser.find_element(By.ID, 'swagger-ui').text
    assert f'trylite — {db}' in text
    assert f'/{db}/timesheet/works' in text
    assert 'OAS 3.1' in text
    errors = [entry for entry in browser.get_log('browser') if entry['level'] == 'SEVERE']
    assert errors == []  # no script or style refused by the Content-Security-Policy
    browser.set_window_size(1200, 900)
    screenshot(browser, tmp_path, 'openapi.png')
