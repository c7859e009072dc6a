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
    broken = replace(UNITS, popup=("name_uk", "email"))
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
    assert set(LAYERS) == {"hromadas", "settlements", "units", "reports", "protected_areas", "coverage_areas",
                           "wifi_hotspots", "synthetic_points", "synthetic_roads"}
    with pytest.raises(ValueError, match="two layers are named 'hromadas'"):
        build_registry([admin_areas, admin_areas])
