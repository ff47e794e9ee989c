"""The benchmark's settings from the environment: the shape presets, the variables over them, and
clear refusals of values that cannot be used."""

from __future__ import annotations

import pytest

from bench.config import BenchConfig, BenchConfigError, ScalingConfig
from bench.shape import MID, PRESETS


def test_the_default_shape_is_mid():
    config = BenchConfig.from_env({})
    assert config.shape == MID and config.shape.preset == "mid" and not config.shape.customised
    assert (MID.users, MID.assistants, MID.endpoints, MID.companies, MID.models) == (10_000, 500, 50, 30, 40)
    assert (config.days, config.seed) == (90, 4)


def test_a_preset_and_variables_over_it():
    config = BenchConfig.from_env({"BENCH_SHAPE": " Large ", "BENCH_USERS": "60_000", "BENCH_ASSISTANTS": "1,200",
                                   "BENCH_ENDPOINTS": "70", "BENCH_MODELS": "20", "BENCH_COMPANIES": "40",
                                   "BENCH_USER_SKEW": "1.1", "BENCH_ASSISTANT_SKEW": "0", "BENCH_DAYS": "120",
                                   "BENCH_SEED": "9"})
    shape = config.shape
    assert shape.preset == "large"
    assert (shape.users, shape.assistants, shape.endpoints, shape.models, shape.companies) == (60_000, 1_200, 70, 20, 40)
    assert (shape.user_skew, shape.assistant_skew, shape.days, shape.seed) == (1.1, 0.0, 120, 9)
    assert set(shape.customised) == {"users", "assistants", "endpoints", "models", "companies", "user_skew",
                                     "assistant_skew"}
    assert "preset large (customised: " in shape.describe() and "users 60,000" in shape.describe()
    assert BenchConfig.from_env({"BENCH_USERS": "10000"}).shape.customised == ()  # the preset's own value


def test_the_demo_preset_keeps_the_demo_organisation():
    demo = BenchConfig.from_env({"BENCH_SHAPE": "demo", "BENCH_FAILURE_RATE": "0.1"}).shape
    assert demo.from_demo and demo.failure_rate == 0.1 and demo.unpriced_share == 0
    with pytest.raises(BenchConfigError, match="BENCH_USERS cannot change BENCH_SHAPE=demo"):
        BenchConfig.from_env({"BENCH_SHAPE": "demo", "BENCH_USERS": "500"})
    assert PRESETS["demo"].users == 77


@pytest.mark.parametrize(("env", "message"), [
    ({"BENCH_SHAPE": "huge"}, "BENCH_SHAPE='huge' is not one of mid, large, demo"),
    ({"BENCH_USERS": "many"}, "BENCH_USERS='many' is not a whole number"),
    ({"BENCH_USERS": "0"}, "BENCH_USERS must be at least 1"),
    ({"BENCH_COMPANIES": "50", "BENCH_USERS": "20"}, "users \\(20\\) must be at least companies \\(50\\)"),
    ({"BENCH_ASSISTANTS": "10"}, "assistants \\(10\\) must be at least companies \\(30\\)"),
    ({"BENCH_MODELS": "99"}, "models must be between 5"),
    ({"BENCH_MODELS": "3"}, "models must be between 5"),
    ({"BENCH_USER_SKEW": "steep"}, "BENCH_USER_SKEW='steep' is not a number"),
    ({"BENCH_ASSISTANT_SKEW": "inf"}, "BENCH_ASSISTANT_SKEW='inf' is not a finite number"),
    ({"BENCH_USER_SKEW": "-1"}, "user_skew must be between 0 and 4"),
    ({"BENCH_UNPRICED_SHARE": "1.5"}, "unpriced_share must be at least 0 and below 1"),
    ({"BENCH_DAYS": "30"}, "BENCH_DAYS must be at least 62"),
])
def test_unusable_values_are_refused_clearly(env, message):
    with pytest.raises(BenchConfigError, match=message):
        BenchConfig.from_env(env)


def test_the_scaling_grid():
    grid = ScalingConfig.from_env({"BENCH_SCALING_CALLS": "1e6, 3_000_000", "BENCH_SCALING_USERS": "1000 10000"})
    assert grid.calls == (1_000_000, 3_000_000) and grid.users == (1_000, 10_000)
    shapes = [grid.shape_for(users) for users in grid.users]
    assert [shape.users for shape in shapes] == [1_000, 10_000]
    assert [shape.assistants for shape in shapes] == [50, 500]  # mid's 500 assistants per 10,000 users
    assert shapes[1].endpoints == 50 and shapes[0].endpoints < 50
    assert ScalingConfig.from_env({}).calls == (1_000_000, 3_000_000)
    assert ScalingConfig.from_env({}).users == (1_000, 10_000, 50_000)
    with pytest.raises(BenchConfigError, match="BENCH_SCALING_USERS"):
        ScalingConfig.from_env({"BENCH_SCALING_USERS": "10, x"})
    with pytest.raises(BenchConfigError, match="demo"):
        ScalingConfig.from_env({"BENCH_SHAPE": "demo"})
