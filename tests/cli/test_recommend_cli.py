"""``nextbest recommend build`` writes every customer's list; ``show`` prints one."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import app, run, run_json, runner, synth_project

from nextbest.warehouse import Warehouse


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return synth_project(tmp_path_factory.mktemp("project"), 150, 60)


def test_empty_project_says_what_to_do(tmp_path: Path) -> None:
    run_json("init", "--project", tmp_path)
    result = runner.invoke(app, ["recommend", "show", "C000001", "--project", str(tmp_path)])
    assert result.exit_code == 1
    assert "recommend build" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["recommend", "build", "--project", str(tmp_path)])
    assert result.exit_code == 1 and "no product interactions" in result.output


def test_build_then_show(project: Path) -> None:
    built = run_json("recommend", "build", "--k", 4, "--project", project)
    assert built["table"] == "recommendations" and built["rows"] == 4 * built["customers"]
    assert {"personal", "session", "segment"} <= set(built["paths"])
    assert sum(built["paths"].values()) == built["customers"]
    assert Path(built["state"]).exists()
    with Warehouse(project / ".nextbest" / "warehouse.duckdb", read_only=True) as wh:
        table = wh.to_pandas(wh.table("recommendations"))
    firsts = table.drop_duplicates("customer_id").set_index("customer_id")["path"]
    warm, cold = firsts[firsts == "personal"].index[0], firsts[firsts == "segment"].index[0]

    shown = run_json("recommend", "show", warm, "--project", project)
    assert shown["customer_id"] == warm and shown["path"] == "personal"
    assert [r["rank"] for r in shown["recommendations"]] == [1, 2, 3, 4]
    assert all(r["reason"] and r["name"] for r in shown["recommendations"])
    mine = table[table.customer_id == warm].sort_values("rank")
    assert [r["product_id"] for r in shown["recommendations"]] == mine.product_id.tolist()

    two = run_json("recommend", "show", cold, "--k", 2, "--project", project)
    assert two["path"] == "segment" and len(two["recommendations"]) == 2
    assert {r["generator"] for r in two["recommendations"]} == {"popularity"}

    text = run("recommend", "show", warm, "--project", project)
    assert "path: personal" in text and shown["recommendations"][0]["product_id"] in text


def test_unknown_customer_exits_1_with_one_paragraph(project: Path) -> None:
    run_json("recommend", "build", "--k", 3, "--project", project)
    result = runner.invoke(app, ["recommend", "show", "NOBODY", "--project", str(project)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "'NOBODY'" in result.output and "no recommendations" in result.output
    payload = run_json("recommend", "show", "NOBODY", "--project", project, code=1)
    assert payload["error"] == "NotFoundError" and payload["field"] == "CUSTOMER"


def test_bad_as_of_is_a_clear_error(project: Path) -> None:
    result = runner.invoke(
        app, ["recommend", "build", "--as-of", "soon", "--project", str(project)]
    )
    assert result.exit_code == 1 and "--as-of" in result.output


def test_show_with_context_answers_live(project: Path) -> None:
    run_json("recommend", "build", "--k", 5, "--project", project)
    with Warehouse(project / ".nextbest" / "warehouse.duckdb", read_only=True) as wh:
        table = wh.to_pandas(wh.table("recommendations"))
        products = wh.to_pandas(wh.table("products").select("product_id", "name", "category"))
    warm = table[table.path == "personal"].customer_id.iloc[0]
    stored = table[table.customer_id == warm].sort_values("rank").product_id.tolist()
    looking = stored[0]
    name = products.set_index("product_id").name[looking]
    live = run_json(
        "recommend", "show", warm, "--k", 5, "--context", f"product={looking}", "--project", project
    )
    assert live["context"] == {"products": [looking], "category": None}
    ids = [r["product_id"] for r in live["recommendations"]]
    assert looking not in ids and len(ids) == 5 and live["path"] == "personal"
    assert any(r["reason"].endswith(f"together with {name}") for r in live["recommendations"])
    stranger = run_json(
        "recommend", "show", "NEW-VISITOR", "--context", f"product={looking}", "--project", project
    )
    assert stranger["path"] == "session" and stranger["recommendations"]
    category = products.category.dropna().iloc[0]
    browsing = run_json(
        "recommend",
        "show",
        "NEW-VISITOR",
        "--context",
        f"category={category}",
        "--project",
        project,
    )
    assert browsing["path"] == "category"
    cats = products.set_index("product_id").category
    assert cats[[r["product_id"] for r in browsing["recommendations"]]].eq(category).all()
    bad = run_json(
        "recommend", "show", warm, "--context", "colour=red", "--project", project, code=1
    )
    assert bad["field"] == "--context" and "product=ID" in bad["message"] + bad.get("hint", "")


def test_rules_from_the_config_file(tmp_path: Path, project: Path) -> None:
    import shutil

    copy = tmp_path / "p"
    shutil.copytree(project, copy)
    with Warehouse(copy / ".nextbest" / "warehouse.duckdb", read_only=True) as wh:
        products = wh.to_pandas(wh.table("products").select("product_id", "category"))
    blocked = products.category.value_counts().index[0]
    (copy / "nextbest.yaml").write_text(
        f"recommend:\n  rules:\n    blocked_categories: [{blocked}]\n    max_per_category: 2\n"
    )
    run_json("recommend", "build", "--k", 6, "--project", copy)
    with Warehouse(copy / ".nextbest" / "warehouse.duckdb", read_only=True) as wh:
        table = wh.to_pandas(wh.table("recommendations"))
    cats = table.product_id.map(products.set_index("product_id").category)
    assert len(table) and not cats.eq(blocked).any()
    assert cats.groupby(table.customer_id).apply(lambda c: c.value_counts().max()).max() <= 2
    (copy / "nextbest.yaml").write_text("recommend:\n  rules:\n    price_band: [3, 1]\n")
    bad = run_json("recommend", "build", "--project", copy, code=1)
    assert "price_band" in bad["message"] + str(bad.get("field"))
