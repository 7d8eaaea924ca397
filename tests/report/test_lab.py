"""Working in JupyterLab: notebooks are kept and saved without outputs, `make lab` serves
them on the project's kernel "analysis"."""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import time

import nbformat
import pytest

from analysis.report import strip_notebook_on_save
from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL_JSON = ROOT / ".venv" / "share" / "jupyter" / "kernels" / "analysis" / "kernel.json"


def notebook_with_outputs() -> dict:
    """A notebook as JupyterLab sends it after a session: outputs, counts, widget state."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("transcripts_dir = None")
    params.metadata["tags"] = ["parameters"]
    params.execution_count = 1
    shown = nbformat.v4.new_code_cell("print('SESSION OUTPUT')\n42")
    shown.execution_count = 7
    shown.metadata.update({"scrolled": True, "execution": {"iopub.status.idle": "2026-01-01T00:00:00Z"}})
    shown.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="SESSION OUTPUT\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=7),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), params, shown]
    nb.metadata["kernelspec"] = {"name": "analysis", "display_name": "Python 3 (analysis)", "language": "python"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"x": 1}}}
    return json.loads(nbformat.writes(nb))


def assert_stripped(nb: dict, original: dict) -> None:
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert "widgets" not in nb["metadata"] and "SESSION OUTPUT\n" not in json.dumps(nb)
    assert [c["source"] for c in nb["cells"]] == [c["source"] for c in original["cells"]]
    assert [c["id"] for c in nb["cells"]] == [c["id"] for c in original["cells"]]
    assert nb["cells"][1]["metadata"]["tags"] == ["parameters"]  # papermill finds its cell
    assert "scrolled" not in code[1]["metadata"] and "execution" not in code[1]["metadata"]
    assert nb["metadata"]["kernelspec"]["name"] == "analysis"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_tracked_notebooks_carry_no_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for k, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{path.name} cell {k} has outputs"
            assert cell["execution_count"] is None, f"{path.name} cell {k} has an execution count"
    assert "widgets" not in nb["metadata"]


def test_the_save_hook_strips_a_notebook_and_leaves_other_files():
    original = notebook_with_outputs()
    model = {"type": "notebook", "format": "json", "content": copy.deepcopy(original)}
    strip_notebook_on_save(model=model, path="notebooks/x.ipynb", contents_manager=None)
    assert_stripped(model["content"], original)
    text = {"type": "file", "format": "text", "content": "print('SESSION OUTPUT')"}
    strip_notebook_on_save(model=text, path="x.py", contents_manager=None)
    assert text["content"] == "print('SESSION OUTPUT')"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make(*args: str) -> str:
    """`make` in the project, taking the installs as done (`-o`): the test neither
    installs nor upgrades anything."""
    stamps = [".venv/.installed", ".venv/.installed-lab"]
    cmd = ["make", "--no-print-directory", *(f"-o{s}" for s in stamps), *args]
    return subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def lab_server(tmp_path):
    """`make lab`'s own command (printed by `make -n`), headless on a free port, serving a
    copy of the notebooks from a temporary folder."""
    import requests

    _make("kernel")  # the kernelspec `make lab` registers in .venv
    (tmp_path / "notebooks").mkdir()
    for path in NOTEBOOKS:
        (tmp_path / "notebooks" / path.name).write_bytes(path.read_bytes())
    port, token = _free_port(), "analysis-test-token"
    lab_args = f"--no-browser --port={port} --IdentityProvider.token={token}"
    command = _make("-n", f"-o{KERNEL_JSON.relative_to(ROOT)}", "lab", f"LAB_ARGS={lab_args}", f"LAB_DIR={tmp_path}")
    assert "jupyter lab" in command  # as root (CI, containers) it starts only with --allow-root
    log = (tmp_path / "server.log").open("w")
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_CONFIG_PATH"}
    server = subprocess.Popen(
        ["bash", "-c", command], cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
    )
    base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"token {token}"}
    try:
        for _ in range(120):
            try:
                if requests.get(f"{base}/api/status", headers=headers, timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            time.sleep(0.5)
        yield base, headers, tmp_path
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)  # the process group this fixture started
            server.wait(timeout=30)
        log.close()


def _run_in_kernel(base: str, kernel_id: str, headers: dict, code: str) -> str:
    """Execute ``code`` through the server's websocket, as JupyterLab does; its stdout."""
    import uuid

    import websocket  # websocket-client, a dependency of jupyter_server

    ws = websocket.create_connection(
        f"{base.replace('http', 'ws')}/api/kernels/{kernel_id}/channels", header=headers, timeout=60
    )
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": uuid.uuid4().hex,
              "date": "", "version": "5.3"}
    content = {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False}
    ws.send(json.dumps({"header": header, "parent_header": {}, "metadata": {}, "content": content,
                        "channel": "shell"}))
    out = ""
    try:
        while True:
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out += msg["content"]["text"]
            elif msg["msg_type"] == "error":
                raise AssertionError(msg["content"]["evalue"])
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return out
    finally:
        ws.close()


@pytest.mark.slow
def test_make_lab_saves_notebooks_stripped_on_the_analysis_kernel(lab_server):
    import requests

    base, headers, folder = lab_server
    original = notebook_with_outputs()
    saved = requests.put(
        f"{base}/api/contents/notebooks/session.ipynb",
        headers=headers,
        json={"type": "notebook", "format": "json", "content": original},
        timeout=30,
    )
    assert saved.status_code in (200, 201), saved.text
    assert_stripped(json.loads((folder / "notebooks" / "session.ipynb").read_text(encoding="utf-8")), original)

    specs = requests.get(f"{base}/api/kernelspecs", headers=headers, timeout=30).json()
    analysis = specs["kernelspecs"]["analysis"]["spec"]
    assert "thematic analysis" in analysis["display_name"]
    assert os.path.realpath(analysis["argv"][0]) == os.path.realpath(ROOT / ".venv" / "bin" / "python")
    assert specs["default"] == "analysis"

    # the kernel runs this project's package, over the encrypted connection of the server's config
    kernel = requests.post(f"{base}/api/kernels", headers=headers, json={"name": "analysis"}, timeout=60).json()
    try:
        printed = _run_in_kernel(base, kernel["id"], headers, "import analysis; print(analysis.__file__)")
    finally:
        requests.delete(f"{base}/api/kernels/{kernel['id']}", headers=headers, timeout=30)
    assert printed.strip() == str(ROOT / "src" / "analysis" / "__init__.py")
    assert "without encryption" not in (folder / "server.log").read_text()

    for path in NOTEBOOKS:  # each notebook opens on the project's kernel
        model = requests.get(f"{base}/api/contents/notebooks/{path.name}", headers=headers, timeout=30).json()
        assert model["content"]["metadata"]["kernelspec"]["name"] == "analysis", path.name
