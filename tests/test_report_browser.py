"""The index and two reports as a person sees them: rendered in headless Chromium (slow; skipped without it).

Checks the rendered text has no traceback, no "Warning", no U+25A1 (the box a missing glyph
leaves), that the first heading names the run's province and month, that every image
loaded (naturalWidth > 0) and that a page with Chinese text loaded its embedded CJK font
(:mod:`dmkit.report.webfont`: without it a machine with no CJK font draws boxes).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                             shutil.which("google-chrome")) if p), None)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")]

_PROBE = """<script>
window.addEventListener('load', async () => {
  await document.fonts.ready;
  const imgs = Array.from(document.images);
  const h1 = document.querySelector('h1');
  const out = {text: document.body.innerText, images: imgs.length,
               broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length,
               h1: h1 ? h1.innerText : '',
               cjk: Array.from(document.fonts).filter(f => f.family.replace(/["']/g, '') === 'dmkit CJK')
                         .map(f => f.status)};
  document.title = 'PROBE' + JSON.stringify(out);
});
</script>"""


def _render(page: Path) -> dict:
    """Load ``page`` (a copy with a probe script) in Chromium; return what the probe saw."""
    probe = page.with_name(f"_probe_{page.name}")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    profile = tempfile.mkdtemp(prefix="dmkit-chromium-")
    try:
        out = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--window-size=1400,4000", "--virtual-time-budget=10000",
             "--dump-dom", probe.as_uri()],
            capture_output=True, text=True, timeout=180, check=True).stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)
        probe.unlink(missing_ok=True)
    start = out.index("<title>PROBE") + len("<title>PROBE")
    import html

    return json.loads(html.unescape(out[start:out.index("</title>", start)]))


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    from dmkit.cli import main

    out = tmp_path_factory.mktemp("reports")
    try:  # the console entry point exits with the batch's status
        code = main(["run", "--province", "jiangsu", "--month", "2009-06", "--jobs", "2", "--users", "5000",
                     "--out", str(out), "--no-progress", "-n", "yunnan_health", "-n", "yunnan_lifecycle"])
    except SystemExit as stop:
        code = stop.code
    assert code in (0, None)
    return out / "jiangsu" / "2009-06"


def _check(seen: dict) -> None:
    text = seen["text"]
    assert "Traceback" not in text
    assert "Warning" not in text
    assert "\u25a1" not in text
    assert seen["broken"] == 0
    if re.search("[\u4e00-\u9fff]", text):  # Chinese text: drawn from the embedded font, loaded
        assert seen["cjk"] == ["loaded"]


def test_index_renders(batch):
    seen = _render(batch / "index.html")
    _check(seen)
    assert seen["h1"].startswith("Jiangsu, 2009-06")
    assert "Sampling adequacy (KMO)" in seen["text"]  # headline figures, with human labels
    assert "ari_vs_planted" not in seen["text"]


@pytest.mark.parametrize("name", ["yunnan_health", "yunnan_lifecycle"])
def test_report_renders(batch, name):
    seen = _render(batch / f"{name}.html")
    _check(seen)
    assert seen["h1"].startswith("Jiangsu, 2009-06:")
    assert "Executive summary" in seen["text"] and "if this line is still here" not in seen["text"]
    assert seen["images"] >= 2

