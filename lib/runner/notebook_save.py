"""The live notebook's save hooks: running and editing in `./lab notebook` never rewrites a tracked
notebook with outputs or changed parameters.

Jupyter loads them from the config the entry script writes (.lab/jupyter/config). Before a save,
`strip_for_save` empties every code cell's outputs and execution count, drops the execution
timings, and puts the parameters cell back as the file on disk has it (so `quick = true` typed
for a short live run never becomes the default of `./lab run`). After a save, `keep_committed_bytes`
writes back the committed file byte for byte when its cells are the committed cells: a live run
with no edit to the text leaves `git status` clean, whatever Jupyter's own JSON layout.
Edits to markdown or code are saved as the author made them, without outputs.
"""
import json
import os
import subprocess

PARAMETERS_TAG = "parameters"


def _source(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _on_disk(os_path):
    try:
        with open(os_path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _committed_bytes(os_path):
    """The file as the last commit holds it, or None (not in a git work tree, or not tracked)."""
    folder, name = os.path.split(os_path)
    try:
        return subprocess.run(["git", "show", f"HEAD:./{name}"], cwd=folder, capture_output=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def _parameters_source(nb):
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []):
            return _source(cell)
    return None


def strip_for_save(model, path, contents_manager, **kwargs):
    """Jupyter's pre_save_hook: the notebook without outputs, with its parameters as on disk."""
    if model.get("type") != "notebook":
        return
    nb = model["content"]
    os_path = contents_manager._get_os_path(path)
    saved = _on_disk(os_path)
    parameters = _parameters_source(saved) if saved else None
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        cell["outputs"] = []
        cell["execution_count"] = None
        cell["metadata"].pop("execution", None)
        if parameters is not None and PARAMETERS_TAG in cell["metadata"].get("tags", []):
            cell["source"] = parameters


def _cells(nb):
    return [(c.get("cell_type"), _source(c), c.get("id"), json.dumps(c.get("metadata", {}).get("tags", []))) for c in nb.get("cells", [])]


def keep_committed_bytes(model, os_path, contents_manager, **kwargs):
    """Jupyter's post_save_hook: the committed bytes back when the saved cells are the committed ones."""
    if model.get("type") != "notebook":
        return
    committed = _committed_bytes(os_path)
    saved = _on_disk(os_path)
    if committed is None or saved is None:
        return
    try:
        original = json.loads(committed.decode("utf-8"))
    except ValueError:
        return
    if _cells(original) == _cells(saved):
        with open(os_path, "wb") as handle:
            handle.write(committed)
