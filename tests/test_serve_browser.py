"""The page at / in real headless Chromium (Debian `chromium` + `chromium-driver`, driven by
selenium): load it, pick languages by typing, translate a sentence with `tiny`, screenshot.

The screenshot goes to the test's folder and, when LINGUALIFT_ARTIFACTS names a folder, there
too (docs/serve-page.png was made so).
"""

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="needs Debian chromium and chromium-driver (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def server():
    import uvicorn

    from lingualift.inference.generate import load_generator
    from lingualift.serve.app import create_app
    from lingualift.serve.config import ServeSettings

    with socket.socket() as probe:  # a free loopback port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(load_generator("tiny", engine="hf"),
                     ServeSettings(max_new_tokens=12), model_name="tiny", trained_langs=["swh_Latn"])
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not instance.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(10)


def test_page_translates_in_headless_chromium(server, tmp_path):
    import httpx
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1100,700", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        driver.get(server + "/")
        wait = WebDriverWait(driver, 60)
        wait.until(lambda d: d.find_element(By.ID, "status").text == "204 languages")
        options = driver.find_elements(By.CSS_SELECTOR, "#langlist option")
        assert len(options) == 204 and options[0].get_attribute("value") == "Swahili (swh_Latn)"  # trained first
        assert options[0].get_attribute("label").startswith("★")
        target = driver.find_element(By.ID, "tgt")
        target.clear()
        target.send_keys("French (fra_Latn)")
        text = driver.find_element(By.ID, "text")
        text.clear()
        text.send_keys("The market opens early every morning.")
        driver.find_element(By.ID, "go").click()
        wait.until(lambda d: d.find_element(By.ID, "status").text.startswith(("done", "error")))
        assert driver.find_element(By.ID, "status").text.startswith("done: 1 sentence(s)")
        # the page shows what the API answers (greedy decoding: the same request, the same text)
        expected = httpx.post(server + "/v1/translate", json={
            "texts": ["The market opens early every morning."], "source_lang": "eng_Latn",
            "target_lang": "fra_Latn"}).json()["translations"][0]
        assert driver.find_element(By.ID, "out").get_attribute("textContent") == expected
        assert driver.find_element(By.ID, "copy").is_enabled()
        shot = tmp_path / "serve-page.png"
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        if os.environ.get("LINGUALIFT_ARTIFACTS"):
            Path(os.environ["LINGUALIFT_ARTIFACTS"]).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(os.environ["LINGUALIFT_ARTIFACTS"]) / shot.name)
    finally:
        driver.quit()
