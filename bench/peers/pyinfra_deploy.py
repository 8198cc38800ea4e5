"""pyinfra: the drop-in, validated with sshd -t, and a reload when it changed."""

from pathlib import Path

from pyinfra.operations import files, server, systemd

DROPIN = str(Path(__file__).with_name("dropin.conf"))

put = files.put(
    name="hardening drop-in",
    src=DROPIN,
    dest="/etc/ssh/sshd_config.d/10-bench-hardening.conf",
    mode="600",
)
if put.changed:
    server.shell(name="validate", commands=["sshd -t"])
    systemd.service(name="reload sshd", service="ssh", reloaded=True)
