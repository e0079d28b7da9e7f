"""benchmarks.floor: the floor of an iteration is its products and draws, called as it calls them."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

# the benchmarks live in the clone, not in the installed package
_spec = importlib.util.spec_from_file_location("floor", Path(__file__).parents[1] / "benchmarks" / "floor.py")
floor = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(floor)
floor_of, recorded = floor.floor_of, floor.recorded


def an_iteration():
    """Products of three layouts and kinds, a draw, and elementwise work the floor leaves out."""
    w = torch.ones(8, 3)
    x = torch.randn(5, 8)
    h = torch.addmm(torch.zeros(3), x, w).relu_()
    y = torch.mm(h.T, torch.ones(5, 4))
    return torch.bmm(y.expand(2, 3, 4), torch.ones(2, 4, 6)).tanh_()


def test_the_floor_makes_the_products_and_draws_of_the_iteration_with_their_layouts_and_nothing_else():
    ops = recorded(an_iteration)
    assert [name for name, _ in ops] == ["aten::normal_", "aten::addmm", "aten::mm", "aten::bmm"]
    assert ops[2][1][0] == ([3, 5], [1, 3])     # h.T as the iteration hands it over: transposed
    assert ops[3][1][0] == ([2, 3, 4], [0, 4, 1])   # expanded over the batch
    assert recorded(floor_of(an_iteration)) == ops


def test_an_iteration_with_no_product_or_draw_has_no_floor():
    with pytest.raises(ValueError, match="no matrix product or draw"):
        floor_of(lambda: torch.ones(3).tanh_())


def test_the_floor_tells_onednn_s_product_with_a_sum_in_its_epilogue_from_its_plain_product():
    x, w, other = torch.randn(32, 16), torch.randn(24, 16), torch.randn(32, 24)

    def iteration():
        floor.DNN_LINEAR(x, w, None, "tanh", [], "")
        return floor.DNN_LINEAR_BINARY(x, other, w, None, "add")

    ops = recorded(iteration)
    assert [name for name, _ in ops] == [floor.LINEAR, floor.BINARY]
    assert ops[1][1] == [([32, 16], [16, 1]), ([32, 24], [24, 1]), ([24, 16], [16, 1])]
    assert recorded(floor_of(iteration)) == ops
