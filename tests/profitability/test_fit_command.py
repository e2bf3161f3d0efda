"""`manage.py fit_clv_models`: on a file (validation against published fits) and on the book (stored)."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from profitability.models import ClvModelFit
from profitability.services import latest_fits

CDNOW = Path(__file__).resolve().parents[1] / "clv" / "data" / "cdnow_summary.csv"


def run(*args: str) -> dict:
    out = StringIO()
    call_command("fit_clv_models", *args, stdout=out)
    return json.loads(out.getvalue())


def test_it_fits_a_summary_file_and_prints_the_published_cdnow_estimates(tmp_path):
    # The fixture has a customer_id column first; the command reads columns by name.
    result = run("--summary-csv", str(CDNOW), "--time-unit", "weeks")
    bg = result["bg_nbd"]
    assert {k: round(v, 3) for k, v in bg["params"].items()} == {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert round(bg["log_likelihood"], 1) == -9582.4
    assert bg["n"] == 2357 and bg["time_unit"] == "weeks"
    gg = result["gamma_gamma"]["params"]
    assert (round(gg["p"], 2), round(gg["q"], 2)) == (6.25, 3.74)
    assert gg["gamma"] == pytest.approx(15.44, abs=0.01)


def test_it_fits_a_survival_file_with_fader_and_hardies_estimates(tmp_path):
    survival = tmp_path / "regular.csv"
    survival.write_text("period,alive\n" + "\n".join(
        f"{t},{n}" for t, n in enumerate([1000, 631, 468, 382, 326, 289, 262, 241])))
    params = run("--survival-csv", str(survival))["sbg"]["params"]
    assert (round(params["alpha"], 3), round(params["beta"], 3)) == (0.704, 1.182)


def test_it_names_the_row_and_column_of_bad_input(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("frequency,recency,T\n1,2,3\n2,abc,5\n")
    with pytest.raises(CommandError, match=r"line 3, column 'recency'"):
        run("--summary-csv", str(bad))


@pytest.mark.django_db
def test_it_fits_the_book_and_stores_the_parameters():
    from django.core.management import call_command as cc

    cc("seed_demo", accounts=300, seed=3, reset=True, stdout=StringIO())
    result = run()
    assert set(result) == {"bg_nbd", "gamma_gamma", "sbg"}
    assert ClvModelFit.objects.count() == 3
    stored = latest_fits()
    assert stored["bg_nbd"] == result["bg_nbd"]["params"]
    assert all(value > 0 for value in stored["bg_nbd"].values())
    assert result["bg_nbd"]["converged"] is True  # the demo book has real dropout heterogeneity
    assert "spend_frequency_correlation" in result["gamma_gamma"]
