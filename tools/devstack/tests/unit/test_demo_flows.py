"""The demo store's own flow files: valid, found where the installed package is, and guides for
every genre the demo's catalogue sells."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from boomerang.devstack.demo import DEMO_SETTINGS
from boomerang.devstack.history import CATALOGUE
from boomerang.devstack.stack import DEMO_STORE
from boomerang.messenger.flows import FlowFiles


def test_the_messenger_reads_the_demo_stores_flows_from_the_package() -> None:
    flows_dir = Path(DEMO_SETTINGS["messenger"]["BOOMERANG_MESSENGER_FLOWS_DIR"])

    assert flows_dir == Path(str(resources.files("boomerang.devstack") / "flows"))
    assert set(FlowFiles(flows_dir).check()) == {DEMO_STORE}  # every store file validates


def test_every_genre_of_the_catalogue_has_guides_and_everyone_gets_general_ones() -> None:
    flows_dir = Path(DEMO_SETTINGS["messenger"]["BOOMERANG_MESSENGER_FLOWS_DIR"])
    guides = FlowFiles(flows_dir).for_store(DEMO_STORE).get("neutral_nurture").guides

    assert {genre for _, _, genre in CATALOGUE} == {g.category for g in guides if g.category}
    assert any(g.category is None and g.step is None for g in guides)
    assert all(not g.url.startswith("http") for g in guides)  # pages under the store's URL
