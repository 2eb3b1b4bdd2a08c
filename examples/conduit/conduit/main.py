"""The Conduit application: its settings, database, models and resources; pgbe wires the rest."""

from conduit.database import auth, database
from conduit.errors import REALWORLD_ERRORS
from conduit.models import BaseModel
from conduit.resources import RESOURCES
from conduit.settings import get_settings
from pgbe import create_app

app = create_app(
    settings=get_settings(),
    database=database,
    models=BaseModel,
    auth=auth,
    resources=RESOURCES,
    error_shapes={"/api": REALWORLD_ERRORS},
    description="The RealWorld Conduit API, declared with pgbe's generated resources.",
)
