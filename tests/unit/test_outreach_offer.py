"""The offer's places: great-circle distances, the nearest venue, an experience plaza preferred
within the configured radius, the same answer for the same inputs."""

from __future__ import annotations

import pytest

from retention.outreach.offer import Place, haversine_km, nearest_places

HOME = (37.5665, 126.9780)  # Seoul City Hall


def _place(place_id, place_type, lat, lon):
    return Place(place_id, place_type, place_id, "서울특별시", lat, lon, "dong")


def test_haversine_matches_known_distances():
    assert haversine_km(*HOME, *HOME) == 0
    # City Hall to Gangnam station is about 8.9 km as the crow flies.
    assert haversine_km(*HOME, 37.4979, 127.0276) == pytest.approx(8.85, abs=0.1)
    # One degree of latitude is about 111.2 km anywhere.
    assert haversine_km(37.0, 127.0, 38.0, 127.0) == pytest.approx(111.2, abs=0.1)


def test_an_experience_plaza_is_preferred_within_the_radius_and_the_nearest_plaza_otherwise():
    places = [
        _place("dlc:near", "digital_learning_center", 37.5670, 126.9790),
        _place("dlc:far", "digital_learning_center", 37.60, 127.05),
        _place("kt:plaza", "kt_plaza", 37.5700, 126.9800),  # ~0.4 km
        _place("kt:experience", "kt_experience_plaza", 37.5850, 126.9780),  # ~2.1 km
    ]
    chosen = nearest_places(HOME, places, experience_within_km=3)
    assert chosen.venue.place.place_id == "dlc:near"
    assert chosen.plaza.place.place_id == "kt:experience"
    assert chosen.plaza.distance_km == pytest.approx(2.06, abs=0.05)
    assert nearest_places(HOME, places, experience_within_km=1).plaza.place.place_id == "kt:plaza"


def test_places_at_the_same_point_give_the_same_answer_whatever_their_order():
    same = [_place(f"kt:{n}", "kt_plaza", 37.57, 126.98) for n in ("b", "a", "c")]
    venue = [_place("dlc:v", "digital_learning_center", 37.57, 126.98)]
    assert nearest_places(HOME, venue + same).plaza.place.place_id == "kt:a"
    assert nearest_places(HOME, list(reversed(venue + same))).plaza.place.place_id == "kt:a"


def test_no_plaza_published_is_a_clear_error():
    with pytest.raises(LookupError, match="no published KT plaza in core.places: run places_refresh"):
        nearest_places(HOME, [_place("dlc:v", "digital_learning_center", 37.57, 126.98)])
