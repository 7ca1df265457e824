"""bench/campaign.py: a missed headline run leads to a sweep of lower rates only, and a run's
verdict follows its placement lag, lost and duplicated calls."""

from bench.campaign import sweep_rates, verdict


def result(lags: list[float], lost: int = 0, duplicated: int = 0) -> dict:
    return {
        "lags": lags,
        "callback_lags": [0.1, 0.2],
        "placed": len(lags),
        "span": len(lags) / 10,
        "appointments": len(lags),
        "lost": lost,
        "duplicated": duplicated,
        "steps": {"dial_to_connected": 1.0, "menu_to_key": 1.0},
        "peak_live": 40,
        "outcomes": {"confirmed": len(lags)},
    }


def test_the_sweep_runs_only_rates_below_a_missed_headline_lowest_first():
    assert sweep_rates(20, "18,8,12, 10,") == [8, 10, 12, 18]
    assert sweep_rates(12, "8,10,12,14") == [8, 10]
    assert sweep_rates(20, "") == []


def test_a_run_meets_the_goal_only_with_p99_within_two_seconds_and_nothing_lost_or_twice():
    quick = [0.3] * 99 + [1.9]
    assert verdict(result(quick), 10)[0]
    assert not verdict(result([0.3] * 90 + [2.5] * 10), 10)[0]
    assert not verdict(result(quick, lost=1), 10)[0]
    assert not verdict(result(quick, duplicated=1), 10)[0]
    _, reached, rows = verdict(result(quick), 10)
    assert round(reached, 1) == 9.9
    assert rows[-1][1] == "met"
