from symbiosis.exceptions import ApplicationError


class ListingNotPublishableError(ApplicationError):
    code = "listing_not_publishable"
    http_status = 409


class OrganizationNotVerifiedError(ApplicationError):
    code = "organization_not_verified"
    http_status = 409


class ListingClosedError(ApplicationError):
    code = "listing_closed"
    http_status = 409


class OrganizationNotPermittedError(ApplicationError):
    """The user may not do this for the organisation (not an admin member, not its facilitator)."""

    code = "organization_not_permitted"
    http_status = 403


class OrganizationClosedError(ApplicationError):
    code = "organization_closed"
    http_status = 409


class ApiTokenScopeInvalidError(ApplicationError):
    """The scopes asked for do not fit the token's kind (write: organisations; facilitate:
    facilitators) or are empty."""

    code = "api_token_scope_invalid"
    http_status = 400


class ApiTokenNotPermittedError(ApplicationError):
    code = "api_token_not_permitted"
    http_status = 403


class SiteInUseError(ApplicationError):
    code = "site_in_use"
    http_status = 409
