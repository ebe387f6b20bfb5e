"""The source checks give the same rows, reasons and messages on Spark (local mode) as on
DuckDB: duplicate customers, id normalisation, implausible values, broken CSV lines."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.sources.conftest import read_rejects, rows
from tests.sources.test_plausible_values import SAME_CUSTOMER
from tiers.plugins.sources.quality import SourceError

pytest.importorskip("pyspark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Java is not installed", allow_module_level=True)

HEADER = "order_id,customer_id,amount,order_ts,note\n"


@pytest.fixture(scope="module")
def spark_con():
    from tiers.engine.backends import spark as tiers_spark

    spark = tiers_spark.session(master="local[2]")
    yield tiers_spark.connect_spark(spark)
    spark.stop()


def both(source_from, snippet, spark_con, duck_con, role="orders", order_by="order_id"):
    """(rows, rejects) per engine, for one source declaration."""
    out = []
    for con in (duck_con, spark_con):
        src = source_from(snippet, role=role)
        loaded = rows(src.load(con), order_by)
        rejected = ([(r["line"], r["reason"]) for r in read_rejects(src.report.rejects_file)]
                    if src.report.rejects_file else [])
        out.append((loaded, sorted(rejected, key=lambda x: int(x[0]))))
    return out


def test_checks_agree_on_a_messy_file(tmp_path, source_from, spark_con, con):
    lines = [f'O{i},"{cid}",10,2026-01-01,ok' for i, cid in enumerate(SAME_CUSTOMER)]
    lines += ['X1,"\u200b\u00a0",10,2026-01-01,blank id',
              "X2,C2,1_000,2026-01-01,DuckDB cast reads it",
              "X3,C2,1.5d,2026-01-01,Spark cast reads it",
              "X4,C2,0x1p3,2026-01-01,hex float",
              "X5,C2,10,1899-12-31,too early",
              "X6,C2,10,2200-01-01,too late",
              "X7,C2,10,2026-03-01 24:00:00,hour 24",
              "X8,C2,10,2026-03-01 10,hour only",
              "X9,C2,10,2026-03-01 10:00:00 UTC,zone name"]
    # NUL bytes in the first 256 KiB make the whole file "binary": put them further down
    lines += [f"F{i},C1,10,2026-01-01,{'filler ' * 150}" for i in range(300)]
    lines += ['X10,C2,10,2026-01-01,"pasted \x00 bytes"',
              f"X11,C2,10,2026-01-01,{'y' * 1_200_000}"]
    (tmp_path / "orders.csv").write_text(HEADER + "".join(x + "\n" for x in lines),
                                         encoding="utf-8")
    duck, spark = both(source_from, "type: csv\npath: orders.csv\nallow_future: true\n"
                       "max_reject_share: 0.9", spark_con, con)
    assert spark == duck
    loaded, rejected = duck
    assert {r["customer_id"] for r in loaded} == {"C1"}
    assert dict(rejected) == {
        "14": "missing_customer_id", "15": "unparseable_amount", "16": "unparseable_amount",
        "17": "unparseable_amount", "18": "out_of_range_order_ts",
        "19": "out_of_range_order_ts", "20": "unparseable_order_ts",
        "21": "unparseable_order_ts", "22": "unparseable_order_ts", "323": "binary_content",
        "324": "field_too_large"}


@pytest.mark.parametrize("policy", ["keep_first", "reject"])
def test_duplicate_customers_agree(tmp_path, source_from, spark_con, con, policy):
    (tmp_path / "customers.csv").write_text(
        "customer_id,name\nC1,Ann\nC2,Bo\nC1\u00a0,Ann B.\nC3,Cy\n", encoding="utf-8")
    duck, spark = both(source_from, f"type: csv\npath: customers.csv\nmax_reject_share: 0.9\n"
                       f"duplicate_customer_ids: {policy}", spark_con, con, role="customers",
                       order_by="customer_id")
    assert spark == duck
    expected = ["C1", "C2", "C3"] if policy == "keep_first" else ["C2", "C3"]
    assert [r["customer_id"] for r in duck[0]] == expected


@pytest.mark.parametrize(("bad", "message"), [
    ("O2,C1,5,2026-01-01,x,y\n", "line 52 has 6 fields, the header has 5"),
    ("O2,C1,5\n", "line 52 has 3 fields, the header has 5"),
])
def test_broken_lines_are_named_on_spark_too(tmp_path, source_from, spark_con, bad, message):
    good = "".join(f"O{i},C1,5,2026-01-01,n\n" for i in range(50))
    (tmp_path / "orders.csv").write_text(HEADER + good + bad + good, encoding="utf-8")
    with pytest.raises(SourceError) as err:
        source_from("type: csv\npath: orders.csv").load(spark_con)
    assert message in str(err.value), str(err.value)


def test_a_quoted_line_break_is_explained_on_spark(tmp_path, source_from, spark_con, con):
    good = "".join(f"O{i},C1,5,2026-01-01,n\n" for i in range(5))
    (tmp_path / "orders.csv").write_text(HEADER + good + 'O9,C1,5,2026-01-01,"two\nlines"\n',
                                         encoding="utf-8")
    assert len(rows(source_from("type: csv\npath: orders.csv").load(con))) == 6  # DuckDB
    with pytest.raises(SourceError) as err:
        source_from("type: csv\npath: orders.csv").load(spark_con)
    assert "line 7 holds a quoted value with a line break (the record runs over lines 7-8)" \
        in str(err.value), str(err.value)


@pytest.mark.parametrize("parts", [1, 2])
def test_parquet_files_read_alike(tmp_path, source_from, spark_con, con, parts):
    """Spark's reader takes one path: a single file, or several matched by a glob, are read
    file by file, with the same rows and the same duplicate check as on DuckDB."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for part in range(parts):
        pq.write_table(pa.table({
            "order_id": [f"P{part}-{i}" for i in range(3)] + (["P0-0"] if part else []),
            "customer_id": ["C1", "C2", "C3"] + (["C1"] if part else []),
            "amount": [10.0, 20.0, 30.0] + ([10.0] if part else []),
            "order_ts": [f"2026-01-0{i + 1}" for i in range(3)] + (["2026-01-01"] if part
                                                                     else [])}),
            tmp_path / f"orders-{part}.parquet")
    duck, spark = both(source_from, "type: parquet\npath: orders-*.parquet\n"
                       "max_reject_share: 0.9", spark_con, con)
    assert spark == duck
    loaded, rejected = duck
    assert len(loaded) == 3 * parts
    # the second file repeats the first's first row: set aside on both engines
    assert [reason for _, reason in rejected] == (["duplicate_row_dropped"] if parts == 2
                                                   else [])
