from symbiosis.exceptions import ApplicationError


class MatchNotPermittedError(ApplicationError):
    """The caller may see the match but not do this to it."""

    code = "match_not_permitted"
    http_status = 403


class MatchStageInvalidError(ApplicationError):
    code = "match_stage_invalid"
    http_status = 409


class MatchNoteRequiredError(ApplicationError):
    code = "match_note_required"
    http_status = 400


class MatchOutcomeRequiredError(ApplicationError):
    code = "match_outcome_required"
    http_status = 400
