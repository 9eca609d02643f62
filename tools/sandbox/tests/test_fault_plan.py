"""Faults are consumed one call at a time, in the order they were armed."""

from boomerang.sandbox.faults import FaultPlan, FaultRequest


def test_faults_run_out_in_order_per_provider() -> None:
    plan = FaultPlan()
    plan.add(FaultRequest(provider="sendgrid", status=429, count=2, retry_after=1))
    plan.add(FaultRequest(provider="sendgrid", status=503))

    statuses = [getattr(plan.take("sendgrid"), "status", None) for _ in range(4)]

    assert statuses == [429, 429, 503, None]
    assert plan.take("twilio") is None


def test_clear_one_provider() -> None:
    plan = FaultPlan()
    plan.add(FaultRequest(provider="sendgrid", status=500))
    plan.add(FaultRequest(provider="twilio", status=500))

    plan.clear("sendgrid")

    assert plan.take("sendgrid") is None
    assert plan.take("twilio") is not None
