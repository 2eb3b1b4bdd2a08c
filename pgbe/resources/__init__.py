"""Generated REST resources: declared in a few lines, answered with one SQL statement per request."""

from pgbe.resources.declarations import AccessToken, Caller, SignIn
from pgbe.resources.permissions import Permissions
from pgbe.resources.registry import ResourceRegistry
from pgbe.resources.resource import Resource
from pgbe.resources.routes import Page, install, register
from pgbe.resources.runtime import ResourceRuntime

__all__ = [
    "AccessToken",
    "Caller",
    "Page",
    "Permissions",
    "Resource",
    "ResourceRegistry",
    "ResourceRuntime",
    "SignIn",
    "install",
    "register",
]
