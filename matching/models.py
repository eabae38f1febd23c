"""Matches between offers and demands, their audit trail, sector prospects and full rematches."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from harbors.models import HarborRegion
from listings.models import Demand, Offer, Organization
from symbiosis.db import TimeStampedModel


def _unit_interval(field: str, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__gte": 0}) & Q(**{f"{field}__lte": 1}), name=name
    )


class Stage(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    SHORTLISTED = "shortlisted", _("Shortlisted")
    INTRODUCED = "introduced", _("Introduced")
    NEGOTIATING = "negotiating", _("Negotiating")
    IMPLEMENTED = "implemented", _("Implemented")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class LegalProcedure(models.TextChoices):
    NONE = "none", _("None (domestic or not waste)")
    GENERAL_INFORMATION = "general_information", _("General information (Annex VII)")
    NOTIFICATION = "notification", _("Prior written notification and consent")
    NOTIFICATION_DISPOSAL = "notification_disposal", _("Notification for disposal")
    PROHIBITED = "prohibited", _("Prohibited")


class Response(models.TextChoices):
    PENDING = "", _("No answer yet")
    INTERESTED = "interested", _("Interested")
    NOT_INTERESTED = "not_interested", _("Not interested")


class Match(TimeStampedModel):
    """A scored offer × demand pair and where it stands in the facilitator's pipeline."""

    # No index of their own: the unique (offer, demand) pair and matching_match_demand_idx
    # (demand, -score) serve every lookup by offer or by demand, and a full rematch builds
    # each index of this table once more (matching.run_table).
    offer = models.ForeignKey(
        Offer, on_delete=models.CASCADE, related_name="matches", db_index=False
    )
    demand = models.ForeignKey(
        Demand, on_delete=models.CASCADE, related_name="matches", db_index=False
    )
    score = models.FloatField()
    material_score = models.FloatField()
    quantity_score = models.FloatField()
    distance_score = models.FloatField()
    legal_score = models.FloatField()
    timing_score = models.FloatField()
    distance_km = models.FloatField()
    transport_mode = models.CharField(max_length=20, blank=True)
    cost_eur_per_tonne = models.FloatField(null=True, blank=True)
    co2_kg_per_tonne = models.FloatField(null=True, blank=True)
    tonnes_per_year = models.FloatField(null=True, blank=True)
    legal_procedure = models.CharField(
        max_length=24, choices=LegalProcedure.choices, default=LegalProcedure.NONE
    )
    legal_flags = models.JSONField(default=list, blank=True)
    explanation = models.TextField()
    scoring_version = models.CharField(max_length=20)
    offer_version = models.PositiveIntegerField()
    demand_version = models.PositiveIntegerField()
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.PROPOSED)
    stage_changed_at = models.DateTimeField(null=True, blank=True)
    offer_response = models.CharField(max_length=16, choices=Response.choices, blank=True)
    offer_response_reason = models.TextField(blank=True)
    demand_response = models.CharField(max_length=16, choices=Response.choices, blank=True)
    demand_response_reason = models.TextField(blank=True)
    implemented_tonnes_per_year = models.FloatField(null=True, blank=True)
    implemented_eur_saved_per_year = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-score", "id"]
        verbose_name_plural = "matches"
        constraints = [
            models.UniqueConstraint(fields=["offer", "demand"], name="matching_match_pair_unique"),
            _unit_interval("score", "matching_match_score_range"),
            _unit_interval("material_score", "matching_match_material_score_range"),
            _unit_interval("quantity_score", "matching_match_quantity_score_range"),
            _unit_interval("distance_score", "matching_match_distance_score_range"),
            _unit_interval("legal_score", "matching_match_legal_score_range"),
            _unit_interval("timing_score", "matching_match_timing_score_range"),
            models.CheckConstraint(
                condition=Q(distance_km__gte=0), name="matching_match_distance_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(stage__in=Stage.values), name="matching_match_stage_valid"
            ),
            models.CheckConstraint(
                condition=Q(legal_procedure__in=LegalProcedure.values),
                name="matching_match_legal_procedure_valid",
            ),
            models.CheckConstraint(
                condition=Q(offer_response__in=Response.values)
                & Q(demand_response__in=Response.values),
                name="matching_match_response_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["stage", "-score", "id"], name="matching_match_queue_idx"),
            # The facilitator queue walks this index in order and stops after one page: keyset
            # pagination on (-score, id), never OFFSET and never a count (bench_portal).
            models.Index(fields=["-score", "id"], name="matching_match_rank_idx"),
            models.Index(fields=["demand", "-score"], name="matching_match_demand_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.offer} → {self.demand} ({self.score:.2f})"


class MatchEvent(models.Model):
    """Append-only audit trail of a match: who did what, when, with a note."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        STAGE = "stage", _("Stage changed")
        RESPONSE = "response", _("Company answered")
        NOTE = "note", _("Note")
        REMINDER = "reminder", _("Reminder sent")

    class Side(models.TextChoices):
        OFFER = "offer", _("Offering organisation")
        DEMAND = "demand", _("Demanding organisation")

    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="match_events",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    from_stage = models.CharField(max_length=12, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=12, choices=Stage.choices, blank=True)
    note = models.TextField(blank=True)
    # Which organisation a reminder went to; empty for every other kind of event.
    side = models.CharField(max_length=6, choices=Side.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["created", "stage", "response", "note", "reminder"]),
                name="matching_matchevent_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(side__in=["", "offer", "demand"]),
                name="matching_matchevent_side_valid",
            ),
            # A side of a match is reminded once, ever: the database says no to a second one.
            models.UniqueConstraint(
                fields=["match", "side"],
                condition=Q(kind="reminder"),
                name="matching_matchevent_one_reminder_per_side",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "created_at"], name="matching_matchevent_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.match_id} {self.kind} {self.from_stage}→{self.to_stage}"


class Prospect(TimeStampedModel):
    """An organisation that posted no matching demand but whose sector could use an offer."""

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="prospects")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="prospects"
    )
    score = models.FloatField()
    sector_score = models.FloatField()
    distance_km = models.FloatField()
    legal_procedure = models.CharField(
        max_length=24, choices=LegalProcedure.choices, default=LegalProcedure.NONE
    )
    rank = models.PositiveIntegerField()
    explanation = models.TextField()
    scoring_version = models.CharField(max_length=20)

    class Meta:
        ordering = ["offer", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["offer", "organization"], name="matching_prospect_pair_unique"
            ),
            _unit_interval("score", "matching_prospect_score_range"),
            _unit_interval("sector_score", "matching_prospect_sector_score_range"),
            models.CheckConstraint(
                condition=Q(rank__gte=1), name="matching_prospect_rank_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.offer} → {self.organization} (#{self.rank})"


class MatchingRun(TimeStampedModel):
    """A full rematch, fanned out in chunks, with its progress."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="matching_runs",
    )
    scoring_version = models.CharField(max_length=20)
    total_chunks = models.PositiveIntegerField(default=0)
    done_chunks = models.PositiveIntegerField(default=0)
    total_listings = models.PositiveIntegerField(default=0)
    matches_written = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "running", "done", "failed"]),
                name="matching_matchingrun_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(done_chunks__lte=models.F("total_chunks")),
                name="matching_matchingrun_progress_bounded",
            ),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.status})"

    @property
    def progress(self) -> float:
        return self.done_chunks / self.total_chunks if self.total_chunks else 0.0


class MatchingRunChunk(models.Model):
    """One chunk of offers in a full rematch. Marking it done is idempotent, so a chunk that a
    killed worker's redelivery runs twice still counts once."""

    run = models.ForeignKey(MatchingRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_offer_id = models.BigIntegerField()
    last_offer_id = models.BigIntegerField()
    done_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # When its task was last queued: the runs sweeper re-queues a chunk that neither the worker
    # nor the broker's redelivery finished long after that (``services.matching_runs_sweep``).
    queued_at = models.DateTimeField(null=True, blank=True)
    # The chunk's pairs in their demand's top K among its offers, packed (demand id, offer id,
    # score), set once the chunk's engine has run and cleared when the run ends: the other
    # chunks leave out pairs that cannot make a demand's top K (``services._OtherChunksTops``).
    demand_top_pairs = models.BinaryField(null=True, blank=True, editable=False)
    # Every other chunk had published its top pairs when this one wrote: each row it wrote is
    # in its offer's or its demand's global top K. When all chunks did, the finish has nothing
    # to cut and skips reading the run table back.
    wrote_global_tops = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "index"], name="matching_matchingrunchunk_unique"
            ),
            models.CheckConstraint(
                condition=Q(last_offer_id__gte=models.F("first_offer_id")),
                name="matching_matchingrunchunk_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"Run {self.run_id} chunk {self.index}"


class DigestSent(models.Model):
    """One weekly digest to one organisation. The unique (organisation, week) row is the claim:
    whoever inserts it sends the email, so a digest task run twice sends nothing twice.
    The next digest lists the matches created after this one's ``cutoff``."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="digests")
    week = models.DateField(help_text="The Monday of the ISO week the digest covers.")
    cutoff = models.DateTimeField(help_text="Matches created up to this moment are covered.")
    match_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-week", "organization"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "week"], name="matching_digestsent_once_a_week"
            ),
        ]

    def __str__(self) -> str:
        return f"Digest {self.week} → {self.organization_id}"


class Workshop(TimeStampedModel):
    """A matchmaking event: the "haves and wants" cards its attendees filled in, imported in one
    go, and the matches among the attendees printed for the room."""

    name = models.CharField(max_length=200)
    date = models.DateField()
    region = models.ForeignKey(HarborRegion, on_delete=models.PROTECT, related_name="workshops")
    facilitator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="workshops",
    )
    attendees = models.ManyToManyField(Organization, related_name="workshops", blank=True)
    source_filename = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-date", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.date})"
