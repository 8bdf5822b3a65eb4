"""`core.geocode_cache`: what an online geocoder answered, by normalised address, so that each
address is asked once (and positions resolved online stay when a key is removed)."""

from __future__ import annotations

import datetime as dt

from retention.warehouse import Warehouse


class WarehouseGeocodeCache:
    """`core.geocode_cache`: what an online geocoder answered, by normalised address."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self.table_id = warehouse.table_id("core", "geocode_cache")

    def lookup(self, addresses: list[str]) -> dict:
        from retention.places.geocode import Geocode

        if not addresses:
            return {}
        rows = self.warehouse.rows(
            "SELECT * FROM `{{ core }}.geocode_cache` WHERE address_normalised IN UNNEST(@addresses)",
            {"addresses": sorted(set(addresses))}, source="core.geocode_cache",
        )
        return {
            row["address_normalised"]: Geocode(
                latitude=row["latitude"], longitude=row["longitude"], precision=row["precision"], method=row["method"],
                district_code=row["district_code"], dong_code=row["dong_code"],
            )
            for row in rows
        }

    def store(self, results: dict) -> None:
        """Add or refresh the given answers in one MERGE (a few dozen addresses a month)."""
        if not results:
            return
        now = dt.datetime.now(dt.UTC)
        rows = [
            {"address_normalised": address, "latitude": geocode.latitude, "longitude": geocode.longitude,
             "precision": geocode.precision, "method": geocode.method, "district_code": geocode.district_code,
             "dong_code": geocode.dong_code, "resolved_at": now}
            for address, geocode in results.items()
        ]
        with self.warehouse.staged_rows(self.table_id, rows) as staged_id:
            self.warehouse.run_file("core/geocode_cache/store.sql", identifiers={"staged": staged_id.rsplit(".", 1)[1]})
