"""A rep's book of customers: prospects, and customers signed up before the demo's history or
during it (more in busy months, fewer in the current one so far), a few of them inactive; who
to ask for at each and how to reach them."""

import random
import unicodedata
from collections.abc import Sequence
from datetime import datetime, time, timedelta

from crm.demo.calendar import Calendar, between
from crm.demo.people import FIRST_NAMES, LAST_NAMES
from crm.models import Customer, CustomerStatus, SalesRep

CUSTOMER_KINDS = [
    "Bar", "Café", "Restaurante", "Hotel", "Supermercado", "Panadería", "Cafetería", "Mesón",
    "Tienda", "Taberna",
]  # fmt: skip
CUSTOMER_NAMES = [
    "Central", "La Plaza", "El Puerto", "Miramar", "Sol", "Luna", "Los Arcos", "El Rincón",
    "La Estación", "San Miguel", "El Molino", "La Fuente", "Las Palmeras", "El Faro", "Avenida",
    "La Esquina", "Mercado", "Costa", "El Olivo", "Real",
]  # fmt: skip
STREETS = [
    "Calle Mayor", "Avenida de la Constitución", "Calle Real", "Paseo del Mar", "Calle del Sol",
    "Plaza de España", "Calle Nueva", "Avenida de Andalucía", "Calle San Juan", "Ronda Norte",
]  # fmt: skip


def customers_of(
    rng: random.Random, calendar: Calendar, *, number: int, rep: SalesRep, skill: float
) -> list[Customer]:
    """Rep `number`'s 20 to 30 customers; a better rep (`skill`) has fewer prospects."""
    book_start = max(
        calendar.start - timedelta(days=730),
        datetime.combine(rep.hire_date, time(9), tzinfo=calendar.as_of.tzinfo),
    )
    signup_months = [month for month in calendar.months if calendar.past_part(month)]
    signup_weights = [
        month.weight * calendar.elapsed_share(month) * (1 + 0.15 * month.age / 12)
        for month in signup_months
    ]
    prospect_share = min(0.35, max(0.08, 0.2 - 0.1 * (skill - 1)))
    customers = []
    for index in range(1, rng.randint(20, 30) + 1):
        draw = rng.random()
        if draw < prospect_share:
            status, signed_up_at = CustomerStatus.PROSPECT, None
            created_at = between(rng, calendar.start, calendar.as_of)
        else:
            status = CustomerStatus.INACTIVE if draw > 0.95 else CustomerStatus.ACTIVE
            if rng.random() < 0.35 or not signup_months:  # signed before the window
                signed_up_at = between(rng, book_start, calendar.start)
            else:
                month = rng.choices(signup_months, signup_weights)[0]
                signed_up_at = between(rng, *calendar.past_part(month))
            created_at = signed_up_at - timedelta(days=rng.uniform(2, 60))
        customers.append(
            Customer(
                name=f"{rng.choice(CUSTOMER_KINDS)} {rng.choice(CUSTOMER_NAMES)}",
                code=f"C{number:04d}-{index:02d}",
                address=f"{rng.choice(STREETS)} {rng.randint(1, 180)}",
                owner=rep,
                status=status,
                signed_up_at=signed_up_at,
                created_at=created_at,
                updated_at=signed_up_at or created_at,
            )
        )
    return customers


def add_contacts(rng: random.Random, customers: Sequence[Customer]) -> None:
    """Who to ask for at each customer, and most of the time a phone, often an email."""
    for customer in customers:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        customer.contact_name = f"{first} {last}"
        if rng.random() < 0.9:
            digits = [rng.randint(0, 99), rng.randint(0, 999), rng.randint(0, 999)]
            customer.phone = "+34 6{:02d} {:03d} {:03d}".format(*digits)
        if rng.random() < 0.6:
            customer.email = f"{_ascii(first)}.{customer.code.lower()}@demo.example"


def known_at(rng: random.Random, customers: Sequence[Customer], moment: datetime) -> Customer:
    """One of the customers already in the book at `moment` (any, if none was yet)."""
    known = [customer for customer in customers if customer.created_at <= moment]
    return rng.choice(known or customers)


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
