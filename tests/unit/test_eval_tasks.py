"""The eval task builder on a tiny repository (tests/fixtures/eval_repo): which lines
become tasks of each kind, where the cursor goes, which definitions the oracle shows, and
that the sample is the same for the same seed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codehearth.evaluation.tasks import CompletionTask, build_tasks, share_limit
from codehearth.languages import LanguageRegistry

REPO = Path(__file__).resolve().parents[1] / "fixtures" / "eval_repo"


@pytest.fixture(scope="module")
def registry() -> LanguageRegistry:
    return LanguageRegistry.load()


@pytest.fixture(scope="module")
def every_task(registry: LanguageRegistry) -> dict[str, CompletionTask]:
    return {task.id: task for task in build_tasks(REPO, registry, limit=1000).tasks}


def test_calls_of_symbols_from_other_files_are_cut_before_the_name_and_after_the_paren(
    every_task: dict[str, CompletionTask],
) -> None:
    calls = {
        (task.id, task.expected, task.symbol)
        for task in every_task.values()
        if task.kind != "next_line"
    }
    assert calls == {
        ("shop/orders.py:10:12:before_symbol", "Cart()", "Cart"),
        ("shop/orders.py:12:14:before_symbol", "add_item(name, price)", "add_item"),
        ("shop/orders.py:12:23:after_call", "name, price)", "add_item"),
        (
            "shop/orders.py:14:12:before_symbol",
            "apply_discount(cart.total(), percent)",
            "apply_discount",
        ),
        ("shop/orders.py:14:27:after_call", "cart.total(), percent)", "apply_discount"),
        ("shop/orders.py:14:32:before_symbol", "total(), percent)", "total"),
        ("shop/orders.py:14:38:after_call", "), percent)", "total"),
    }
    # Not tasks: `Cart(` cut after the paren leaves only ")"; `describe(` is defined in
    # the same file; `len(` and `join(` nowhere in the repository; `print(checkout(` is
    # module-level code, outside every function body.


def test_the_oracle_shows_the_called_definition_a_member_under_its_class(
    every_task: dict[str, CompletionTask],
) -> None:
    function = every_task["shop/orders.py:14:27:after_call"].definitions
    assert [(d.path, d.symbol) for d in function] == [("shop/pricing.py", "apply_discount")]
    assert function[0].text.startswith("def apply_discount(price: float, percent: float)")
    assert function[0].text.rstrip().endswith("return round(price * (100 - percent) / 100, 2)")
    (member,) = every_task["shop/orders.py:12:14:before_symbol"].definitions
    assert member.symbol == "Cart.add_item"
    assert member.text.split("\n")[:2] == [
        "class Cart:",
        "    def add_item(self, name: str, price: float, quantity: int = 1) -> None:",
    ]


def test_next_lines_are_code_lines_of_function_bodies_cut_at_their_indentation(
    every_task: dict[str, CompletionTask],
) -> None:
    next_lines = sorted(
        (task.path, task.line + 1, task.column, task.expected)
        for task in every_task.values()
        if task.kind == "next_line"
    )
    in_orders = [row[1:] for row in next_lines if row[0] == "shop/orders.py"]
    assert in_orders == [
        (10, 4, "cart = Cart()"),
        (11, 4, "for name, price in items:"),
        (12, 8, "cart.add_item(name, price)"),
        (14, 4, "return apply_discount(cart.total(), percent)"),
        (18, 4, "lines = [describe(name, price) for name, price in items]"),
        (19, 4, 'return "\\n".join(lines) + f"\\n{len(items)} items, {GREETING}"'),
        (23, 4, 'return f"{name}: {price:.2f}"'),
    ]  # no docstring, comment, blank line, signature or module-level line
    assert len(next_lines) == 12


def test_the_document_is_the_file_with_the_rest_of_the_line_removed(
    every_task: dict[str, CompletionTask],
) -> None:
    task = every_task["shop/orders.py:14:27:after_call"]
    source = (REPO / task.path).read_text(encoding="utf-8")
    lines = task.document(source).split("\n")  # type: ignore[union-attr]
    assert lines[task.line] == "    return apply_discount("
    assert lines[: task.line] == source.split("\n")[: task.line]
    assert lines[task.line + 1 :] == source.split("\n")[task.line + 1 :]
    assert task.document(source.replace("cart.total(), percent", "cart.total()")) is None


def test_the_same_seed_draws_the_same_tasks_in_the_same_order(
    registry: LanguageRegistry,
) -> None:
    first = build_tasks(REPO, registry, limit=6, seed=7)
    again = build_tasks(REPO, registry, limit=6, seed=7)
    other = build_tasks(REPO, registry, limit=6, seed=8)
    assert [t.id for t in first.tasks] == [t.id for t in again.tasks]
    assert [t.id for t in first.tasks] != [t.id for t in other.tasks]
    assert (
        sorted(t.kind for t in first.tasks)
        == ["after_call"] * 2 + ["before_symbol"] * 2 + ["next_line"] * 2
    )
    assert first.candidates == {"before_symbol": 4, "after_call": 3, "next_line": 12}


def test_files_the_index_would_not_read_give_no_tasks(
    registry: LanguageRegistry, tmp_path: Path
) -> None:
    shutil.copytree(REPO, tmp_path / "repo")
    (tmp_path / "repo" / ".gitignore").write_text("shop/orders.py\n", encoding="utf-8")
    tasks = build_tasks(tmp_path / "repo", registry, limit=1000).tasks
    assert tasks and all(task.path == "shop/pricing.py" for task in tasks)
    assert {task.kind for task in tasks} == {"next_line"}  # pricing.py calls nothing of orders


@pytest.mark.parametrize(
    ("limit", "available", "expected"),
    [
        pytest.param(
            9,
            {"before_symbol": 50, "after_call": 50, "next_line": 50},
            {"before_symbol": 3, "after_call": 3, "next_line": 3},
            id="thirds",
        ),
        pytest.param(
            10,
            {"before_symbol": 50, "after_call": 50, "next_line": 50},
            {"before_symbol": 4, "after_call": 3, "next_line": 3},
            id="remainder-to-the-first-kind",
        ),
        pytest.param(
            9,
            {"before_symbol": 1, "after_call": 0, "next_line": 50},
            {"before_symbol": 1, "after_call": 0, "next_line": 8},
            id="what-a-kind-lacks-goes-to-the-others",
        ),
        pytest.param(
            30,
            {"before_symbol": 2, "after_call": 1, "next_line": 4},
            {"before_symbol": 2, "after_call": 1, "next_line": 4},
            id="fewer-candidates-than-the-limit",
        ),
        pytest.param(
            0,
            {"before_symbol": 5, "after_call": 5, "next_line": 5},
            {"before_symbol": 0, "after_call": 0, "next_line": 0},
            id="zero",
        ),
    ],
)
def test_the_limit_is_shared_between_the_kinds(
    limit: int, available: dict[str, int], expected: dict[str, int]
) -> None:
    assert share_limit(limit, available) == expected
