"""A small hand-made campaign for the outreach tests: the rows churn_weekly, telco_ingest and
places_refresh would have published (scores, customers, contacts, places), written straight
into the test's datasets so each test pays seconds, not a model training.

Every kind of customer the audience rules tell apart is here, by id:
S-xxx eligible seniors (S-001..S-003 with night-time consent), X-<rule> seniors excluded by
one rule each, Y-YOUNG (aged 40) and Y-NOTNEW (not newly at risk) who are not in the audience.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field, replace

from retention.synthetic.contacts import synthetic_phone

WEEK = dt.date(2026, 11, 23)
DONGS = ("11680101", "11110101", "11440101", "11350102", "11740101")  # 역삼, 청운, 아현, 월계, 명일
OPT_OUT_NUMBER = "080-123-4567"
SEOUL = dt.timezone(dt.timedelta(hours=9))


@dataclass(frozen=True)
class Person:
    customer_id: str
    number: int
    age: int = 70
    newly_at_risk: bool = True
    sms_consent: bool = True
    consent_days_before: int = 100
    night_consent: bool = False
    opted_out: bool = False
    phone: str | None = None
    dong: str | None = field(default=None)

    @property
    def phone_e164(self) -> str:
        return self.phone or synthetic_phone(self.number)


def people(eligible: int = 30) -> list[Person]:
    crowd = [Person(f"S-{i:03d}", i, night_consent=i <= 3, dong=DONGS[i % len(DONGS)]) for i in range(1, eligible + 1)]
    return crowd + [
        Person("X-NOCONSENT", 901, sms_consent=False, dong=DONGS[0]),
        Person("X-OLDCONSENT", 902, consent_days_before=800, dong=DONGS[0]),
        Person("X-OPTEDOUT", 903, opted_out=True, dong=DONGS[0]),
        Person("X-LANDLINE", 904, phone="+8221234567", dong=DONGS[0]),
        Person("X-NODONG", 905, dong=None),
        Person("Y-YOUNG", 906, age=40, dong=DONGS[0]),
        Person("Y-NOTNEW", 907, newly_at_risk=False, dong=DONGS[0]),
    ]


def at(week: dt.date, hour: int, minute: int = 0, *, days: int = 0) -> dt.datetime:
    """A moment in the week, Seoul time (the week's Monday + `days`)."""
    return dt.datetime.combine(week + dt.timedelta(days=days), dt.time(hour, minute), SEOUL)


def create_tables(warehouse) -> None:
    from retention.outreach.campaign import ensure_tables

    warehouse.run_file("core/customers/create.sql", identifiers={"core_table": "customers"})
    for path in ("contact/phone_numbers/create.sql", "core/contacts/create.sql", "ml/churn_scores/create.sql",
                 "core/places/create.sql"):
        warehouse.run_file(path)
    # The sender reads who is still a customer from core.customer_presence (a view over the raw
    # landed rows, which these tests do not land): a table stands in for it.
    warehouse.run("CREATE TABLE IF NOT EXISTS `{{ core }}.customer_presence` (snapshot_date DATE, customer_id STRING)")
    ensure_tables(warehouse)


def publish_week(warehouse, week: dt.date, crowd: list[Person]) -> None:
    """core.customers (and its presence), core.contacts and ml.churn_scores of `week` for `crowd`
    (replacing the week), and the crowd's numbers in contact.phone_numbers (added, never replaced)."""
    published = dt.datetime.combine(week, dt.time(1), dt.UTC)
    customers, contacts, scores = [], [], []
    numbers = [{"phone_key": phone_key(person.phone_e164), "phone_e164": person.phone_e164, "first_seen_date": week,
                "first_seen_load_id": f"contacts-{week}", "added_at": published} for person in crowd]
    warehouse.insert_missing(warehouse.table_id("contact", "phone_numbers"), numbers, ("phone_e164",))
    for rank, person in enumerate(crowd, start=1):
        customers.append({
            "snapshot_date": week, "customer_id": person.customer_id, "age": person.age,
            "senior_citizen": person.age >= 65, "is_synthetic": True, "load_id": f"load-{week}",
            "source_uri": "tests/outreach_scenario.py", "source_row": rank, "published_at": published,
        })
        contacts.append({
            "snapshot_date": week, "customer_id": person.customer_id, "phone_key": phone_key(person.phone_e164),
            "sms_consent": person.sms_consent,
            "sms_consent_date": (week - dt.timedelta(days=person.consent_days_before)) if person.sms_consent else None,
            "night_consent": person.night_consent, "opted_out": person.opted_out,
            "opted_out_date": week if person.opted_out else None, "home_dong_code": person.dong,
            "is_synthetic": True, "load_id": f"contacts-{week}", "source_uri": "tests/outreach_scenario.py",
            "source_row": rank, "published_at": published,
        })
        scores.append({
            "snapshot_date": week, "customer_id": person.customer_id, "model_version": "churn-test",
            "churn_probability": 0.8 if person.newly_at_risk else 0.2,
            "risk_band": "high" if person.newly_at_risk else "low", "at_risk": person.newly_at_risk,
            "risk_rank": rank, "risk_percentile": 50.0, "segment": 1, "segment_name": "test",
            "newly_at_risk": person.newly_at_risk, "previous_scored_week": week - dt.timedelta(weeks=1),
            "at_risk_threshold": 0.5, "scored_at": published,
        })
    presence = [{"snapshot_date": week, "customer_id": person.customer_id} for person in crowd]
    for table, rows in (("core.customers", customers), ("core.customer_presence", presence),
                        ("core.contacts", contacts), ("ml.churn_scores", scores)):
        layer, name = table.split(".")
        warehouse.replace_rows(warehouse.table_id(layer, name), rows, {"snapshot_date": week})


def phone_key(phone_e164: str) -> str:
    """The number's key in contact.phone_numbers in these tests (random in the platform)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"tel:{phone_e164}"))


PLACES = (
    ("dlc-gangnam", "digital_learning_center", "강남구 디지털배움터", "서울특별시 강남구 테헤란로 1", 37.4990, 127.0300),
    ("dlc-jongno", "digital_learning_center", "종로구 디지털배움터", "서울특별시 종로구 세종대로 1", 37.5800, 126.9700),
    ("kt-plaza-mapo", "kt_plaza", "KT 플라자 아현점", "서울특별시 마포구 아현동 1", 37.5540, 126.9560),
    ("kt-exp-nowon", "kt_experience_plaza", "KT 체험형 플라자 노원점", "서울특별시 노원구 월계동 1", 37.6280, 127.0560),
)


def publish_places(warehouse, month: dt.date = dt.date(2026, 11, 1)) -> None:
    rows = [
        {"place_id": place_id, "source": "kt_store_finder" if kind.startswith("kt") else "digital_learning_centers",
         "place_type": kind, "name": name, "address": address, "address_normalised": address,
         "latitude": lat, "longitude": lon, "location": f"{lat},{lon}", "geocode_precision": "dong",
         "geocode_method": "offline_polygons", "origin": "bundled_crawl", "crawl_date": month, "crawl_id": "test",
         "crawled_at": dt.datetime.combine(month, dt.time(0), dt.UTC), "valid_from": month,
         "published_at": dt.datetime.combine(month, dt.time(0), dt.UTC)}
        for place_id, kind, name, address, lat, lon in PLACES
    ]
    warehouse.replace_rows(warehouse.table_id("core", "places"), rows, {"crawl_id": "test"})


def with_changes(crowd: list[Person], **changes: dict) -> list[Person]:
    """`crowd` with some people changed: with_changes(crowd, **{"S-004": {"opted_out": True}})."""
    return [replace(person, **changes.get(person.customer_id, {})) for person in crowd]
