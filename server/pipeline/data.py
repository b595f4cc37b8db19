"""Customer churn data: reproducible synthetic raw data, cleaning and typing, split, validation.

Raw data looks like what lands from a CRM export: numbers as text, categories in mixed case and
spelling, blank total charges for brand-new customers, a few duplicated and impossible rows. ``clean``
turns it into the typed ``customers`` table the model trains on; ``validate`` refuses anything that does
not match ``SCHEMA`` and says exactly what is wrong.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from server.pipeline.columns import CATEGORIES, LABEL, MIN_ROWS, RANGES, SCHEMA, SPLIT

_RAW_SPELLINGS = {
    "contract": {
        "month_to_month": ["Month-to-month", "month-to-month ", "MONTH TO MONTH"],
        "one_year": ["One year", "one-year", " 1 year"],
        "two_year": ["Two year", "two-year", "2 YEAR"],
    },
    "internet_service": {"dsl": ["DSL", "dsl "], "fiber": ["Fiber optic", "fiber"], "none": ["No", "none"]},
    "payment_method": {
        "card": ["Credit card", "credit card (automatic)"],
        "bank_transfer": ["Bank transfer", "bank transfer (automatic)"],
        "electronic_check": ["Electronic check", "e-check"],
        "mailed_check": ["Mailed check", "mailed check"],
    },
    "region": {r: [r.title(), r.upper(), f" {r}"] for r in CATEGORIES["region"]},
}
_NORMALISE = {
    column: {
        spelling.strip().lower(): canonical
        for canonical, spellings in mapping.items()
        for spelling in spellings
    }
    for column, mapping in _RAW_SPELLINGS.items()
}


class DataValidationError(ValueError):
    """The data does not match what the table promises; ``problems`` lists every reason."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{what} failed validation ({len(problems)} problems): " + "; ".join(problems))


@dataclass(frozen=True)
class CleaningReport:
    raw_rows: int
    duplicates_dropped: int
    invalid_dropped: int
    rows: int


def generate_raw(rows: int, seed: int) -> pd.DataFrame:
    """Raw CRM export: the same ``seed`` and ``rows`` give the same frame, byte for byte."""
    from faker import Faker

    rng = np.random.default_rng(seed)
    fake = Faker()
    fake.seed_instance(seed)
    contract = rng.choice(CATEGORIES["contract"], rows, p=[0.55, 0.25, 0.20])
    internet = rng.choice(CATEGORIES["internet_service"], rows, p=[0.35, 0.45, 0.20])
    payment = rng.choice(CATEGORIES["payment_method"], rows, p=[0.25, 0.25, 0.3, 0.2])
    region = rng.choice(CATEGORIES["region"], rows)
    tenure = rng.integers(0, 73, rows)
    monthly = np.round(rng.normal(65, 25, rows).clip(15, 180), 2)
    tickets = rng.poisson(1.5, rows)
    age = rng.integers(18, 90, rows)
    logit = (
        -1.2
        + 1.4 * (contract == "month_to_month")
        - 0.9 * (contract == "two_year")
        - 0.045 * tenure
        + 0.02 * (monthly - 65)
        + 0.35 * tickets
        + 0.6 * (internet == "fiber")
        + 0.5 * (payment == "electronic_check")
    )
    churned = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)

    def spell(column: str, values: np.ndarray) -> list[str]:
        choices = _RAW_SPELLINGS[column]
        picks = rng.integers(0, 3, len(values))
        return [choices[v][i % len(choices[v])] for v, i in zip(values, picks, strict=True)]

    # Faker is slow per call: draw people from seeded pools of real-looking names instead.
    first_names = rng.choice([fake.first_name() for _ in range(64)], rows)
    last_names = rng.choice([fake.last_name() for _ in range(64)], rows)
    domains = rng.choice([fake.free_email_domain() for _ in range(8)], rows)
    total = np.round(tenure * monthly * rng.uniform(0.9, 1.1, rows), 2)
    raw = pd.DataFrame(
        {
            "customer_id": [f"C{n:07d}" for n in range(1, rows + 1)],
            "name": [f"{first} {last}" for first, last in zip(first_names, last_names, strict=True)],
            "email": [
                f"{first}.{last}{n}@{domain}".lower()
                for n, (first, last, domain) in enumerate(zip(first_names, last_names, domains, strict=True))
            ],
            "age": age.astype(str),
            "region": spell("region", region),
            "tenure_months": tenure.astype(str),
            "monthly_charges": [f"{m:.2f}" for m in monthly],
            # New customers have not been billed yet: the export leaves the field blank.
            "total_charges": [" " if t == 0 else f"{c:.2f}" for t, c in zip(tenure, total, strict=True)],
            "contract": spell("contract", contract),
            "internet_service": spell("internet_service", internet),
            "payment_method": spell("payment_method", payment),
            "support_tickets": tickets.astype(str),
            "churn": np.where(churned == 1, "Yes", "No"),
        }
    )
    # Export glitches: duplicated rows and impossible ages.
    glitches = max(1, rows // 100)
    raw.loc[rng.choice(rows, glitches, replace=False), "age"] = "0"
    return pd.concat([raw, raw.iloc[rng.choice(rows, glitches, replace=False)]], ignore_index=True)


def clean(raw: pd.DataFrame) -> tuple[pd.DataFrame, CleaningReport]:
    """Typed, normalised customers (no personal data: the model never needs names or emails)."""
    deduplicated = raw.drop_duplicates(subset="customer_id", keep="first")
    out = pd.DataFrame({"customer_id": deduplicated["customer_id"].astype(str).str.strip()})
    for column in ("age", "tenure_months", "support_tickets"):
        out[column] = pd.to_numeric(deduplicated[column].str.strip(), errors="coerce").astype("Int64")
    for column in ("monthly_charges", "total_charges"):
        out[column] = pd.to_numeric(deduplicated[column].str.strip(), errors="coerce").astype("float64")
    out["total_charges"] = out["total_charges"].where(out["tenure_months"] != 0, 0.0)
    for column, mapping in _NORMALISE.items():
        out[column] = deduplicated[column].str.strip().str.lower().map(mapping)
    out[LABEL] = deduplicated["churn"].str.strip().str.lower().map({"yes": 1, "no": 0}).astype("Int64")
    valid = out.notna().all(axis=1)
    for column, (low, high) in RANGES.items():
        valid &= out[column].between(low, high)
    typed = out[valid].astype({c: dtype for c, (_, dtype) in SCHEMA.items() if c in out.columns})
    report = CleaningReport(
        raw_rows=len(raw),
        duplicates_dropped=len(raw) - len(deduplicated),
        invalid_dropped=int((~valid).sum()),
        rows=len(typed),
    )
    return typed.reset_index(drop=True), report


def split(customers: pd.DataFrame, test_fraction: float, seed: int) -> pd.DataFrame:
    """Adds the ``split`` column: a seeded, stratified-by-label train/test assignment."""
    rng = np.random.default_rng(seed + 1)
    labels = customers[LABEL].to_numpy()
    assignment = np.full(len(customers), "train", dtype=object)
    for label in (0, 1):
        index = np.flatnonzero(labels == label)
        test = rng.choice(index, round(len(index) * test_fraction), replace=False)
        assignment[test] = "test"
    return customers.assign(**{SPLIT: assignment})


def prepare(rows: int, seed: int, test_fraction: float = 0.25) -> tuple[pd.DataFrame, CleaningReport]:
    """Raw -> clean -> split -> validated: the customers table's content."""
    customers, report = clean(generate_raw(rows, seed))
    customers = split(customers, test_fraction, seed)[list(SCHEMA)]
    validate(customers)
    return customers, report


def fingerprint(customers: pd.DataFrame) -> str:
    """A content hash that proves two preparations produced the same data."""
    return hashlib.sha256(pd.util.hash_pandas_object(customers, index=False).to_numpy().tobytes()).hexdigest()


def validate(customers: pd.DataFrame, *, what: str = "customers data", min_rows: int = MIN_ROWS) -> None:
    """Schema, row count, nulls, ranges, categories, both labels present: every problem, at once."""
    problems: list[str] = []
    missing = [c for c in SCHEMA if c not in customers.columns]
    extra = [c for c in customers.columns if c not in SCHEMA]
    if missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected columns: {', '.join(extra)}")
    if len(customers) < min_rows:
        problems.append(f"{len(customers)} rows, at least {min_rows} expected")
    for column, (_, dtype) in SCHEMA.items():
        if column not in customers.columns:
            continue
        values = customers[column]
        nulls = int(values.isna().sum())
        if nulls:
            problems.append(f"column '{column}': {nulls} null values")
        if dtype != "object" and not _is_dtype(values, dtype):
            problems.append(f"column '{column}': type {values.dtype}, expected {dtype}")
            continue
        if column in RANGES:
            low, high = RANGES[column]
            outside = int((~values.dropna().between(low, high)).sum())
            if outside:
                problems.append(f"column '{column}': {outside} values outside {low:g}..{high:g}")
        if column in CATEGORIES:
            unknown = sorted(set(values.dropna()) - set(CATEGORIES[column]))
            if unknown:
                problems.append(f"column '{column}': unknown values {', '.join(map(str, unknown[:5]))}")
    if "customer_id" in customers.columns:
        duplicated = int(customers["customer_id"].duplicated().sum())
        if duplicated:
            problems.append(f"column 'customer_id': {duplicated} duplicated ids")
    if LABEL in customers.columns and customers[LABEL].nunique() < 2:
        problems.append(f"column '{LABEL}': only one class present, a model needs both")
    if problems:
        raise DataValidationError(what, problems)


def _is_dtype(values: pd.Series, dtype: str) -> bool:
    if dtype == "int64":
        return pd.api.types.is_integer_dtype(values)
    return pd.api.types.is_float_dtype(values) or pd.api.types.is_integer_dtype(values)
