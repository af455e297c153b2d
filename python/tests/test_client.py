"""mc2.Client against a live service: types survive a round trip, results equal the CLI's and
pandas' own, two parties join, and each error surfaces as its exception with mc2's message."""
import datetime
import decimal
import os
import subprocess
import warnings

import pandas as pd
import pytest

import mc2
from conftest import MC2

D = decimal.Decimal


def mixed_frame():
    """NULLs in every column; dates, decimals, strings (empty, with commas and quotes)."""
    return pd.DataFrame({
        "id": pd.array([1, 2, 3, 4], dtype="Int64"),
        "qty": pd.array([10, None, -3, 7], dtype="Int64"),
        "price": [1.5, 2.25, None, -0.125],
        "amount": [D("12.30"), D("-0.05"), None, D("1000.00")],
        "day": pd.to_datetime(["2024-01-31", None, "1999-12-31", "2026-02-28"]),
        "name": ["plain", "", None, 'a, "quoted" one'],
        "ok": pd.array([True, False, None, True], dtype="boolean"),
    })


def test_attest_warns_on_simulation(bank_a):
    with pytest.warns(mc2.SimulationWarning):
        info = bank_a.attest()
    assert info["simulation"] is True
    assert len(info["measurement"]) == 64 and len(info["instance"]) == 64
    assert bank_a.party == "bank-a" and bank_a.consortium == "py-test"


def test_upload_round_trip_types(bank_a, service, tmp_path):
    df = mixed_frame()
    up = bank_a.upload(df, "mixed")
    assert up == {"rows": 4, "version": 1}
    got = bank_a.sql("SELECT * FROM mixed ORDER BY id")
    assert list(got.columns) == list(df.columns)
    assert got["id"].tolist() == [1, 2, 3, 4]
    assert got["qty"].isna().tolist() == [False, True, False, False]
    assert got["qty"].dropna().tolist() == [10, -3, 7]
    assert got["price"].isna().tolist() == [False, False, True, False]
    assert got["price"].dropna().tolist() == [1.5, 2.25, -0.125]
    assert got["amount"].tolist() == [D("12.30"), D("-0.05"), None, D("1000.00")]
    assert got["day"].isna().tolist() == [False, True, False, False]
    assert [d.date() for d in got["day"].dropna()] == [
        datetime.date(2024, 1, 31), datetime.date(1999, 12, 31), datetime.date(2026, 2, 28)]
    assert got["name"].tolist() == ["plain", "", None, 'a, "quoted" one']
    assert got["ok"].tolist() == [True, False, pd.NA, True]
    # The same query through the CLI gives the same bytes as download(out=...).
    q = "SELECT id, qty, amount, day, name FROM mixed ORDER BY id"
    jid = bank_a.submit_sql(q)
    bank_a.download(jid, out=tmp_path / "py.csv")
    cli = subprocess.run([MC2, "sql", "--home", service.home("bank-a"), "--csv", q],
                         capture_output=True, check=True).stdout
    assert (tmp_path / "py.csv").read_bytes() == cli
    assert oct((tmp_path / "py.csv").stat().st_mode & 0o777) == "0o600"


def test_schema_override_and_csv_path(bank_a, tmp_path):
    p = tmp_path / "rates.csv"
    p.write_text("grade,rate\nA,1.25\nB,2.50\n")
    bank_a.upload(str(p), "rates", schema={"rate": "DECIMAL(5,2)"})
    got = bank_a.sql("SELECT grade, rate FROM rates ORDER BY grade")
    assert got["rate"].tolist() == [D("1.25"), D("2.50")]
    assert got["grade"].tolist() == ["A", "B"]


def test_wide_decimals_exact(bank_a):
    """A 30-digit decimal column is inferred as DECIMAL(30,4), and its SUM (DECIMAL(38,4), past
    int64) comes back exact."""
    big = [D("12345678901234567890123456.7891"), D("-0.0001"), D("99999999999999999999999999.9999")]
    up = bank_a.upload(pd.DataFrame({"k": [1, 1, 2], "v": big}), "wide")
    assert up["rows"] == 3
    got = bank_a.sql("SELECT k, SUM(v) AS s FROM wide GROUP BY k ORDER BY k")
    with decimal.localcontext() as ctx:
        ctx.prec = 50  # Python's default 28 digits would round the expected sum
        want = [big[0] + big[1], big[2]]
    assert got["s"].tolist() == want
    with pytest.raises(mc2.UsageError, match="38 digits"):
        bank_a.upload(pd.DataFrame({"v": [D("1" * 39)]}), "too_wide")


def test_tampered_result_is_refused(bank_a, service):
    """The host flips a byte of a sealed result in its store: download() refuses it with
    mc2.AuthError (the client authenticates every block and chunk), never returns altered
    rows."""
    bank_a.upload(pd.DataFrame({"k": list(range(100))}), "sealed_rows")

    def files():
        out = {}
        for root, _, names in os.walk(service.dir):
            for n in names:
                p = os.path.join(root, n)
                out[p] = os.stat(p).st_mtime_ns
        return out

    before = files()
    jid = bank_a.submit_sql("SELECT k, k * 2 AS d FROM sealed_rows")
    assert bank_a.wait(jid, 60).startswith("done")
    new = [p for p, t in files().items() if before.get(p) != t and p.endswith(".mc2t")]
    assert len(new) == 1, new  # the job's one result object
    with open(new[0], "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(size // 2)
        byte = f.read(1)
        f.seek(size // 2)
        f.write(bytes([byte[0] ^ 0x01]))
    with pytest.raises(mc2.AuthError) as e:
        bank_a.download(jid)
    assert e.value.code == 4 and "does not authenticate" in e.value.message


def test_two_party_join_equals_pandas(bank_a, bank_b):
    acc = pd.DataFrame({"acct": pd.array([1, 2, 3, 4, 5], dtype="Int64"),
                        "owner": ["ann", "bob", "cy", "di", "ed"]})
    txn = pd.DataFrame({"acct": pd.array([1, 1, 2, 4, 4, 4, 9], dtype="Int64"),
                        "amt": [10.0, 5.5, -2.0, 1.0, 2.0, 3.0, 100.0]})
    bank_a.upload(acc, "acc")
    bank_b.upload(txn, "txn")
    q = ("SELECT a.acct, a.owner, t.amt FROM acc a JOIN txn t ON a.acct = t.acct "
         "ORDER BY a.acct, t.amt")
    jid = bank_a.submit_sql(q, inputs={"acc": "bank-a/acc", "txn": "bank-b/txn"})
    assert bank_a.wait(jid, timeout=0).startswith("waiting")
    with pytest.raises(mc2.NotFoundError) as e:
        bank_a.download(jid)
    assert "no result yet" in e.value.message
    jobs = bank_a.jobs()
    assert jid in jobs["id"].tolist()
    bank_b.approve(jid)
    got = bank_a.download(jid)
    want = acc.merge(txn, on="acct").sort_values(["acct", "amt"]).reset_index(drop=True)
    assert got["acct"].tolist() == want["acct"].tolist()
    assert got["owner"].tolist() == want["owner"].tolist()
    assert got["amt"].tolist() == want["amt"].tolist()
    assert "kind sql" in bank_a.job(jid)["text"]
    tabs = bank_a.tables()
    assert {("bank-a", "acc"), ("bank-b", "txn")} <= set(zip(tabs["owner"], tabs["name"]))
    assert tabs.set_index(["owner", "name"]).loc[("bank-b", "txn"), "rows"] == 7


def test_errors_carry_mc2_code_and_message(bank_a, bank_b, service):
    bank_a.upload(pd.DataFrame({"k": [1]}), "once")
    with pytest.raises(mc2.ExistsError) as e:
        bank_a.upload(pd.DataFrame({"k": [2]}), "once")
    assert e.value.code == 6 and "replace" in e.value.message
    assert bank_a.upload(pd.DataFrame({"k": [2]}), "once", replace=True)["version"] == 2
    with pytest.raises(mc2.NotFoundError) as e:
        bank_a.sql("SELECT * FROM no_such_table")
    assert e.value.code == 9 and "no_such_table" in e.value.message
    with pytest.raises(mc2.InputError) as e:
        bank_a.sql("SELEC 1")
    assert e.value.code == 3 and "line 1" in e.value.message
    many = ", ".join(f"t{i}" for i in range(17))  # a job reads at most 16 tables
    with pytest.raises(mc2.LimitError) as e:
        bank_a.sql(f"SELECT 1 FROM {many}")
    assert e.value.code == 8 and "16" in e.value.message
    with pytest.raises(mc2.InputError) as e:  # binds only in the enclave: the job fails
        bank_a.sql("SELECT nosuchcol FROM once")
    assert "failed" in e.value.message and "nosuchcol" in e.value.message
    jid = bank_a.submit_sql("SELECT k FROM once")
    with pytest.raises(mc2.UsageError) as e:
        bank_b.approve(jid)
    assert e.value.code == 1 and "nothing to approve" in e.value.message
    with pytest.raises(mc2.AuthError) as e:
        mc2.Client(home=service.home("mallory"), service=service.address)
    assert "not a party" in e.value.message
    with mc2.Client(home=service.home("bank-a"), service="127.0.0.1:1") as nowhere:
        with pytest.raises(mc2.IOFailure) as e:
            nowhere.attest()
    assert e.value.code == 2 and "127.0.0.1:1" in e.value.message
    with pytest.raises(mc2.UsageError):
        bank_a.upload(pd.DataFrame({"bad name": [1]}), "x")
    with pytest.raises(mc2.InputError) as e:
        bank_a.upload(pd.DataFrame({"k": [1]}), "t2", schema={"k": "INTT"})
    assert "INTT" in e.value.message
    assert isinstance(e.value, ValueError)  # and an mc2.Error


def test_thin_verbs(service, tmp_path):
    conf = tmp_path / "mc2.yaml"
    conf.write_text(f"home: {service.home('bank-b')}\nservice: {service.address}\n")
    assert mc2.set_config(str(conf))["service"] == service.address
    mc2.init()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mc2.SimulationWarning)
        assert mc2.start()["simulation"]
    mc2.upload(pd.DataFrame({"x": [3, 1, 2]}), "verbs")
    got = mc2.run("SELECT SUM(x) AS s FROM verbs")
    assert got["s"].tolist() == [6]
    jid = mc2.Client(home=service.home("bank-b")).submit_sql("SELECT x FROM verbs ORDER BY x")
    assert mc2.download(jid)["x"].tolist() == [1, 2, 3]
    mc2.stop()
    with pytest.raises(mc2.UsageError):
        mc2.run("SELECT 1")


def test_empty_result_and_repeated_columns(bank_a):
    bank_a.upload(pd.DataFrame({"k": [1, 2], "s": ["x", "y"]}), "small")
    empty = bank_a.sql("SELECT k, s FROM small WHERE k > 100")
    assert list(empty.columns) == ["k", "s"] and len(empty) == 0
    two = bank_a.sql("SELECT k, k FROM small ORDER BY k")
    assert two.shape == (2, 2)
    assert two.iloc[:, 0].tolist() == [1, 2] and two.iloc[:, 1].tolist() == [1, 2]
