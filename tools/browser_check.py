"""Open the lesson in JupyterLab in a real (headless) browser, run it, move the k slider, screenshot.

What a learner does, repeated by a script: start JupyterLab on the loopback address with a
random token, open ``notebooks/kmeans_image_compression.ipynb`` in Debian's Chromium (driven by
Playwright, which is told to use ``/usr/bin/chromium``: no browser is downloaded), run all
cells, check that none failed, then set the slider to each k asked for and save a screenshot
of the slider's output each time, plus one of the whole page after the run.

Set-up (once; not needed by the test suite)::

    apt-get install -y chromium
    pip install -r tools/requirements.txt

Run from the project's root::

    python tools/browser_check.py                  # k = 4 and 64, screenshots in output/browser/
    python tools/browser_check.py --k 2 32 --image cartoon.png

The notebook file is not saved (autosave is off in a throwaway JupyterLab settings folder)
and the script checks that it is unchanged afterwards. Exit status 0 when every step passed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
# No sandbox (root in a container), no GPU, and none of the background connections that a
# closed network refuses.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_jupyterlab(port: int, token: str, home: Path) -> subprocess.Popen:
    """JupyterLab on 127.0.0.1 with its config, data, runtime and settings in ``home``."""
    for plugin, values in (
        ("docmanager-extension/plugin", {"autosave": False}),  # never write the notebook
        ("apputils-extension/notification", {"fetchNews": "false"}),  # no pop-up over the page
    ):
        path = home / "settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
        # the kernel imports this checkout's package, as nbval's kernel does
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    )
    # the kernel spec of this interpreter, so the kernel runs where the package's requirements are
    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--prefix", str(home / "kernel"), "--name", "python3"],
        env=env,
        check=True,
        capture_output=True,
    )
    env["JUPYTER_PATH"] = str(home / "kernel" / "share" / "jupyter")
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={ROOT}",
        f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",  # no look-ups of extensions on a package index
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI run as root
    log = open(home / "jupyterlab.log", "wb")  # noqa: SIM115 - closed with the process
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            tail = (home / "jupyterlab.log").read_text(errors="replace").splitlines()[-15:]
            msg = f"JupyterLab exited with {server.returncode}:\n" + "\n".join(tail)
            raise RuntimeError(msg)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2):
                return server
        except OSError:
            time.sleep(0.5)
    server.terminate()
    msg = "JupyterLab did not answer within 60 s"
    raise RuntimeError(msg)


# JavaScript run in the page, on the app exposed as window.jupyterapp.
JS_NOTEBOOK_READY = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  return !!(w && w.content && w.content.widgets && w.sessionContext && w.sessionContext.session
            && w.sessionContext.session.kernel && w.sessionContext.session.kernel.status === 'idle');
}"""
JS_RUN_ALL = "() => window.jupyterapp.commands.execute('notebook:run-all-cells')"
JS_RUN_STATE = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const cells = w.content.widgets.filter(c => c.model.type === 'code');
  const errors = [];
  cells.forEach((c, i) => c.model.outputs.toJSON().forEach(o => {
    if (o.output_type === 'error') errors.push(`code cell ${i + 1}: ${o.ename}: ${o.evalue}`);
  }));
  return {
    total: cells.length,
    done: cells.filter(c => c.model.executionCount !== null && c.promptNode.textContent.indexOf('*') < 0).length,
    idle: w.sessionContext.session.kernel.status === 'idle',
    errors,
  };
}"""


def run_check(args) -> int:
    from playwright.sync_api import sync_playwright

    notebook = (ROOT / args.notebook).resolve()
    before = hashlib.sha256(notebook.read_bytes()).hexdigest()
    out_dir = (ROOT / args.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    port = free_port()
    failures = []
    with tempfile.TemporaryDirectory(prefix="browser-check-") as tmp:
        home = Path(tmp)
        server = start_jupyterlab(port, token, home)
        try:
            with sync_playwright() as pw:
                context = pw.chromium.launch_persistent_context(
                    user_data_dir=str(home / "chromium-profile"),  # fresh, thrown away
                    executable_path=CHROMIUM,
                    headless=True,
                    args=CHROMIUM_FLAGS,
                    viewport={"width": 1280, "height": 1000},
                )
                page = context.pages[0] if context.pages else context.new_page()
                console_errors = []
                page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
                relative = notebook.relative_to(ROOT).as_posix()
                page.goto(f"http://127.0.0.1:{port}/lab/tree/{relative}?token={token}")
                page.wait_for_function(JS_NOTEBOOK_READY, timeout=90_000)
                print(f"opened {relative} in JupyterLab, kernel idle")

                started = time.monotonic()
                page.evaluate(JS_RUN_ALL)
                state = {}
                while time.monotonic() - started < args.timeout:
                    state = page.evaluate(JS_RUN_STATE)
                    if state["done"] == state["total"] and state["idle"]:
                        break
                    time.sleep(0.5)
                seconds = time.monotonic() - started
                print(
                    f"run all: {state.get('done')}/{state.get('total')} code cells in {seconds:.1f} s (in the browser)"
                )
                if state.get("done") != state.get("total"):
                    failures.append(f"not every cell ran within {args.timeout} s")
                for error in state.get("errors", []):
                    failures.append(error)
                page.screenshot(path=str(out_dir / "lesson-after-run-all.png"))

                slider = page.locator(".widget-slider").first
                if slider.count() == 0:
                    failures.append("no ipywidgets slider rendered in the page")
                else:
                    box = slider.locator("xpath=ancestor::div[contains(@class, 'jp-OutputArea-output')][1]")
                    box.scroll_into_view_if_needed()
                    if args.image:
                        dropdown = box.locator("select").first
                        dropdown.select_option(label=args.image)
                        page.wait_for_timeout(300)
                    for k in args.k:
                        readout = box.locator(".widget-readout").first
                        readout.click()
                        page.keyboard.press("Control+A")
                        page.keyboard.type(str(k))
                        page.keyboard.press("Enter")
                        caption = box.locator(".widget-label", has_text=f"k = {k}:")
                        caption.first.wait_for(timeout=60_000)
                        page.wait_for_timeout(500)  # the new PNG is decoded and laid out
                        path = out_dir / f"slider-k{k}.png"
                        box.screenshot(path=str(path))
                        print(f"k = {k}: {caption.first.inner_text()}  ->  {path.relative_to(ROOT)}")
                if console_errors:
                    print(f"browser console errors ({len(console_errors)}):")
                    for text in console_errors[:10]:
                        print(f"  {text}")
                context.close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    if hashlib.sha256(notebook.read_bytes()).hexdigest() != before:
        failures.append(f"{notebook.name} was changed on disk by the check")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", default="notebooks/kmeans_image_compression.ipynb")
    parser.add_argument("--k", type=int, nargs="+", default=[4, 64], help="slider values to screenshot")
    parser.add_argument("--image", help="image to pick in the slider's menu first (by its label)")
    parser.add_argument("--out-dir", default="output/browser", help="screenshots (an ignored folder)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds allowed for run all")
    return run_check(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
