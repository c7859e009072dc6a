"""Meta-tests: every registered layer declaration is consistent, and the checker catches mistakes."""
from dataclasses import replace

import pytest

from layers.admin_areas import UNITS
from layers.base import Field
from layers.checks import problems
from layers.registry import LAYERS, all_layers


@pytest.mark.parametrize("layer", all_layers(), ids=lambda layer: layer.name)
def test_every_registered_layer_is_consistent(layer):
    assert problems(layer, known_layers=set(LAYERS)) == []


def test_checker_finds_a_popup_field_that_is_not_a_field():
    broken = replace(UNITS, popup=("name_uk", "no_such_field"))
    assert any("popup field 'no_such_field'" in p for p in problems(broken))


def test_checker_refuses_a_staff_only_field_in_the_public_popup():
    broken = replace(UNITS, popup=("name_uk", "emails"))
    assert any("staff-only" in p for p in problems(broken))


def test_checker_finds_an_unknown_category_and_a_missing_column():
    broken = replace(UNITS, categories=("pothole", "no_such_category"),
                     fields=UNITS.fields + (Field("ghost", "text", {"uk": "Привид", "en": "Ghost"}),))
    found = problems(broken)
    assert any("category 'no_such_category'" in p for p in found)
    assert any("no column 'ghost'" in p for p in found)
    assert not any("'pothole'" in p for p in found)


def test_checker_wants_both_languages_and_known_types():
    broken = replace(UNITS, fields=UNITS.fields + (Field("code2", "colour", {"uk": "Код"}, column="code"),))
    found = problems(broken)
    assert any("unknown type 'colour'" in p for p in found)
    assert any("needs a label in uk and en" in p for p in found)


def test_registry_refuses_two_layers_with_one_name():
    from layers import admin_areas
    from layers.registry import build_registry

    assert set(build_registry([admin_areas])) == {"hromadas", "settlements", "units"}
    assert {"hromadas", "settlements", "units", "reports", "protected_areas", "coverage_areas", "speed_tiles",
            "speed_tests", "wifi_hotspots", "road_segments", "street_lamps", "synthetic_points",
            "synthetic_roads"} <= set(LAYERS)
    with pytest.raises(ValueError, match="two layers are named 'hromadas'"):
        build_registry([admin_areas, admin_areas])


def test_checker_finds_an_asset_spec_that_does_not_fit():
    from layers.lighting import STREET_LAMPS

    broken = replace(STREET_LAMPS, categories=("pothole",),
                     asset=replace(STREET_LAMPS.asset, ref_field="pole_no"))
    found = problems(broken)
    assert any("asset ref field 'pole_no'" in p for p in found)
    assert any("category 'pothole' routes to assets of kind 'road_segment'" in p for p in found)


@pytest.mark.parametrize("layer", [layer for layer in all_layers() if layer.asset], ids=lambda layer: layer.name)
def test_asset_triggers_in_the_database_follow_the_declaration(engine, layer):
    """The migration wrote the trigger arguments by hand: they must match ``Layer.asset``."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        found = conn.execute(sa.text("""
            SELECT t.tgname, encode(t.tgargs, 'escape') FROM pg_trigger t
            WHERE t.tgrelid = CAST(:table AS regclass) AND NOT t.tgisinternal AND t.tgname LIKE '%\\_asset\\_%'
            ORDER BY t.tgname"""),
            {"table": layer.table}).all()
    expected = "\\000".join(layer.asset.trigger_args()) + "\\000"
    assert [name for name, _ in found] == [f"{layer.table}_asset_{op}" for op in ("delete", "insert", "update")]
    assert {args for _, args in found} == {expected}


def test_every_asset_layer_is_known_to_the_report_workflow():
    from layers.assets import ASSET_LAYERS
    from layers.registry import all_layers

    assert {layer.name for layer in all_layers() if layer.asset} == {layer.name for layer in ASSET_LAYERS}
