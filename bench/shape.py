"""The shape of the data a benchmark runs on: how many companies, users, assistants, endpoints and
models, how unevenly activity spreads over them, and how much of the traffic fails, is unpriced
or arrives late. Presets are chosen with ``BENCH_SHAPE`` (:mod:`bench.config` reads the
environment); :mod:`bench.organisation` builds the organisation a shape describes.

Skews are Zipf exponents: the k-th most active of n users makes calls in proportion to
``1 / k ** user_skew`` (0: all alike; 1: the top 1% of 10,000 users make about half the calls).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from bench.llms import PRICED


@dataclass(frozen=True)
class Shape:
    preset: str  # the preset it started from
    companies: int
    users: int
    assistants: int
    endpoints: int  # distinct endpoint paths, shared by the assistants of every company
    models: int  # distinct priced models (the first of bench.llms.PRICED), each under its spellings
    days: int = 90
    user_skew: float = 0.8
    assistant_skew: float = 0.9
    company_skew: float = 1.0  # company sizes (users, assistants) by rank
    failure_rate: float = 0.03
    unpriced_share: float = 0.007  # calls to a model the catalog does not know (bench.llms.UNKNOWN)
    late_share: float = 0.02  # live HTTP calls stamped hours to days in the past
    seed: int = 4
    customised: tuple[str, ...] = ()  # the parameters set over the preset's

    def __post_init__(self) -> None:
        if problem := self.problem():
            raise ValueError(problem)

    def problem(self) -> str | None:
        """What makes the shape unusable, or None."""
        if self.companies < 1:
            return "companies must be at least 1"
        if self.users < self.companies:
            return f"users ({self.users}) must be at least companies ({self.companies}): each company has a user"
        if self.assistants < self.companies:
            return (f"assistants ({self.assistants}) must be at least companies ({self.companies}): "
                    "each company has an assistant")
        if not 1 <= self.endpoints:
            return "endpoints must be at least 1"
        if not 5 <= self.models <= len(PRICED):
            return f"models must be between 5 (an embedding model among them) and {len(PRICED)}"
        if self.days < 1:
            return "days must be at least 1"
        for name in ("user_skew", "assistant_skew", "company_skew"):
            if not 0 <= getattr(self, name) <= 4:
                return f"{name} must be between 0 and 4"
        for name in ("failure_rate", "unpriced_share", "late_share"):
            if not 0 <= getattr(self, name) < 1:
                return f"{name} must be at least 0 and below 1"
        return None

    @property
    def from_demo(self) -> bool:
        """The demo's fixed organisation (app.demo.COMPANIES) rather than one built to the shape."""
        return self.preset == "demo"

    def describe(self) -> str:
        """Every parameter, for the report: "preset mid, companies 30, users 10,000, …"."""
        def text(value: object) -> str:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return str(value)
            return f"{value:,}" if isinstance(value, int) else f"{value:g}"

        parameters = asdict(self)
        customised = parameters.pop("customised")
        preset = parameters.pop("preset") + (f" (customised: {', '.join(customised)})" if customised else "")
        if self.from_demo:  # the skews are app/demo.py's weights, not these
            preset += " (app/demo.py's organisation and weights)"
            for name in ("user_skew", "assistant_skew", "company_skew"):
                del parameters[name]
        return f"preset {preset}, " + ", ".join(f"{name} {text(value)}" for name, value in parameters.items())


# The shape the benchmark runs by default: a mid-sized organisation.
MID = Shape("mid", companies=30, users=10_000, assistants=500, endpoints=50, models=40)
PRESETS = {
    "mid": MID,
    "large": Shape("large", companies=30, users=50_000, assistants=1_000, endpoints=50, models=40),
    # app/demo.py's three companies, 77 users, 7 assistants, 6 endpoints and 11 models, all priced,
    # nothing late: the data the benchmark ran on before shapes existed.
    "demo": Shape("demo", companies=3, users=77, assistants=7, endpoints=6, models=11, user_skew=0.8,
                  unpriced_share=0.0, late_share=0.0),
}
FIELDS = tuple(f.name for f in fields(Shape))
# The demo preset's organisation is app.demo's: these cannot change it.
FIXED_BY_DEMO = ("companies", "users", "assistants", "endpoints", "models", "user_skew", "assistant_skew",
                 "company_skew")
