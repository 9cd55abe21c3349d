"""Static checks on the shipped web client: every reference resolves, the CSP-relevant rules hold, vendoring is
complete and unmodified, and the pure JS modules pass their node tests."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from imcodes_web import static_dir

HERE = Path(__file__).parent


class _IndexParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.inline_scripts = 0
        self.style_elements = 0
        self.style_attributes: list[str] = []
        self.event_handlers: list[str] = []
        self.ids: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"] or "")
        for name, _ in attrs:
            if name == "style":
                self.style_attributes.append(tag)
            if name.startswith("on"):
                self.event_handlers.append(f"{tag}[{name}]")
        if tag == "style":
            self.style_elements += 1
        if tag == "script":
            self._in_script = True
            if a.get("src"):
                self.refs.append(a["src"] or "")
            else:
                self.inline_scripts += 1
        if tag == "link" and a.get("href"):
            self.refs.append(a["href"] or "")
        if tag in ("img", "source") and a.get("src"):
            self.refs.append(a["src"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


def _static_file(url: str) -> Path:
    """Map a URL the page uses to the file the server hosts (index at /, the rest under /static/)."""
    assert url.startswith("/static/"), f"{url} is not under /static/"
    return static_dir() / url.removeprefix("/static/")


@pytest.fixture(scope="module")
def index() -> _IndexParser:
    parser = _IndexParser()
    parser.feed((static_dir() / "index.html").read_text(encoding="utf-8"))
    return parser


def test_every_file_index_html_references_exists(index: _IndexParser) -> None:
    assert len(index.refs) >= 5
    missing = [ref for ref in index.refs if not _static_file(ref).is_file()]
    assert missing == []


def test_no_inline_script_style_or_handlers(index: _IndexParser) -> None:
    assert index.inline_scripts == 0
    assert index.style_elements == 0
    assert index.style_attributes == []
    assert index.event_handlers == []


def test_ids_are_unique_and_every_id_the_scripts_query_exists(index: _IndexParser) -> None:
    assert len(index.ids) == len(set(index.ids))
    queried: set[str] = set()
    for js in (static_dir() / "js").glob("*.js"):
        queried |= set(re.findall(r"""\$\("#([A-Za-z0-9_-]+)"\)""", js.read_text(encoding="utf-8")))
    assert queried, "the scripts look elements up by id"
    assert queried - set(index.ids) == set()


def _imports(js: Path) -> list[str]:
    text = js.read_text(encoding="utf-8")
    return re.findall(r"""(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']""", text)


def test_every_module_import_resolves_to_a_shipped_file() -> None:
    modules = sorted((static_dir() / "js").glob("*.js"))
    assert len(modules) >= 8
    for js in modules:
        for spec in _imports(js):
            assert spec.startswith("."), f"{js.name} imports a bare specifier {spec!r} (no bundler here)"
            assert (js.parent / spec).resolve().is_file(), f"{js.name}: {spec} does not exist"


def test_scripts_never_parse_html_from_data() -> None:
    for js in (static_dir() / "js").glob("*.js"):
        text = js.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in text, f"{js.name} uses {sink}"


def test_service_worker_shell_lists_only_real_files_and_never_api_or_ws() -> None:
    sw = (static_dir() / "sw.js").read_text(encoding="utf-8")
    shell = json.loads("[" + re.search(r"const SHELL = \[(.*?)\];", sw, re.S).group(1).rstrip().rstrip(",") + "]")
    assert "/" in shell
    for url in shell:
        assert not url.startswith(("/api", "/ws", "/auth")), url
        if url != "/":
            assert _static_file(url).is_file(), url
    shipped_js = {f"/static/js/{p.name}" for p in (static_dir() / "js").glob("*.js")}
    assert shipped_js <= set(shell), "every module must be in the offline shell"


def test_manifest_is_valid_and_its_icons_exist() -> None:
    manifest = json.loads((static_dir() / "manifest.webmanifest").read_text(encoding="utf-8"))
    assert manifest["start_url"] == "/"
    assert manifest["display"] == "standalone"
    assert manifest["icons"]
    for icon in manifest["icons"]:
        path = _static_file(icon["src"])
        assert path.is_file()
        assert path.read_text(encoding="utf-8").lstrip().startswith("<svg")


VENDORED = {
    "vendor/xterm/xterm.mjs": "b336ec65a086c056d4804b3d4c2347da5663d3f23c3f25be866467bd8857ad59",
    "vendor/addon-fit/addon-fit.mjs": "2d87e1bddc73be9111de8beee5370c3bb7aac9c94e18e6f245f02ca741ef1769",
}


def test_vendored_files_are_present_unmodified_and_licensed() -> None:
    root = static_dir()
    notes = (root / "vendor" / "VENDORED.md").read_text(encoding="utf-8")
    assert "@xterm/xterm | 6.0.0" in notes
    assert "@xterm/addon-fit | 0.11.0" in notes
    for rel, digest in VENDORED.items():
        data = (root / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, f"{rel} differs from the published package"
        assert digest in notes
        assert "MIT" in (root / rel).parent.joinpath("LICENSE").read_text(encoding="utf-8")
    assert (root / "vendor/xterm/xterm.css").is_file()
    assert "export{Dl as Terminal}" in (root / "vendor/xterm/xterm.mjs").read_text(encoding="utf-8")


def test_no_node_modules_or_lock_files_are_shipped() -> None:
    names = {p.name for p in HERE.parent.rglob("*")}
    assert names.isdisjoint({"node_modules", "package-lock.json", "package.json", "yarn.lock", "pnpm-lock.yaml"})
    assert not list(static_dir().rglob("*.map")), "source maps are not shipped"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_pure_js_modules_pass_their_node_tests() -> None:
    tests = sorted(str(p) for p in (HERE / "js").glob("*.test.mjs"))
    assert len(tests) >= 4
    result = subprocess.run(["node", "--test", *tests], capture_output=True, text=True, timeout=60, cwd=HERE)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    passed = int(re.search(r"^# pass (\d+)$", result.stdout, re.M).group(1))
    failed = int(re.search(r"^# fail (\d+)$", result.stdout, re.M).group(1))
    assert failed == 0
    assert passed >= 25
