"""Nudges: reminders for unanswered introductions (once per side, ever, even when two runs
race) and the weekly digest of new matches (once per organisation and week)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from matching.models import DigestSent, Match, MatchEvent, Stage
from matching.nudges import digests_send, introductions_remind, week_of
from matching.tasks import digests_send_task, introductions_remind_task
from symbiosis.celery import app as celery_app
from tests.factories import DemandFactory, MembershipFactory, UserFactory
from tests.matching.portal_world import build_world, make_match

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    return build_world()


def _introduce(match: Match, *, days_ago: float) -> Match:
    match.stage = Stage.INTRODUCED
    match.stage_changed_at = timezone.now() - timedelta(days=days_ago)
    match.save()
    return match


def _recipients() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


# --- reminders ------------------------------------------------------------------------------


def test_reminds_both_silent_sides_once(world: dict, django_capture_on_commit_callbacks) -> None:
    MembershipFactory(organization=world["cement"], user=UserFactory(username="bruno"))
    match = _introduce(world["match"], days_ago=settings.MATCHING_REMINDER_DAYS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert introductions_remind() == 2
    assert _recipients() == sorted(
        ["power@example.com", "anna@example.com", "cement@example.com", "bruno@example.com"]
    )
    assert "Cement NL" not in mail.outbox[0].body  # the counterpart stays anonymous
    events = MatchEvent.objects.filter(match=match, kind="reminder")
    assert sorted(events.values_list("side", flat=True)) == ["demand", "offer"]
    with django_capture_on_commit_callbacks(execute=True):
        assert introductions_remind() == 0
    assert len(mail.outbox) == 2


def test_reminds_only_the_side_that_did_not_answer(
    world: dict, django_capture_on_commit_callbacks
) -> None:
    match = _introduce(world["match"], days_ago=10)
    match.offer_response = "interested"
    match.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert introductions_remind() == 1
    assert _recipients() == ["cement@example.com"]
    assert MatchEvent.objects.get(kind="reminder").side == "demand"


@pytest.mark.parametrize(
    ("stage", "days"),
    [("introduced", 6), ("shortlisted", 30), ("negotiating", 30), ("rejected", 30)],
)
def test_no_reminder_too_early_or_in_another_stage(world: dict, stage: str, days: int) -> None:
    match = world["match"]
    match.stage, match.stage_changed_at = stage, timezone.now() - timedelta(days=days)
    match.save()
    assert introductions_remind() == 0
    assert not MatchEvent.objects.exists()


def test_reminder_days_is_a_setting(world: dict, settings) -> None:
    settings.MATCHING_REMINDER_DAYS = 2
    _introduce(world["match"], days_ago=3)
    assert introductions_remind() == 2


def test_a_side_cannot_be_reminded_twice_even_by_hand(world: dict) -> None:
    MatchEvent.objects.create(match=world["match"], kind="reminder", side="offer")
    with pytest.raises(IntegrityError), transaction.atomic():
        MatchEvent.objects.create(match=world["match"], kind="reminder", side="offer")


def test_reminders_work_through_a_backlog_in_batches(world: dict) -> None:
    demand_site = world["demand"].site
    for _ in range(5):
        match = make_match(
            world["offer"], DemandFactory(organization=world["cement"], site=demand_site)
        )
        _introduce(match, days_ago=9)
    assert introductions_remind(limit=2) == 4
    assert introductions_remind(limit=2) == 4
    assert introductions_remind(limit=2) == 2
    assert introductions_remind(limit=2) == 0


def test_reminder_task_calls_the_service(world: dict) -> None:
    _introduce(world["match"], days_ago=8)
    introductions_remind_task()
    introductions_remind_task()
    assert MatchEvent.objects.filter(kind="reminder").count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_skip_locked_rows_and_never_double_send() -> None:
    """While another worker holds the match row, a second run skips it (SKIP LOCKED) rather than
    waiting or reminding twice; once the first commits, nothing is left to send."""
    world = build_world()
    _introduce(world["match"], days_ago=8)
    locked, release, results = threading.Event(), threading.Event(), {}

    def first_worker() -> None:
        try:
            with transaction.atomic():
                Match.objects.select_for_update().get(pk=world["match"].pk)
                locked.set()
                release.wait(10)
                results["first"] = introductions_remind()
        finally:
            connection.close()

    thread = threading.Thread(target=first_worker)
    thread.start()
    assert locked.wait(10)
    results["second"] = introductions_remind()  # the row is locked: skipped, not waited for
    release.set()
    thread.join(10)
    assert results == {"second": 0, "first": 2}
    assert introductions_remind() == 0
    assert MatchEvent.objects.filter(kind="reminder").count() == 2


# --- digests --------------------------------------------------------------------------------


def test_weekly_digest_once_per_week_with_new_matches_only(
    world: dict, django_capture_on_commit_callbacks
) -> None:
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        sent = digests_send(now=now)
    # Power NL and Cement NL (Rotterdam), Steel DE and Recycler DE (Hamburg): one each.
    assert sent == 4
    power = next(m for m in mail.outbox if "power@example.com" in m.to)
    assert "Fly ash" in power.body
    assert "Cement NL" not in power.body  # counterparts stay anonymous
    assert "anna@example.com" in power.to
    with django_capture_on_commit_callbacks(execute=True):
        assert digests_send(now=now + timedelta(hours=1)) == 0  # same week: nothing twice
    assert len(mail.outbox) == 4
    assert DigestSent.objects.count() == 4

    # A week later only the match created since the last digest is listed, to both sides.
    mail.outbox.clear()
    later = now + timedelta(days=7)
    new = make_match(
        world["offer"],
        DemandFactory(organization=world["cement"], site=world["demand"].site, title="Filler"),
    )
    Match.objects.filter(pk=new.pk).update(created_at=later - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert digests_send(now=later) == 2
    assert _recipients() == ["anna@example.com", "cement@example.com", "power@example.com"]
    assert all("1 new match" in m.subject for m in mail.outbox)
    assert all("Cement raw material" not in m.body for m in mail.outbox)


def test_digest_leaves_out_rejected_and_closed(
    world: dict, django_capture_on_commit_callbacks
) -> None:
    Match.objects.filter(pk=world["other"].pk).update(stage=Stage.REJECTED)
    world["cement"].closed_at = timezone.now()
    world["cement"].save()
    with django_capture_on_commit_callbacks(execute=True):
        assert digests_send() == 1
    assert _recipients() == ["anna@example.com", "power@example.com"]


def test_digest_claim_is_unique_per_week(world: dict) -> None:
    week = week_of(timezone.now())
    DigestSent.objects.create(
        organization=world["power"], week=week, cutoff=timezone.now(), match_count=1
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        DigestSent.objects.create(
            organization=world["power"], week=week, cutoff=timezone.now(), match_count=1
        )
    assert week.weekday() == 0


def test_digest_task_calls_the_service(world: dict) -> None:
    digests_send_task()
    digests_send_task()
    assert DigestSent.objects.count() == 4


def test_beat_schedules_the_nudges() -> None:
    schedule = settings.CELERY_BEAT_SCHEDULE
    tasks = {entry["task"] for entry in schedule.values()}
    assert {"matching.introductions_remind", "matching.digests_send"} <= tasks
    celery_app.loader.import_default_modules()
    assert {"matching.introductions_remind", "matching.digests_send"} <= set(celery_app.tasks)
