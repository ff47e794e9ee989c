"""`flask costs prices compare FILE`: a small hand-made LiteLLM price map against the catalog."""

from __future__ import annotations

import json

import pytest

# gpt-4o as the catalog prices it ($2.50 in, $1.25 cache read, $10 out per million), but with a
# cache read price LiteLLM would bill at half; claude-sonnet-4-5 agreeing to the digit; a model the
# catalog does not know; an image model (not priced per token).
MAP = {
    "sample_spec": {"input_cost_per_token": 0},
    "gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2.5e-06,
               "output_cost_per_token": 1e-05, "cache_read_input_token_cost": 6.25e-07},
    "claude-sonnet-4-5": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 3e-06,
                          "output_cost_per_token": 1.5e-05, "cache_read_input_token_cost": 3e-07,
                          "cache_creation_input_token_cost": 3.75e-06,
                          "input_cost_per_token_above_200k_tokens": 6e-06,
                          "output_cost_per_token_above_200k_tokens": 2.25e-05,
                          "cache_read_input_token_cost_above_200k_tokens": 6e-07,
                          "cache_creation_input_token_cost_above_200k_tokens": 7.5e-06},
    "my-finetune-1": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06,
                      "output_cost_per_token": 2e-06},
    "dall-e-3": {"litellm_provider": "openai", "mode": "image_generation", "output_cost_per_image": 0.04},
}


@pytest.fixture
def price_map(tmp_path):
    path = tmp_path / "model_prices_and_context_window.json"
    path.write_text(json.dumps(MAP))
    return path


def test_compare_lists_where_the_catalogs_disagree_with_the_prices_behind(runner, price_map):
    result = runner.invoke(args=["costs", "prices", "compare", str(price_map)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "2 models priced by both (1 LiteLLM entries the catalog does not price)" in lines[0]
    [row] = [line for line in lines if line.startswith("openai/gpt-4o ")]
    # 10,000 in of which 8,000 cached, 1,000 out: catalog 2,000 × 2.5 + 8,000 × 1.25 + 1,000 × 10 = $0.025;
    # LiteLLM 2,000 × 2.5 + 8,000 × 0.625 + 1,000 × 10 = $0.02 per million → −20%.
    assert "cache reads" in row and "0.025" in row and "0.02 " in row and "-20.0%" in row
    assert "cache read 1.25" in row and "cache read 0.625" in row
    assert not [line for line in lines if "claude-sonnet-4-5" in line]  # agrees, long context included
    assert "1 costs differ by more than 1%." in result.output


def test_a_wide_tolerance_lists_nothing(runner, price_map):
    result = runner.invoke(args=["costs", "prices", "compare", str(price_map), "--tolerance", "25"])
    assert result.exit_code == 0 and "No cost differs by more than 25%." in result.output


def test_a_file_that_is_not_a_price_map_is_a_usage_error(runner, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    assert runner.invoke(args=["costs", "prices", "compare", str(bad)]).exit_code == 2
    bad.write_text("{not json")
    assert runner.invoke(args=["costs", "prices", "compare", str(bad)]).exit_code == 2
