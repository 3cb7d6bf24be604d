"""Executes one notebook headless with nbclient and exports it to self-contained HTML.

Called by lib/runner/run-notebooks.ts (the `./lab run` command); the run logic lives there. This file is
the thin bridge to Jupyter's own execution engine, which is Python.

Usage: execute_notebook.py INPUT.ipynb OUTPUT.ipynb OUTPUT.html KERNEL_CWD KERNEL_NAME TIMEOUT_S TITLE
Prints one JSON line on stdout: {"ok": true}, {"ok": false, "cell": N, "ename": ..., ...} for a failed
cell, or {"ok": false, "stage": "write", "diskFull": true, "path": ..., "bytes": N} when every cell ran
but the disk had no room for the executed notebook or its report.
While it runs, writes events as JSON lines to file descriptor 3 when it is open:
{"event": "start", "index": I} as cell I starts, {"event": "output", "index": I, "text": ...} for
each stream or plain-text display of the kernel.

Nothing outlives the runner: this process and the kernel it starts each ask Linux for SIGKILL
when their parent dies (prctl PR_SET_PDEATHSIG), so a killed runner takes both with it.
"""
import ctypes
import errno
import json
import os
import re
import signal
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter

# Scripts and stylesheets the HTML template would load from outside the file: dropped, so the
# report is self-contained (plotly is embedded by the notebook itself; math stays as TeX text).
EXTERNAL_TAG = re.compile(
    r'<script[^>]*\bsrc="(?:(?:https?:|file:|//)[^"]*)?"[^>]*>\s*</script>'
    r'|<link[^>]*\bhref="(?:https?:|file:|//)[^"]*"[^>]*/?>',
    re.IGNORECASE,
)


PR_SET_PDEATHSIG = 1
LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent(expected_parent):
    """SIGKILL this process when its parent exits; exit now if the parent is already gone."""
    if LIBC is None:
        return
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != expected_parent:
        os._exit(1)


def kernel_preexec(executor_pid):
    # Runs in the forked kernel process before exec: the kernel dies with this executor.
    return lambda: die_with_parent(executor_pid)


def open_events():
    try:
        return os.fdopen(3, "w", buffering=1, encoding="utf-8")
    except OSError:
        return None


# tslab echoes the value of a cell's last expression (a record() call, a settlement) to stdout;
# a report shows what a cell displays, so each cell is sent with a final `void 0` statement.
NO_ECHO = "\nvoid 0;\n"


class LabClient(NotebookClient):
    """nbclient's client, reporting progress events and leaving out last-expression echoes."""

    def __init__(self, nb, events, **kwargs):
        super().__init__(nb, on_cell_start=self._started, on_cell_execute=self._silence,
                         on_cell_complete=self._restore, **kwargs)
        self._events = events
        self._sources = {}

    def _emit(self, event):
        if self._events is not None:
            try:
                self._events.write(json.dumps(event) + "\n")
            except (BrokenPipeError, OSError):
                self._events = None

    def _started(self, cell, cell_index):
        if cell.cell_type == "code" and cell.source.strip():
            self._emit({"event": "start", "index": cell_index})

    def _silence(self, cell, cell_index):
        self._sources[cell_index] = cell.source
        cell.source = cell.source + NO_ECHO

    def _restore(self, cell, cell_index):
        cell.source = self._sources.pop(cell_index, cell.source)

    def process_message(self, msg, cell, cell_index):
        kind = msg["msg_type"]
        content = msg["content"]
        text = None
        if kind == "stream":
            text = content.get("text")
        elif kind in ("display_data", "update_display_data", "execute_result"):
            text = content.get("data", {}).get("text/plain")
        if text:
            self._emit({"event": "output", "index": cell_index, "text": text if isinstance(text, str) else "".join(text)})
        return super().process_message(msg, cell, cell_index)


PROBE_TAG = "lab-parameters-probe"
PROBE_PREFIX = "LAB_PARAMETERS "


def take_probe(nb):
    """Removes the runner's parameters probe (the last cell) and returns the values it printed."""
    for index, cell in enumerate(nb.cells):
        if PROBE_TAG in cell.get("metadata", {}).get("tags", []):
            del nb.cells[index]
            for output in cell.get("outputs", []):
                for line in output.get("text", "").splitlines():
                    if line.startswith(PROBE_PREFIX):
                        return json.loads(line[len(PROBE_PREFIX):])
            return None
    return None


def first_error(nb):
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return index, cell, output
    return None, None, None


class CellFailed(Exception):
    """Raised from nbclient's on_cell_executed hook to stop at the first cell with an error.

    tslab replies to a failed cell with a bare "<Error>"; its error output carries the detail, so
    cells run with allow_errors and the run stops here instead."""

    def __init__(self, index):
        super().__init__(index)
        self.index = index


def stop_on_error(cell, cell_index, execute_reply):
    if any(o.get("output_type") == "error" for o in cell.get("outputs", [])) or execute_reply.get("content", {}).get("status") == "error":
        raise CellFailed(cell_index)


def main():
    src, out_nb, out_html, cwd, kernel, timeout, title = sys.argv[1:8]
    if os.environ.get("LAB_RUNNER_PID"):
        die_with_parent(int(os.environ["LAB_RUNNER_PID"]))
    nb = nbformat.read(src, as_version=4)
    client = LabClient(
        nb,
        open_events(),
        kernel_name=kernel,
        timeout=int(timeout),
        allow_errors=True,
        on_cell_executed=stop_on_error,
        record_timing=True,
        resources={"metadata": {"path": cwd}},
    )
    try:
        client.execute(preexec_fn=kernel_preexec(os.getpid()))
    except (CellFailed, CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        index, cell, output = first_error(nb)
        if index is None and isinstance(error, CellFailed):
            index, cell = error.index, nb.cells[error.index]
            # tslab reports a cell that does not type-check on stderr, with no error output.
            stderr = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stderr")
            output = {"ename": "TypeScript error" if re.match(r"^\d+:\d+ - ", stderr) else "Error", "evalue": stderr.strip() or "the kernel reported an error without details", "traceback": []}
        if index is None:
            executing = [i for i, c in enumerate(nb.cells) if c.get("metadata", {}).get("execution", {}).get("iopub.execute_input") and not c.get("metadata", {}).get("execution", {}).get("shell.execute_reply")]
            index = executing[0] if executing else None
            cell = nb.cells[index] if index is not None else None
        print(json.dumps({
            "ok": False,
            "cell": index,
            "source": cell.source if cell is not None else "",
            "ename": output.get("ename") if output else type(error).__name__,
            "evalue": output.get("evalue") if output else str(error).strip().splitlines()[-1:] and str(error).strip().splitlines()[-1],
            "traceback": "\n".join(output.get("traceback", [])) if output else str(error),
        }))
        return 1
    parameters = take_probe(nb)
    exporter = HTMLExporter(template_name="lab")
    exporter.mathjax_url = ""
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = EXTERNAL_TAG.sub("", body)
    for path, text in ((out_nb, nbformat.writes(nb)), (out_html, body)):
        if not write_or_report(path, text):
            return 1
    print(json.dumps({"ok": True, "parameters": parameters}))
    return 0


def write_or_report(path, text):
    """Writes one output file; on a full disk prints the runner's JSON reply (stage "write") and returns False."""
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return True
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        print(json.dumps({"ok": False, "stage": "write", "diskFull": True, "path": path, "bytes": len(text.encode("utf-8"))}))
        return False


if __name__ == "__main__":
    sys.exit(main())
