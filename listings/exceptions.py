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
