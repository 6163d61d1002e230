"""Words the synthetic store is made of: categories, brands, names, places and pages.

Each category carries its share of the catalogue, its typical price and the brands,
product nouns and search queries that belong to it. :data:`CATEGORIES` is the public
category order (the order of the ``taste_`` columns of the truth table).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class _Category:
    name: str
    weight: float
    median_price: float
    price_sigma: float
    brands: tuple[str, ...]
    nouns: tuple[str, ...]
    queries: tuple[str, ...]


_CATEGORY_SPECS: tuple[_Category, ...] = (
    _Category(
        "electronics", 1.2, 79.0, 0.9,
        ("Voltix", "Nordtek", "Auralis", "Pixelon", "Corebyte", "Lumio"),
        ("Headphones", "Speaker", "Charger", "Smartwatch", "Keyboard", "Tablet", "Camera"),
        ("wireless headphones", "usb c charger", "bluetooth speaker", "smart watch", "tablet"),
    ),
    _Category(
        "books", 0.9, 14.0, 0.45,
        ("Penrose Press", "Inkwell", "Harbor Books", "Bluefield", "Quillstone"),
        ("Novel", "Cookbook", "Biography", "Travel Guide", "Anthology", "Thriller"),
        ("bestseller", "cookbook", "travel guide", "crime novel", "kids books"),
    ),
    _Category(
        "fashion", 1.4, 39.0, 0.7,
        ("Marlowe", "Threadline", "Velaro", "Kintsu", "Solenne", "Rowan Lane"),
        ("Jacket", "Sneakers", "Dress", "Jeans", "Scarf", "Shirt", "Boots"),
        ("summer dress", "running sneakers", "winter jacket", "slim jeans", "wool scarf"),
    ),
    _Category(
        "home", 1.1, 42.0, 0.8,
        ("Hearthly", "Casa Nova", "Linden", "Brightnest", "Duna"),
        ("Lamp", "Cushion", "Duvet", "Vase", "Rug", "Frying Pan", "Knife Set"),
        ("table lamp", "duvet cover", "frying pan", "area rug", "scented candle"),
    ),
    _Category(
        "beauty", 1.0, 19.0, 0.6,
        ("Velvette", "Aurea", "Lumine", "Skinfolk", "Petalia"),
        ("Serum", "Moisturizer", "Lipstick", "Shampoo", "Perfume", "Face Mask"),
        ("vitamin c serum", "moisturizer", "red lipstick", "dry shampoo", "perfume"),
    ),
    _Category(
        "sports", 0.9, 35.0, 0.8,
        ("Stridex", "Peakform", "Tempo", "Northline", "Arcfit"),
        ("Yoga Mat", "Dumbbells", "Running Shorts", "Water Bottle", "Tennis Racket", "Helmet"),
        ("yoga mat", "dumbbells", "running shorts", "bike helmet", "tennis racket"),
    ),
    _Category(
        "toys", 0.8, 24.0, 0.6,
        ("Bricko", "Funhaus", "Wonderly", "Tinytown", "Kiddo Lab"),
        ("Puzzle", "Building Set", "Plush Bear", "Board Game", "Doll", "RC Car"),
        ("lego", "board game", "puzzle 1000", "plush toy", "remote control car"),
    ),
    _Category(
        "grocery", 1.0, 7.0, 0.5,
        ("Greenacre", "Fieldstone", "Pantry Co", "Mornings", "Olivia Farms"),
        ("Coffee Beans", "Olive Oil", "Granola", "Green Tea", "Pasta", "Dark Chocolate"),
        ("coffee beans", "olive oil", "granola", "green tea", "dark chocolate"),
    ),
    _Category(
        "garden", 0.6, 29.0, 0.8,
        ("Verdant", "Rootwise", "Sunpatch", "Bloomer"),
        ("Planter", "Hose", "Seed Kit", "Pruner", "Garden Chair", "Lantern"),
        ("planter", "garden hose", "tomato seeds", "pruning shears", "solar lantern"),
    ),
    _Category(
        "music", 0.6, 22.0, 0.9,
        ("Vinylhouse", "Echo Lane", "Resona", "Tunecraft"),
        ("Vinyl Record", "Guitar Strings", "Ukulele", "Songbook", "Microphone", "Capo"),
        ("vinyl", "guitar strings", "ukulele", "usb microphone", "songbook"),
    ),
    _Category(
        "pets", 0.7, 21.0, 0.6,
        ("Pawsome", "Whiskerco", "Tailwind", "Petsy"),
        ("Dog Food", "Cat Litter", "Chew Toy", "Pet Bed", "Leash", "Scratching Post"),
        ("dog food", "cat litter", "chew toy", "dog bed", "cat tree"),
    ),
    _Category(
        "health", 0.8, 15.0, 0.6,
        ("Vitalis", "Purewell", "Medra", "Everbloom"),
        ("Vitamins", "Protein Powder", "Thermometer", "First Aid Kit", "Toothbrush", "Omega 3"),
        ("vitamin d", "protein powder", "thermometer", "electric toothbrush", "omega 3"),
    ),
)  # fmt: skip

CATEGORIES: tuple[str, ...] = tuple(c.name for c in _CATEGORY_SPECS)

_ADJECTIVES = (
    "Classic", "Essential", "Pro", "Eco", "Compact", "Premium", "Everyday", "Deluxe", "Mini",
    "Ultra",
)  # fmt: skip
_FIRST_NAMES = (
    "Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jack", "Karin",
    "Liam", "Maya", "Noah", "Olivia", "Paul", "Quinn", "Ruby", "Sam", "Tara", "Umar", "Vera",
    "Will", "Xena", "Yusuf", "Zoe", "Amelie", "Bruno", "Clara", "Diego", "Elena", "Finn",
    "Giulia", "Hannah", "Ivan", "Julia", "Kenji", "Lena", "Mateo", "Nina", "Oscar", "Priya",
    "Rosa", "Sofia", "Tom", "Ugo", "Vikram", "Wen", "Yara", "Leo", "Mia", "Lucas", "Ella",
    "Omar", "Freya", "Jonas", "Alice", "Marco", "Sara", "Henry",
)  # fmt: skip
_LAST_NAMES = (
    "smith", "jones", "muller", "garcia", "rossi", "martin", "brown", "silva", "novak", "kim",
    "patel", "nguyen", "larsen", "dubois", "schmidt", "lopez", "walker", "moreau", "fischer",
    "conti", "young", "berg", "hughes", "bauer", "costa", "green", "weber", "ricci", "clark",
    "santos", "evans", "meyer", "perez", "turner", "lindqvist", "ward", "romano", "khan",
)  # fmt: skip
# Reserved example domains (RFC 2606): a synthetic address can never reach a real person.
_DOMAINS = ("example.com", "example.org", "example.net")
_COUNTRIES = ("US", "GB", "DE", "FR", "CA", "AU", "NL", "ES", "IT", "SE")
_COUNTRY_P = (0.45, 0.12, 0.10, 0.08, 0.07, 0.05, 0.04, 0.04, 0.03, 0.02)
_LOCAL_CURRENCY = ("USD", "GBP", "EUR", "EUR", "USD", "USD", "EUR", "EUR", "EUR", "USD")
_ACQUISITION = ("organic", "paid_search", "social", "referral", "email")
_TIERS = ("bronze", "silver", "gold")
_PAGES = ("/", "/deals", "/new", "/account", "/wishlist")
_DISCOUNTS = (0.05, 0.1, 0.15, 0.2)
_CURRENCIES = ("USD", "EUR", "GBP")  # order currencies, by code (USD is the default)
_CHANNELS = ("email", "push")  # message and consent channels, by code
