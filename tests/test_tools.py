"""The repository's tools parse their arguments without a browser (tools/browser_check.py needs
Chromium and Playwright only when it runs; see tools/requirements.txt)."""

import pytest

from tools import browser_check


def test_browser_check_uses_debian_chromium_with_the_closed_network_flags():
    assert browser_check.CHROMIUM == "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync"):
        assert flag in browser_check.CHROMIUM_FLAGS


def test_browser_check_help_needs_no_browser(capsys):
    with pytest.raises(SystemExit) as exit_info:
        browser_check.main(["--help"])
    assert exit_info.value.code == 0
    assert "--k" in capsys.readouterr().out
