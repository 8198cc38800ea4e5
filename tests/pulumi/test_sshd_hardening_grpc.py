"""Proof 2: SshdHardening through Pulumi's own dynamic provider server, against a real sshd.

No Pulumi CLI here, so this test plays the engine's part, the way the engine does it:

- it starts the provider the way the ``pulumi-resource-pulumi-python`` shim does: the project's
  virtualenv python, ``-u -m pulumi.dynamic <engine address>``, in the project directory (that
  is what makes ``components.sshd_hardening`` importable there), and reads the port from the first
  line of stdout;
- it speaks the ResourceProvider gRPC protocol: GetPluginInfo, CheckConfig (UNIMPLEMENTED, which
  the engine tolerates), Configure, then Check -> Create, Read, Diff, Update, Delete;
- ``__provider`` is the SDK's own ``serialize_provider`` of our provider (what
  ``pulumi.dynamic.Resource`` registers; tests/unit/test_sshd_hardening_graph.py checks the program
  registers exactly this);
- secrets: the engine wraps secrets in a ``4dabf18193072939515e22adb298388d`` object only for
  providers that accept secrets. The dynamic provider answers Configure with
  ``acceptSecrets: false`` (asserted below), so the engine sends the key as a plain string and
  marks outputs of the same name secret again itself; this test sends it the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2  # type: ignore[import-untyped]
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.proto import provider_pb2

from components.sshd_hardening.provider import SshdHardeningProvider
from components.sshd_hardening.settings import UNKNOWN
from tests.conftest import ClientKeys, HostFactory
from tests.pulumi.provider_server import (
    FAKE_FINGERPRINT,
    NOT_A_KEY,
    PROVIDER_URN,
    URN,
    ProviderServer,
    check,
    diff,
    fingerprint_of,
    key_fragments,
    plain,
    struct,
    without_private_key,
)
from tests.testhosts.chroot import TestHost, try_login

pytestmark = pytest.mark.host


@pytest.fixture
def provider_server() -> Iterator[ProviderServer]:
    server = ProviderServer()
    try:
        yield server
    finally:
        server.close()


def effective(host: TestHost, key: str) -> str:
    return host.sshd_effective("ops")[key]


def test_provider_server_hardens_reads_drift_and_updates_a_real_host(
    host_factory: HostFactory, client_keys: ClientKeys, provider_server: ProviderServer, suite: str
) -> None:
    host = host_factory(suite)  # like a fresh image: cloud-init drop-in allows root, passwords
    key_file = client_keys.ed25519
    key_text = key_file.read_text()
    server = provider_server
    serialized = serialize_provider(SshdHardeningProvider())

    # --- the engine's handshake with a freshly started provider
    assert server.call("GetPluginInfo", empty_pb2.Empty()).version
    with pytest.raises(grpc.RpcError) as no_check_config:
        server.stub.CheckConfig(provider_pb2.CheckRequest(urn=PROVIDER_URN, news=struct({})))
    assert no_check_config.value.code() == grpc.StatusCode.UNIMPLEMENTED
    configured = server.call(
        "Configure",
        provider_pb2.ConfigureRequest(args=struct({}), acceptSecrets=True, acceptResources=True),
    )
    # So the engine strips secret wrappers before every call: plain strings from here on.
    assert configured.acceptSecrets is False

    inputs: dict[str, Any] = {
        "__provider": serialized,
        "host": "127.0.0.1",
        "port": host.port,
        "bootstrapUser": "root",
        "adminUser": "ops",
        "privateKey": key_text,
        "profile": "baseline",
        "overrides": {"MaxAuthTries": "3"},
        "wait": 60,
    }

    # --- preview: the instance does not exist yet, its address and (no key set) the key unknown
    preview = check(server, {**inputs, "host": UNKNOWN, "privateKey": UNKNOWN})
    assert list(preview.failures) == []
    assert plain(preview.inputs)["host"] == UNKNOWN

    # --- check refuses what cannot work, naming the property, before touching the host
    refused = check(
        server,
        {
            **inputs,
            "port": 0,
            "adminUser": "root",
            "profile": "paranoid",
            "overrides": {"PasswordAuthentication": "maybe"},
            "privateKey": NOT_A_KEY,
            "expectedHostKeyFingerprint": "MD5:00",
        },
    )
    assert {f.property for f in refused.failures} == {
        "port",
        "adminUser",
        "profile",
        "overrides",
        "privateKey",
        "expectedHostKeyFingerprint",
    }

    # --- up: Check, then Create with the checked inputs
    checked = check(server, inputs)
    assert list(checked.failures) == []
    assert plain(checked.inputs)["privateKey"] == key_text  # the input, as given
    created = server.call(
        "Create", provider_pb2.CreateRequest(urn=URN, properties=checked.inputs, timeout=600)
    )
    outs = plain(created.properties)
    assert created.id == f"127.0.0.1:{host.port}"
    assert outs["compliant"] is True and outs["changed"] is True and outs["drift"] == []
    assert outs["hostKeyFingerprint"] == fingerprint_of(host.host_public_keys()["ssh-ed25519"])
    assert outs["effective"]["PasswordAuthentication"] == "no"
    assert outs["effective"]["PermitRootLogin"] == "no"
    assert outs["effective"]["MaxAuthTries"] == "3"
    assert outs["__provider"] == serialized
    # The host itself: hardened, root closed, the admin user in with the same key.
    assert effective(host, "passwordauthentication") == "no"
    assert not try_login(host.port, "root", key_file)
    assert try_login(host.port, "ops", key_file)

    # --- refresh: Read with the last outputs; clean host -> compliant, nothing to do
    read = server.call(
        "Read",
        provider_pb2.ReadRequest(
            id=created.id, urn=URN, properties=created.properties, inputs=checked.inputs
        ),
    )
    assert plain(read.properties)["compliant"] is True
    assert plain(read.properties)["effective"] == outs["effective"]
    unchanged = diff(server, read.properties, checked.inputs)
    assert unchanged.changes == provider_pb2.DiffResponse.DIFF_NONE

    # A drop-in that sorts *after* ours (01- vs 00-hardened-ecs.conf) changes nothing: sshd
    # takes the first value it reads. Read follows sshd -T, not the files: still compliant.
    host.run(
        "printf 'PasswordAuthentication yes\\n' > /etc/ssh/sshd_config.d/01-drift.conf", check=True
    )
    assert effective(host, "passwordauthentication") == "no"
    read_late = server.call(
        "Read",
        provider_pb2.ReadRequest(
            id=created.id, urn=URN, properties=created.properties, inputs=checked.inputs
        ),
    )
    assert plain(read_late.properties)["compliant"] is True

    # A hand edit that takes effect: a drop-in read before ours re-enables passwords.
    host.run(
        "printf 'PasswordAuthentication yes\\n' > /etc/ssh/sshd_config.d/00-drift.conf", check=True
    )
    host.reload()
    assert effective(host, "passwordauthentication") == "yes"
    drifted = server.call(
        "Read",
        provider_pb2.ReadRequest(
            id=created.id, urn=URN, properties=created.properties, inputs=checked.inputs
        ),
    )
    drift_outs = plain(drifted.properties)
    assert drift_outs["compliant"] is False
    assert drift_outs["drift"] == ["PasswordAuthentication"]
    assert drift_outs["effective"]["PasswordAuthentication"] == "yes"
    assert drift_outs["hostKeyFingerprint"] == outs["hostKeyFingerprint"]
    # preview --refresh: same inputs, drifted state -> an update (so --expect-no-changes fails).
    after_refresh = diff(server, drifted.properties, checked.inputs)
    assert after_refresh.changes == provider_pb2.DiffResponse.DIFF_SOME
    assert list(after_refresh.replaces) == []

    # --- a settings change: Check, Diff says update in place; a new or unknown host: replace
    changed_inputs = check(server, {**inputs, "overrides": {"MaxAuthTries": "2"}}, olds=inputs)
    assert list(changed_inputs.failures) == []
    settings_diff = diff(server, drifted.properties, changed_inputs.inputs)
    assert settings_diff.changes == provider_pb2.DiffResponse.DIFF_SOME
    assert list(settings_diff.replaces) == []
    for new_host in ("127.0.0.2", UNKNOWN):
        moved = diff(server, read.properties, struct({**plain(checked.inputs), "host": new_host}))
        assert moved.changes == provider_pb2.DiffResponse.DIFF_SOME
        assert list(moved.replaces) == ["host"]

    # --- up again: Update converges (drift gone, new setting in), as the admin user, pinned
    updated = server.call(
        "Update",
        provider_pb2.UpdateRequest(
            id=created.id,
            urn=URN,
            olds=drifted.properties,
            news=changed_inputs.inputs,
            old_inputs=checked.inputs,
            timeout=600,
        ),
    )
    up_outs = plain(updated.properties)
    assert up_outs["compliant"] is True and up_outs["changed"] is True
    assert up_outs["effective"]["PasswordAuthentication"] == "no"
    assert up_outs["effective"]["MaxAuthTries"] == "2"
    assert up_outs["hostKeyFingerprint"] == outs["hostKeyFingerprint"]
    assert effective(host, "passwordauthentication") == "no"
    assert effective(host, "maxauthtries") == "2"
    reread = server.call(
        "Read",
        provider_pb2.ReadRequest(
            id=created.id, urn=URN, properties=updated.properties, inputs=changed_inputs.inputs
        ),
    )
    assert plain(reread.properties)["compliant"] is True
    assert diff(server, reread.properties, changed_inputs.inputs).changes == (
        provider_pb2.DiffResponse.DIFF_NONE
    )

    # --- failures carry the engine's message: a different host key than the one recorded ...
    with pytest.raises(grpc.RpcError) as wrong_host_key:
        server.call(
            "Read",
            provider_pb2.ReadRequest(
                id=created.id,
                urn=URN,
                properties=struct(
                    {**plain(updated.properties), "hostKeyFingerprint": FAKE_FINGERPRINT}
                ),
            ),
        )
    assert "engine exit 3" in str(wrong_host_key.value.details())
    assert "pinned" in str(wrong_host_key.value.details())
    # ... and a key the server does not know (create on a hardened host, no waiting).
    stranger = client_keys.stranger.read_text()
    stranger_inputs = check(server, {**inputs, "privateKey": stranger, "wait": 0})
    with pytest.raises(grpc.RpcError) as refused_key:
        server.call(
            "Create", provider_pb2.CreateRequest(urn=URN, properties=stranger_inputs.inputs)
        )
    assert "engine exit 3" in str(refused_key.value.details())
    assert "refused the key" in str(refused_key.value.details())
    assert all(f not in str(refused_key.value.details()) for f in key_fragments(stranger))

    # --- destroy: the server is left as it is, and the provider says so
    server.call(
        "Delete", provider_pb2.DeleteRequest(id=created.id, urn=URN, properties=updated.properties)
    )
    assert effective(host, "maxauthtries") == "2"
    server.close()  # drains stderr
    assert f"127.0.0.1:{host.port} is no longer managed" in server.stderr
    assert "nothing on the server was changed" in server.stderr

    # --- the key: only ever under the privateKey property, nowhere else in any response, error,
    # log line or engine log message
    for name, response in server.seen:
        if not isinstance(response, str):
            for field in ("inputs", "properties"):
                if response.DESCRIPTOR.fields_by_name.get(field) and response.HasField(field):
                    props = plain(getattr(response, field))
                    given = (None, key_text, stranger, NOT_A_KEY, UNKNOWN)
                    assert props.get("privateKey") in given, name
        scanned = without_private_key(response)
        for fragment in key_fragments(key_text) + key_fragments(stranger):
            assert fragment.encode() not in scanned, f"key material in {name}"
    for fragment in key_fragments(key_text):
        assert fragment not in server.stderr
        assert all(fragment not in log for log in server.engine.logs)
