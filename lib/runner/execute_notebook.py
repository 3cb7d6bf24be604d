"""Executes one notebook headless with nbclient and exports it to self-contained HTML.

Called by lib/runner/run.ts (the `./lab run` command); the run logic lives there. This file is
the thin bridge to Jupyter's own execution engine, which is Python.

Usage: execute_notebook.py INPUT.ipynb OUTPUT.ipynb OUTPUT.html KERNEL_CWD KERNEL_NAME TIMEOUT_S
Prints one JSON line on stdout: {"ok": true} or {"ok": false, "cell": N, "ename": ..., ...}.
"""
import json
import re
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
    src, out_nb, out_html, cwd, kernel, timeout = sys.argv[1:7]
    nb = nbformat.read(src, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=int(timeout),
        allow_errors=True,
        on_cell_executed=stop_on_error,
        record_timing=True,
        resources={"metadata": {"path": cwd}},
    )
    try:
        client.execute()
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
    nbformat.write(nb, out_nb)
    exporter = HTMLExporter(template_name="lab")
    exporter.mathjax_url = ""
    body, _ = exporter.from_notebook_node(nb)
    body = EXTERNAL_TAG.sub("", body)
    with open(out_html, "w", encoding="utf-8") as handle:
        handle.write(body)
    print(json.dumps({"ok": True}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
