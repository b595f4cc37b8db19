"""The customers table's columns: names, SQL and pandas types, categories and ranges.

Apart from ``data`` so that code needing only the column definitions (synthetic traffic, steps) does not
import pandas.
"""

from __future__ import annotations

LABEL = "churned"
SPLIT = "split"
# Column -> (SQL type, pandas dtype). The order is the table's column order.
SCHEMA: dict[str, tuple[str, str]] = {
    "customer_id": ("STRING", "object"),
    "age": ("INT", "int64"),
    "region": ("STRING", "object"),
    "tenure_months": ("INT", "int64"),
    "monthly_charges": ("DOUBLE", "float64"),
    "total_charges": ("DOUBLE", "float64"),
    "contract": ("STRING", "object"),
    "internet_service": ("STRING", "object"),
    "payment_method": ("STRING", "object"),
    "support_tickets": ("INT", "int64"),
    LABEL: ("INT", "int64"),
    SPLIT: ("STRING", "object"),
}
CATEGORIES: dict[str, tuple[str, ...]] = {
    "region": ("north", "south", "east", "west"),
    "contract": ("month_to_month", "one_year", "two_year"),
    "internet_service": ("dsl", "fiber", "none"),
    "payment_method": ("card", "bank_transfer", "electronic_check", "mailed_check"),
    SPLIT: ("train", "test"),
}
RANGES: dict[str, tuple[float, float]] = {
    "age": (18, 100),
    "tenure_months": (0, 72),
    "monthly_charges": (10.0, 200.0),
    "total_charges": (0.0, 15_000.0),
    "support_tickets": (0, 30),
    LABEL: (0, 1),
}
NUMERIC_FEATURES = ["age", "tenure_months", "monthly_charges", "total_charges", "support_tickets"]
CATEGORICAL_FEATURES = ["region", "contract", "internet_service", "payment_method"]
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES
MIN_ROWS = 100
