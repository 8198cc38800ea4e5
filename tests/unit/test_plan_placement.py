"""`--placement block`: the managed block at the top of sshd_config on every host, also where an
Include would let our drop-in win (README, "Where the values live")."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardening.front.inventory import load_inventory
from hardening.host.paths import MAIN_CONFIG
from hardening.model.desired import Request
from hardening.planning import sshd_config
from hardening.planning.plan import DROPIN_PATH
from tests.facts import SLUGS, WITH_INCLUDE, applied, load_facts, plan_for

BLOCK = Request(placement="block")


@pytest.mark.parametrize("slug", WITH_INCLUDE)
def test_block_puts_the_values_above_the_include_and_writes_no_drop_in(slug: str) -> None:
    facts = load_facts(slug)
    dropin, block = plan_for(facts), plan_for(facts, BLOCK)
    assert (dropin.mode, block.mode) == ("dropin", "inplace")
    assert "--placement block" in block.mode_reason
    assert [f.path for f in block.files if f.path != MAIN_CONFIG] == [
        f.path for f in dropin.files if f.path not in (DROPIN_PATH, MAIN_CONFIG)
    ]
    main = next(f.content for f in block.files if f.path == MAIN_CONFIG)
    assert main is not None and main == sshd_config.with_block(facts.main_config, block.wanted())
    assert block.validation_main == main
    assert block.wanted() == dropin.wanted()
    # First value wins: the block comes before the Include and so before every drop-in
    # (50-cloud-init.conf's PasswordAuthentication among them).
    lines = sshd_config.global_lines(main)
    include = next(ln.number for ln in lines if ln.keyword == "include")
    ours = {ln.keyword: ln.number for ln in sshd_config.parse_lines(main) if ln.number < include}
    assert set(ours) == {k.lower() for k in block.wanted()}


@pytest.mark.parametrize("slug", SLUGS)
def test_block_planned_again_changes_nothing(slug: str) -> None:
    facts = load_facts(slug)
    first = plan_for(facts, BLOCK)
    again = plan_for(applied(facts, first), BLOCK)
    assert (again.files, again.modes, again.mode) == ([], [], "inplace")


@pytest.mark.parametrize("slug", WITH_INCLUDE)
def test_switching_placement_moves_the_values_and_leaves_nothing_behind(slug: str) -> None:
    facts = load_facts(slug)
    as_dropin = applied(facts, plan_for(facts))
    to_block = plan_for(as_dropin, BLOCK)
    assert (DROPIN_PATH, None) in [(f.path, f.content) for f in to_block.files]  # ours goes
    as_block = applied(as_dropin, to_block)
    assert sshd_config.DROPIN_NAME not in as_block.dropins
    back = plan_for(as_block)
    assert back.mode == "dropin"
    main = next(f.content for f in back.files if f.path == MAIN_CONFIG)
    assert main == facts.main_config  # the block is gone, the image's file as it was


def test_an_inventory_entry_beats_defaults_and_the_flag(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yaml"
    path.write_text(
        "defaults: {user: root, identity: k, placement: block}\n"
        "hosts: [a.example, {host: b.example, placement: dropin}]\n"
    )
    entries = load_inventory(str(path), {"port": 22, "set": {}, "placement": "dropin"})
    assert [e.request.placement for e in entries] == ["block", "dropin"]
    flag_only = tmp_path / "flag.yaml"
    flag_only.write_text("[{host: c.example, user: root, identity: k}]\n")
    (entry,) = load_inventory(str(flag_only), {"port": 22, "set": {}, "placement": "block"})
    assert entry.request.placement == "block"
