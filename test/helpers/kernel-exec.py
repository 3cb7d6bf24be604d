"""Executes code in a running Jupyter kernel, as a notebook front end does: kernel-exec.py CONNECTION_FILE CODE.
Prints the kernel's stream and error output; exits 1 when the kernel reports an error."""
import queue
import sys
import time

from jupyter_client import BlockingKernelClient

client = BlockingKernelClient(connection_file=sys.argv[1])
client.load_connection_file()
client.start_channels()
# wait_for_ready() takes a kernel still starting for a dead one (no heartbeat yet): ask until it answers.
deadline = time.monotonic() + 60
while True:
    client.kernel_info()
    try:
        client.get_shell_msg(timeout=2)
        break
    except queue.Empty:
        if time.monotonic() > deadline:
            sys.exit("the kernel did not answer kernel_info within 60 s")
failed = False


def show(msg):
    global failed
    content = msg["content"]
    if msg["msg_type"] == "stream":
        sys.stdout.write(content["text"])
    elif msg["msg_type"] == "error":
        failed = True
        sys.stdout.write("\n".join(content.get("traceback", [])) or content.get("evalue", ""))


reply = client.execute_interactive(sys.argv[2], timeout=120, output_hook=show)
sys.exit(1 if failed or reply["content"].get("status") != "ok" else 0)
