"""The products the demo's customers buy (and its deals are named after)."""

from crm.demo.loading import insert
from crm.demo.registry import DemoContext, demo_seeder
from crm.models import Product, ProductUnit

PRODUCTS = [
    ("Olive oil 5 l", ProductUnit.UNIT),
    ("Sunflower oil 1 l", ProductUnit.CASE),
    ("Mineral water 1.5 l", ProductUnit.CASE),
    ("Sparkling water 0.5 l", ProductUnit.CASE),
    ("Lager beer 33 cl", ProductUnit.CASE),
    ("Draught beer keg", ProductUnit.LITRE),
    ("Red wine crianza", ProductUnit.CASE),
    ("White wine verdejo", ProductUnit.CASE),
    ("Orange juice", ProductUnit.LITRE),
    ("Cola 33 cl", ProductUnit.CASE),
    ("Coffee beans", ProductUnit.KG),
    ("Ground coffee", ProductUnit.KG),
    ("Sugar sachets", ProductUnit.CASE),
    ("Milk UHT", ProductUnit.LITRE),
    ("Serrano ham", ProductUnit.KG),
    ("Manchego cheese", ProductUnit.KG),
    ("Potato crisps", ProductUnit.CASE),
    ("Olives", ProductUnit.KG),
    ("Paper napkins", ProductUnit.CASE),
    ("Cleaning kit", ProductUnit.UNIT),
]


@demo_seeder("products", order=20)
def seed_products(context: DemoContext) -> None:
    skus = [f"SKU-{index:04d}" for index in range(1, len(PRODUCTS) + 1)]
    present = set(Product.objects.filter(sku__in=skus).values_list("sku", flat=True))
    missing = [
        Product(sku=sku, name=name, unit=unit)
        for sku, (name, unit) in zip(skus, PRODUCTS, strict=True)
        if sku not in present
    ]
    insert(context, Product, missing)
