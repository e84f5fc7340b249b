"""The Pareto front and budgets on synthetic points (the sweep's report rests on them)."""
from facelm.explore.pareto import Budgets, SweepPoint, best_under, front, mark_fronts


def _p(name, nme, ms, mb=1.0, miss=0.0, **kw):
    return SweepPoint(checkpoint=f"{name}.pt", imgsz=128, precision="int8", nme=nme, ms=ms, size_mb=mb, miss=miss, **kw)


def test_front_membership():
    pts = [_p("a", 5.0, 10.0), _p("b", 6.0, 5.0), _p("c", 7.0, 2.0),   # the front, a staircase
           _p("d", 6.5, 6.0),                                          # dominated by b
           _p("e", 5.0, 12.0),                                         # dominated by a (same NME, slower)
           _p("f", 7.0, 2.0),                                          # a tie with c: neither dominates
           _p("g", None, 1.0), _p("h", 4.0, None)]                     # incomplete: never on the front
    assert front(pts, "ms") == [True, True, True, False, False, True, False, False]


def test_fronts_per_axis_and_errors():
    pts = mark_fronts([_p("a", 5.0, 10.0, mb=8.0), _p("b", 6.0, 5.0, mb=2.0), _p("c", 5.5, 20.0, mb=1.0),
                       _p("x", None, None, error="boom")])
    assert [p.front_ms for p in pts] == [True, True, False, False]
    assert [p.front_mb for p in pts] == [True, False, True, False]  # c is smaller and better than b


def test_best_under_budgets():
    pts = [_p("a", 5.0, 10.0, mb=8.0, gflops=2.0), _p("b", 6.0, 5.0, mb=2.0, gflops=0.5),
           _p("c", 4.0, 3.0, mb=1.0, miss=1.0, gflops=0.3)]
    assert best_under(pts, Budgets(ms=12)).checkpoint == "a.pt"        # c misses a face: it ranks last
    assert best_under(pts, Budgets(ms=6, mb=4)).checkpoint == "b.pt"
    assert best_under(pts, Budgets(gflops=0.4)).checkpoint == "c.pt"
    assert best_under(pts, Budgets(ms=1)) is None
    assert not Budgets() and Budgets(mb=3).describe() == "MB <= 3"


def test_latency_from_several_machines_is_labelled():
    from facelm.explore.report import table

    one = [_p("a", 5.0, 1.0, cpu="X"), _p("b", 6.0, 2.0, cpu="X")]
    two = [_p("a", 5.0, 1.0, cpu="X"), _p("b", 6.0, 2.0, cpu="Y")]
    assert "timed on" not in table(one) and "timed on" in table(two)


def test_miss_budget_keeps_face_droppers_off_the_front_and_the_pick():
    # d is fastest and "most accurate" because it dropped 36% of the faces (hard ones): without a
    # miss budget it would be on the latency front and dominate a
    pts = mark_fronts([_p("a", 5.0, 10.0), _p("b", 6.0, 5.0), _p("d", 4.5, 4.0, miss=36.0),
                       _p("e", 5.8, 9.0, miss=1.0)])                  # exactly at the budget: stays in
    assert [p.over_miss for p in pts] == [False, False, True, False]
    assert [p.front_ms for p in pts] == [True, True, False, True]
    assert best_under(pts, Budgets(ms=20)).checkpoint == "a.pt"
    strict = mark_fronts(pts, max_miss=0.5)
    assert [p.front_ms for p in strict] == [True, True, False, False] and strict[3].over_miss


def test_a_reference_is_drawn_but_never_competes():
    ref = _p("second", 4.0, 1.0, mb=0.5, reference=True)  # better on every axis: still not on a front
    pts = mark_fronts([_p("a", 5.0, 10.0), ref])
    assert pts[0].front_ms and pts[0].front_mb and not pts[1].front_ms and not pts[1].front_mb
    assert best_under(pts, Budgets(ms=20)).checkpoint == "a.pt"
    assert pts[1].label.startswith("reference second@")
